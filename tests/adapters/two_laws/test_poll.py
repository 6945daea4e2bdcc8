"""Poll cycles against the simulator over loopback (README §4.1, §6.2): what a cycle emits,
what it commits, and that it commits only after it emitted."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.two_laws import SPEC, open_transport
from adapters.two_laws.simulator import Notice, TwoLawsSimulator
from runner.adapter_api import MessageRejected, PermanentError, RawMessage, TransientError
from schemas.identifiers import uscc_check_char
from tests.adapters.two_laws._support import DEMO, PROJECT, unstamped
from tests.adapters.two_laws.conftest import Clock, make_config

XM = "11350200MB1C034749"
QZ = "11350500MB0P661250"


class _Ordered(RecordingPollContext):
    """Records emits and commits in one sequence, to check that commits follow emits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[str] = []

    def emit(self, message_id: str, raw: RawMessage) -> None:
        super().emit(message_id, raw)
        self.events.append(f"emit {raw.meta['orgCode']}:{raw.meta['position']}")

    def commit(self, cursor: dict[str, Any]) -> None:
        super().commit(cursor)
        self.events.append(f"commit {cursor['seq']}")


def _notice(seq: int, **fields: str) -> Notice:
    base = {
        "tzbh": f"厦检行刑监〔2024〕{seq}号", "tzlx": "01", "bbh": "1", "sfm": "", "xzajbh": "",
        "ajmc": "某案", "fwjgmc": "厦门市人民检察院", "fwjgdm": "11350200003702155C",
        "fwrq": "2024年3月13日", "jdnr": "建议移送", "dfqx": "null", "mgbs": "0",
    }  # fmt: skip
    return Notice(seq, base | fields)


def _cycle(
    simulator: TwoLawsSimulator,
    clock: Clock,
    cursor: dict[str, Any] | None = None,
    **overrides: Any,
) -> _Ordered:
    config = make_config(simulator, **overrides)
    with closing(open_transport(config)) as transport:
        context = _Ordered(transport.send, now=clock.now, cursor=cursor)
        SPEC.poll(context, config)
    return context


def _failing(
    simulator: TwoLawsSimulator,
    clock: Clock,
    cursor: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[_Ordered, BaseException]:
    config = make_config(simulator, **overrides)
    with closing(open_transport(config)) as transport:
        context = _Ordered(transport.send, now=clock.now, cursor=cursor)
        with pytest.raises((TransientError, PermanentError)) as caught:
            SPEC.poll(context, config)
    return context, caught.value


def _mapped(context: RecordingPollContext) -> list[str]:
    """The source_message_ids of every emitted message, mapped as the route would."""
    mapping = PROJECT.inbound_mapping("two_laws", "fetch_notices_response")
    ids: list[str] = []
    for message_id, raw in context.emitted:
        body = SPEC.inbound(message_id, raw, DEMO)
        ids += [e["source_message_id"] for e in unstamped(_as_dry(mapping.apply(body)))]
    return ids


def _as_dry(result: Any) -> Any:
    from runner.dryrun import DryRun  # noqa: PLC0415

    return DryRun(  # type: ignore[arg-type]
        envelopes=result.envelopes, outcome=result.outcome, rejected=result.rejected
    )


def test_a_cycle_emits_each_new_notice_and_commits_the_cursor_after_them(simulator, clock):
    simulator.add_notice(XM, _notice(1041))
    simulator.add_notice(XM, _notice(1043))
    simulator.add_notice(QZ, _notice(209))
    context = _cycle(simulator, clock)
    assert context.events == [
        f"emit {XM}:1", f"emit {XM}:2", f"commit {{'{XM}': 1043}}",
        f"emit {QZ}:1", f"commit {{'{XM}': 1043, '{QZ}': 209}}",
        f"commit {{'{XM}': 1043, '{QZ}': 209}}",
    ]  # fmt: skip
    assert _mapped(context) == [f"{XM}:1041", f"{XM}:1043", f"{QZ}:209"]
    assert [(c.params["orgCode"], c.params["sinceSeq"]) for c in simulator.calls] == [
        (XM, "0"), (QZ, "0")
    ]  # fmt: skip


def test_the_next_cycle_starts_from_the_committed_sequence_and_emits_only_new_notices(
    simulator, clock
):
    simulator.add_notice(XM, _notice(1041))
    first = _cycle(simulator, clock)
    simulator.add_notice(XM, _notice(1047))
    second = _cycle(simulator, clock, cursor=first.commits[-1])
    assert _mapped(second) == [f"{XM}:1047"]
    assert second.commits[-1]["seq"] == {XM: 1047, QZ: 0}
    assert simulator.calls[-2].params["sinceSeq"] == "1041"


def test_a_full_page_is_followed_at_once_by_the_next_one(simulator, clock):
    for seq in range(1, 121, 2):  # 60 notices with gaps
        simulator.add_notice(XM, _notice(seq))
    context = _cycle(simulator, clock, org_codes=[XM])
    assert len(context.emitted) == 60
    assert [c.params["sinceSeq"] for c in simulator.calls] == ["0", "99"]
    assert [c["seq"][XM] for c in context.commits] == [99, 119, 119]


def test_replayed_notices_at_or_below_the_cursor_are_not_emitted(simulator, clock):
    for seq in (5, 6, 7):
        simulator.add_notice(XM, _notice(seq))
    simulator.inject_soap("replay")
    context = _cycle(simulator, clock, cursor={"seq": {XM: 6}, "next": 0}, org_codes=[XM])
    assert _mapped(context) == [f"{XM}:7"]


def test_a_poison_notice_is_emitted_alone_and_the_cursor_moves_past_it(simulator, clock):
    simulator.add_notice(XM, _notice(1041, tzlx="04"))
    simulator.add_notice(XM, _notice(1042))
    context = _cycle(simulator, clock, org_codes=[XM])
    mapping = PROJECT.inbound_mapping("two_laws", "fetch_notices_response")
    config = make_config(simulator)
    poison, good = (SPEC.inbound(m, raw, config) for m, raw in context.emitted)
    with pytest.raises(MessageRejected):
        mapping.apply(poison)
    assert [e.source_message_id for e in mapping.apply(good).envelopes] == [f"{XM}:1042"]
    assert context.commits[-1]["seq"] == {XM: 1042}


@pytest.mark.parametrize(
    ("inject", "code"),
    [
        pytest.param("busy", "9001", id="系统繁忙"),
        pytest.param("maintenance", "9002", id="数据库维护中"),
        pytest.param("server_fault", "FAULT:Server", id="a Server fault"),
    ],
)
def test_a_transient_error_ends_the_cycle_keeping_the_agencies_already_done(
    simulator, clock, inject, code
):
    simulator.add_notice(XM, _notice(1041))
    simulator.add_notice(QZ, _notice(209))
    _cycle(simulator, clock, org_codes=[XM])  # warm: the first agency's cursor is 1041
    simulator.inject_soap(inject, operation="fetchSupervisionNotices")
    context, error = _failing(simulator, clock, cursor={"seq": {XM: 1041}, "next": 1})
    assert isinstance(error, TransientError)
    assert error.code == code
    assert context.emitted == []
    assert context.commits == []


def test_an_agency_the_account_may_not_read_is_skipped_and_reported_after_the_others(
    simulator, clock
):
    outside = "11110000MB0P66125"
    outside += uscc_check_char(outside)
    simulator.add_notice(QZ, _notice(209))
    context, error = _failing(simulator, clock, org_codes=[outside, QZ])
    assert isinstance(error, PermanentError)
    assert error.code == "1003"
    assert _mapped(context) == [f"{QZ}:209"]
    assert context.commits[-1] == {"seq": {QZ: 209}, "next": 0}


def test_a_refused_account_stops_the_cycle_at_once(simulator, clock):
    simulator.add_notice(QZ, _notice(209))
    context, error = _failing(simulator, clock, password="wrong")
    assert (type(error), error.code) == (PermanentError, "1001")  # type: ignore[attr-defined]
    assert (context.emitted, context.commits, len(simulator.calls)) == ([], [], 1)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(Fault("status", status=503, retry_after=30), TransientError, id="HTTP 503"),
        pytest.param(Fault("drop"), TransientError, id="a dropped connection"),
        pytest.param(Fault("malformed", body=b"<soap:Env"), PermanentError, id="a broken page"),
    ],
)
def test_an_unreadable_answer_commits_nothing(simulator, clock, fault, expected):
    simulator.add_notice(XM, _notice(1041))
    simulator.inject(fault)
    context, error = _failing(simulator, clock, org_codes=[XM])
    assert type(error) is expected
    assert context.emitted == []
    assert all(XM not in commit["seq"] for commit in context.commits)


def test_a_503_carries_the_retry_after_of_the_platform(simulator, clock):
    simulator.inject(Fault("status", status=503, retry_after=30))
    _, error = _failing(simulator, clock, org_codes=[XM])
    assert error.retry_after == 30  # type: ignore[attr-defined]


def test_a_page_with_a_dtd_is_refused_and_commits_nothing(simulator, clock):
    simulator.inject_soap("dtd", operation="fetchSupervisionNotices")
    context, error = _failing(simulator, clock, org_codes=[XM])
    assert (type(error), error.code) == (PermanentError, "xml_dtd")  # type: ignore[attr-defined]
    assert all(XM not in commit["seq"] for commit in context.commits)


def test_a_slow_platform_times_out_and_commits_nothing(simulator, clock):
    simulator.inject(Fault("delay", seconds=0.5))
    context, error = _failing(simulator, clock, org_codes=[XM], read_timeout_s=0.1)
    assert (type(error), error.code) == (TransientError, "TIMEOUT")  # type: ignore[attr-defined]
    assert context.commits == []


def test_agencies_are_polled_round_robin_across_cycles(simulator, clock):
    first = _cycle(simulator, clock, agencies_per_cycle=1)
    second = _cycle(simulator, clock, cursor=first.commits[-1], agencies_per_cycle=1)
    third = _cycle(simulator, clock, cursor=second.commits[-1], agencies_per_cycle=1)
    assert [c.params["orgCode"] for c in simulator.calls] == [XM, QZ, XM]
    assert [ctx.commits[-1]["next"] for ctx in (first, second, third)] == [1, 0, 1]


def test_every_poll_request_is_signed_with_the_time_of_the_call(simulator, clock):
    _cycle(simulator, clock, org_codes=[XM])
    auth = simulator.calls[0].headers["AuthInfo"]
    assert auth["timestamp"] == "20240315080000"
    assert auth["userName"] == "MZF_ESB"
