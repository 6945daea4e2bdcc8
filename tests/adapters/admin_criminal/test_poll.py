"""Poll cycles against the police side on the real RabbitMQ: store, then ack; refuse for good
into the DLQ; take a duplicate once; requeue when the bus cannot store."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from adapters._simulators.polling import RecordingPollContext
from adapters.admin_criminal import SPEC, AdminCriminalConfig
from adapters.admin_criminal.simulator import PoliceSide, answer_body
from runner.adapter_api import MessageRejected, RawMessage, TransientError
from runner.dryrun import map_message
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.adapters.admin_criminal.conftest import INBOUND, SAMPLES

pytestmark = pytest.mark.integration

PROJECT = load_project()
PACKAGE = json.loads((SAMPLES / "transfer_package-1.json").read_bytes())


def _check(message: str, raw: RawMessage) -> MessageRejected | None:
    """``PollContext.check`` as the bus does it: the inbound path of ``ebus map``."""
    try:
        result = map_message(PROJECT, "admin_criminal", message, raw)
    except MessageRejected as exc:
        return exc
    return result.rejected[0] if result.rejected else None


def _context() -> RecordingPollContext:
    def no_calls(_call: Any) -> RawMessage:
        raise AssertionError("the admin_criminal poller makes no calls")

    return RecordingPollContext(no_calls, now=dt.datetime.now(SHANGHAI), checker=_check)


def _cycle(
    config: AdminCriminalConfig, ctx: RecordingPollContext | None = None
) -> RecordingPollContext:
    context = ctx or _context()
    SPEC.poll(context, config)
    return context


def _eventually(check: Any, timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_every_sample_is_emitted_with_its_exact_bytes_and_acknowledged(police, config):
    for sample in INBOUND:
        police.publish_sample(sample)
    ctx = _cycle(config)
    assert sorted(ctx.emitted_ids()) == sorted(p.name.split("-")[0] for p in INBOUND)
    assert sorted(raw.body for _, raw in ctx.emitted) == sorted(p.read_bytes() for p in INBOUND)
    assert ctx.rejected == []
    assert police.depth() == 0
    assert police.dead_lettered() == 0


def test_an_emitted_answer_carries_its_amqp_facts_and_maps(police, config):
    police.publish_sample(SAMPLES / "reverse_transfer-2.json")
    ((message, raw),) = _cycle(config).emitted
    assert raw.headers["type"] == "FXYS"
    assert raw.headers["x-app-id"] == "fjga-xxxj"
    assert raw.meta["queue"] == config.receipts_queue
    envelope = map_message(PROJECT, "admin_criminal", message, raw).envelopes[0]
    assert envelope.case_code == "FJ3503222025WJD2331FA3"


@pytest.mark.parametrize(
    ("faults", "rule", "message"),
    [
        pytest.param(
            ("bad_signature",), "bad_signature", "filing_decision", id="a forged signature"
        ),
        pytest.param(("bad_digest",), "bad_body_digest", "filing_decision", id="a changed body"),
        pytest.param(("malformed",), "malformed_json", "filing_decision", id="a truncated body"),
        pytest.param(("unknown_type",), "unknown_msg_type", "receipt_signed", id="an unknown type"),
    ],
)
def test_a_refused_answer_is_dead_lettered_on_both_sides(police, config, faults, rule, message):
    police.answer("filing_decision", PACKAGE, faults=faults)
    ctx = _cycle(config)
    assert ctx.emitted == []
    assert [(m, e.rule) for m, _, e in ctx.rejected] == [(message, rule)]
    assert _eventually(lambda: police.dead_lettered() == 1)
    assert police.depth() == 0


def test_a_duplicate_is_acknowledged_and_forwarded_once(police, config):
    msg_id = police.answer("receipt_signed", PACKAGE, copies=3)
    ctx = _cycle(config)
    assert ctx.emitted_ids() == ["receipt_signed"]
    assert ctx.recall(f"answer:{msg_id}") is not None
    police.answer("receipt_signed", PACKAGE)  # a fresh msgId is a new answer
    _cycle(config, ctx)
    assert ctx.emitted_ids() == ["receipt_signed", "receipt_signed"]
    assert police.depth() == 0
    assert police.dead_lettered() == 0


def test_old_gateway_bodies_and_integer_timestamps_are_taken(police, config):
    police.answer("non_filing_decision", PACKAGE, faults=("old_gateway",))
    police.answer("forward_notice", PACKAGE, faults=("java_ts",))
    ctx = _cycle(config)
    assert ctx.rejected == []
    assert ctx.emitted_ids() == ["non_filing_decision", "forward_notice"]
    old = ctx.emitted[0][1]
    assert old.body.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in old.body
    for message, raw in ctx.emitted:
        assert map_message(PROJECT, "admin_criminal", message, raw).envelopes


class _BrokenStore(RecordingPollContext):
    def emit(self, message_id: str, raw: RawMessage) -> None:
        raise OSError("database is down")


def test_an_answer_the_bus_cannot_store_stays_in_the_queue(police, config):
    police.answer("receipt_signed", PACKAGE)
    broken = _BrokenStore(lambda _c: RawMessage(b""), now=dt.datetime.now(SHANGHAI))
    with pytest.raises(TransientError) as caught:
        SPEC.poll(broken, config)
    assert caught.value.code == "BUS_UNAVAILABLE"
    assert _eventually(lambda: police.depth() == 1)
    ctx = _cycle(config)  # the bus is back: the same answer, stored once
    assert ctx.emitted_ids() == ["receipt_signed"]
    assert police.depth() == 0


def test_a_missing_receipts_queue_is_a_permanent_error(config):
    from runner.adapter_api import PermanentError  # noqa: PLC0415
    from tests.services import require_rabbitmq  # noqa: PLC0415

    require_rabbitmq()
    with pytest.raises(PermanentError) as caught:
        SPEC.poll(_context(), config)  # nobody declared the queue
    assert caught.value.code == "AMQP404"


def test_a_cycle_takes_at_most_max_per_cycle(police: PoliceSide):
    config = police.config.model_copy(update={"max_per_cycle": 2})
    for _ in range(3):
        police.answer("receipt_signed", PACKAGE)
    assert len(_cycle(config).emitted) == 2
    assert len(_cycle(config).emitted) == 1


def test_a_signed_answer_the_bus_cannot_map_is_refused_into_the_dlq(police, config):
    # correctly signed, but its decision time is not a time (README §8: permanent, rejected)
    at = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    msg_id = police.next_msg_id(PACKAGE["fromAgency"]["divisionCode"], at)
    body = answer_body("filing_decision", PACKAGE, at, msg_id)
    police.publish_answer({**body, "decisionTime": "下周一"})
    ctx = _cycle(config)
    assert ctx.emitted == []
    ((message, _, error),) = ctx.rejected
    assert (message, error.field, error.rule) == (
        "filing_decision",
        "decision_time",
        "datetime_format",
    )
    assert _eventually(lambda: police.dead_lettered() == 1)
    assert police.depth() == 0
