"""The adapter against the platform simulator over loopback HTTP: render, frame, send with the
shared HTTP transport, map the answer (README §2.3, §2.5, §5)."""

from __future__ import annotations

import codecs
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters._simulators.http import HttpSimulator, Request, Response
from adapters._transports.http import HttpTransport
from adapters.credit_fj import SPEC
from adapters.credit_fj.simulator import CreditFjPlatform, maintenance, rate_limited, serve
from runner.adapter_api import CallContext, Connection, Outgoing, RawMessage
from runner.dryrun import map_message, render_message
from runner.stamp import now
from tests.adapters.credit_fj.samples import PROJECT, SAMPLES, config, envelope, inputs


@dataclass
class Platform:
    """The simulator, its state and a transport to it."""

    state: CreditFjPlatform
    simulator: HttpSimulator
    transport: Connection

    def call(
        self, message: str, items: list[dict[str, Any]], sequence: int = 1, at: str | None = None
    ) -> Outgoing:
        facts = {"nonce": secrets.token_hex(16), "sequence": str(sequence)}
        if at is not None:
            facts["now"] = at  # the batch number holds the second the call was made
        return render_message(PROJECT, "credit_fj", message, items, facts)

    def send(self, call: Outgoing, answer: str = "push_response") -> Any:
        raw = self.transport.send(call)
        return map_message(PROJECT, "credit_fj", answer, raw)

    def push(self, message: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        result = self.send(self.call(message, items))
        assert result.outcome is not None
        return result.outcome.model_dump(mode="json")

    def resign(self, call: Outgoing, body: bytes | None = None, **changes: Any) -> Outgoing:
        """The same call (or another body) signed anew, as a resend after a timeout is."""
        context = CallContext(now=now(), nonce=secrets.token_hex(16), **changes)
        message = "penalty_push" if call.path.endswith("penalties") else "license_push"
        return SPEC.outgoing(message, call.body if body is None else body, config(), context)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HttpSimulator, Connection, list[CreditFjPlatform]]]:
    """One loopback server for the module (stopping one takes half a second); each test gets
    a fresh platform state behind it."""
    current: list[CreditFjPlatform] = []

    def dispatch(request: Request) -> Response:
        return current[-1].handle(request)

    with HttpSimulator(dispatch) as simulator:
        transport = SPEC.connect(config(simulator.url)) if SPEC.connect else None
        assert transport is not None
        try:
            yield simulator, transport, current
        finally:
            transport.close()


@pytest.fixture
def platform(
    server: tuple[HttpSimulator, Connection, list[CreditFjPlatform]],
) -> Platform:
    simulator, transport, current = server
    current.append(CreditFjPlatform())
    simulator.requests.clear()
    return Platform(current[-1], simulator, transport)


def test_the_simulator_serves_a_platform_on_loopback():
    with serve() as simulator:
        transport = HttpTransport("credit_fj", simulator.url)
        try:
            answer = transport.send(Outgoing(b"", {}, "GET", "/api/credit/v1/subjects/X"))
        finally:
            transport.close()
    assert simulator.url.startswith("http://127.0.0.1:")
    assert (answer.meta["status"], json.loads(answer.body)["code"]) == ("200", "1004")


def _mapped(raw: RawMessage) -> Any:
    return map_message(PROJECT, "credit_fj", "push_response", raw).outcome


def _statuses(outcome: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    return [(r["index"], r["status"], r["code"]) for r in outcome["records"]]


# --- pushes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["penalty_push-1", "penalty_push-2", "license_push-1"])
def test_a_sample_batch_is_stored_and_its_answer_maps_to_complete(platform: Platform, stem: str):
    outcome = platform.push(stem.rsplit("-", 1)[0], inputs(stem))
    assert outcome["outcome"] == "complete"
    assert outcome["code"] == "0000"
    assert [r["index"] for r in outcome["records"]] == [0, 1]
    stored = {s.record_id for s in platform.state.records.values()}
    assert {r["record_id"] for r in outcome["records"]} == stored


def test_a_stored_record_holds_the_masked_natural_person(platform: Platform):
    platform.push("penalty_push", inputs("penalty_push-1"))
    person = next(
        s.content for s in platform.state.records.values() if s.content["CF_XDR_LB"] == "自然人"
    )
    assert (person["CF_XDR_MC"], person["CF_XDR_ZJHM"]) == ("王**", "350427********3154")


def test_a_record_the_platform_finds_invalid_is_rejected_by_index(platform: Platform):
    late = envelope("penalty_push-1", 1)
    late["payload"]["publicity_until"] = "2024-01-01"  # before the decision: E2003
    outcome = platform.push("penalty_push", [envelope("penalty_push-1", 0), late])
    assert (outcome["outcome"], outcome["code"]) == ("partial", "0001")
    assert _statuses(outcome) == [(0, "accepted", None), (1, "rejected", "E2003")]


def test_a_bad_uscc_check_character_is_rejected_for_that_record_only(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-2"))
    body = call.body.replace(b"92350102MA31B8Q27J", b"92350102MA31B8Q27K")
    outcome = platform.send(platform.resign(call, body)).outcome.model_dump(mode="json")
    assert _statuses(outcome) == [(0, "accepted", None), (1, "rejected", "E2002")]


def test_an_unmasked_natural_person_is_rejected(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    body = call.body.replace("王**".encode(), "王五福".encode())
    outcome = platform.send(platform.resign(call, body)).outcome.model_dump(mode="json")
    assert _statuses(outcome)[1] == (1, "rejected", "E2007")


def test_a_record_timing_out_is_retried_alone_in_a_new_batch(platform: Platform):
    first, second = inputs("penalty_push-2")
    platform.state.fail_record_once("鼓市监处罚〔2024〕61号", "11350102MB1K77315D")
    outcome = platform.push("penalty_push", [first, second])
    assert _statuses(outcome) == [(0, "accepted", None), (1, "retry", "E3001")]
    retried = platform.send(platform.call("penalty_push", [second], sequence=2))
    assert retried.outcome.outcome == "complete"
    assert len(platform.state.records) == 2


def test_a_record_under_credit_repair_is_rejected_for_manual_handling(platform: Platform):
    platform.state.locked.add(("瓯市监处罚〔2024〕12号", "11350783MB1E26061K"))
    outcome = platform.push("penalty_push", inputs("penalty_push-2"))
    assert _statuses(outcome)[0] == (0, "rejected", "E2006")


def test_a_resent_batch_is_answered_as_replayed_and_not_processed_again(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    first = platform.transport.send(call)
    again = platform.transport.send(platform.resign(call))  # same batchNo, new nonce and sign
    replayed = json.loads(again.body)
    assert replayed["replayed"] is True
    assert replayed["requestId"] == json.loads(first.body)["requestId"]
    assert _mapped(again) == _mapped(first)
    assert len(platform.state.records) == 2


def test_the_same_batch_number_with_other_records_fails_the_batch(platform: Platform):
    at = now().isoformat()  # both in the same second: the same batch number
    call = platform.call("penalty_push", inputs("penalty_push-1"), at=at)
    platform.send(call)
    other = platform.call("penalty_push", inputs("penalty_push-2"), sequence=1, at=at)
    assert json.loads(other.body)["batchNo"] == json.loads(call.body)["batchNo"]
    outcome = platform.send(platform.resign(other)).outcome
    assert (outcome.outcome, outcome.code) == ("batch_failed", "1105")


def test_a_record_sent_again_in_a_new_batch_is_a_duplicate_with_the_same_record_id(
    platform: Platform,
):
    first = platform.push("license_push", inputs("license_push-2"))
    second = platform.send(platform.call("license_push", inputs("license_push-2"), sequence=2))
    answer = json.loads(platform.simulator.requests[-1].body)
    assert answer["batchNo"].endswith("0002")
    assert second.outcome.records[0].record_id == first["records"][0]["record_id"]
    assert len(platform.state.records) == 1


# --- authentication (§2.3, Q1) ----------------------------------------------------------------


def test_a_replayed_nonce_is_refused_with_1003_and_the_batch_is_to_be_resent(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    assert platform.send(call).outcome.outcome == "complete"
    outcome = platform.send(call).outcome
    assert (outcome.outcome, outcome.code, outcome.records) == ("batch_retry", "1003", [])


def test_a_timestamp_outside_five_minutes_is_refused_with_1002(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    stale = CallContext(
        now=now(),
        nonce=secrets.token_hex(16),
        extra={"timestamp": str(platform.state.clock() - 300_001)},
    )
    outcome = platform.send(SPEC.outgoing("penalty_push", call.body, config(), stale)).outcome
    assert (outcome.outcome, outcome.code) == ("batch_retry", "1002")


def test_a_timestamp_just_inside_the_window_is_accepted(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    edge = CallContext(
        now=now(),
        nonce=secrets.token_hex(16),
        extra={"timestamp": str(platform.state.clock() + 290_000)},
    )
    outcome = platform.send(SPEC.outgoing("penalty_push", call.body, config(), edge)).outcome
    assert outcome.outcome == "complete"


def test_a_wrong_secret_is_refused_with_1001_and_not_retried(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    context = CallContext(now=now(), nonce=secrets.token_hex(16))
    wrong = SPEC.outgoing("penalty_push", call.body, config(secret="0" * 32), context)
    outcome = platform.send(wrong).outcome
    assert (outcome.outcome, outcome.code) == ("batch_failed", "1001")


def test_a_body_changed_after_signing_is_refused_with_1001(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    tampered = Outgoing(
        call.body.replace(b"5.200000", b"0.520000"), call.headers, call.method, call.path
    )
    assert platform.send(tampered).outcome.code == "1001"


def test_an_unknown_app_key_is_refused_with_1004(platform: Platform):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    headers = dict(call.headers) | {"X-App-Key": "MZF-ESB-350000-99"}
    outcome = platform.send(Outgoing(call.body, headers, call.method, call.path)).outcome
    assert (outcome.outcome, outcome.code) == ("batch_failed", "1004")


# --- batch rules (§2.4, §4.0, Q9) -------------------------------------------------------------


def _with_batch(call: Outgoing, change: Any) -> bytes:
    document = json.loads(call.body)
    change(document)
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param(lambda d: d["records"][1].update(BZ=None), "1102", id="a null in a record"),
        pytest.param(lambda d: d.update(total=3), "1102", id="total differs from the records"),
        pytest.param(
            lambda d: d.update(records=d["records"] * 51, total=102),
            "1101",
            id="more than 100 records",
        ),
        pytest.param(lambda d: d.update(dataType="XZXK"), "1103", id="dataType of the other API"),
        pytest.param(lambda d: d["records"][0].pop("BZ"), "1102", id="a key missing"),
    ],
)
def test_a_batch_breaking_the_batch_rules_is_refused_whole(
    platform: Platform, change: Any, code: str
):
    call = platform.call("penalty_push", inputs("penalty_push-1"))
    outcome = platform.send(platform.resign(call, _with_batch(call, change))).outcome
    assert (outcome.outcome, outcome.code, outcome.records) == ("batch_failed", code, [])
    assert platform.state.records == {}


# --- faults (Q2, §5.1) ------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [None, 120])
def test_a_maintenance_page_means_resend_the_same_batch_later(
    platform: Platform, retry_after: int | None
):
    platform.simulator.inject(maintenance(retry_after))
    outcome = platform.push("penalty_push", inputs("penalty_push-1"))
    assert outcome == {
        "outcome": "batch_retry",
        "code": "HTTP503",
        "retry_after_s": retry_after,
        "records": [],
    }
    assert platform.state.records == {}


def test_a_rate_limit_reports_the_seconds_of_retry_after(platform: Platform):
    platform.simulator.inject(rate_limited(7))
    outcome = platform.push("license_push", inputs("license_push-2"))
    assert (outcome["outcome"], outcome["code"], outcome["retry_after_s"]) == (
        "batch_retry",
        "4290",
        7,
    )


def test_answers_with_a_byte_order_mark_map_alike(platform: Platform):
    platform.state.bom = True
    raw = platform.transport.send(platform.call("license_push", inputs("license_push-1")))
    assert raw.body.startswith(codecs.BOM_UTF8)
    outcome = map_message(PROJECT, "credit_fj", "push_response", raw).outcome
    assert outcome is not None
    assert outcome.outcome == "complete"


# --- subject lookups (§4.4) -------------------------------------------------------------------


def _lookup(platform: Platform, uscc: str) -> Any:
    call = platform.call("subject_lookup_request", [{"uscc": uscc}])
    return platform.send(call, "subject_lookup_response")


def test_a_known_subject_is_looked_up_as_a_credit_subject(platform: Platform):
    answer = json.loads((SAMPLES / "subject_lookup_response-2.json").read_bytes())
    platform.state.add_subject(answer["data"])
    result = _lookup(platform, "91350802MA31L6T256")
    (found,) = result.envelopes
    expected = json.loads((SAMPLES / "subject_lookup_response-2.expected.json").read_bytes())
    assert found.model_dump(mode="json")["payload"] == expected["payload"]
    request = platform.simulator.requests[-1]
    assert (request.method, request.path, request.body) == (
        "GET",
        "/api/credit/v1/subjects/91350802MA31L6T256",
        b"",
    )


def test_an_unknown_subject_is_not_found(platform: Platform):
    result = _lookup(platform, "91350100MA2Y7K3F61")
    assert result.envelopes == []
    assert (result.outcome.outcome, result.outcome.code) == ("not_found", "2004")


def test_the_platform_refuses_a_malformed_code_the_bus_would_never_send(platform: Platform):
    call = platform.call("subject_lookup_request", [{"uscc": "91350100MA2Y7K3F61"}])
    bad = SPEC.outgoing(
        "subject_lookup_request",
        b'{"uscc":"91350100MA2Y7K3F62"}',
        config(),
        CallContext(now=now(), nonce=secrets.token_hex(16)),
    )
    assert bad.path != call.path
    outcome = platform.send(bad, "subject_lookup_response").outcome
    assert (outcome.outcome, outcome.code) == ("batch_failed", "2005")
