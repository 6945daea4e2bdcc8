"""Poll cycles against the simulator over loopback (README §3.2, §6), mapped with the project."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import pytest

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.eco_env import SPEC, open_transport
from adapters.eco_env.simulator import (
    Dataset,
    EcoEnvSimulator,
    demo_simulator,
    error_document,
    generate_dataset,
    sample_dataset,
)
from runner.adapter_api import Outgoing, PermanentError, RawMessage, TransientError
from schemas.timeutil import SHANGHAI
from tests.adapters.eco_env._support import (
    at,
    canonical_xml,
    mapped,
    naive,
    sample,
    sample_json,
    soap_text,
    source_ids,
    unstamped,
)
from tests.adapters.eco_env.conftest import Clock, make_config


def _cycle(
    simulator: EcoEnvSimulator,
    clock: Clock,
    now: dt.datetime,
    cursor: dict[str, str] | None = None,
    **overrides: object,
) -> RecordingPollContext:
    """Run one poll cycle at ``now`` (the simulator's clock too) and return its context."""
    clock.now = now
    config = make_config(simulator, **overrides)
    with closing(open_transport(config)) as transport:
        context = RecordingPollContext(transport.send, now=now, cursor=cursor)
        SPEC.poll(context, config)
    return context


def _failing_cycle(
    simulator: EcoEnvSimulator,
    clock: Clock,
    now: dt.datetime,
    cursor: dict[str, str] | None = None,
    **overrides: object,
) -> tuple[RecordingPollContext, BaseException]:
    clock.now = now
    config = make_config(simulator, **overrides)
    with closing(open_transport(config)) as transport:
        context = RecordingPollContext(transport.send, now=now, cursor=cursor)
        with pytest.raises((TransientError, PermanentError)) as raised:
            SPEC.poll(context, config)
    return context, raised.value


def _windows(context: RecordingPollContext) -> list[tuple[str, str, str]]:
    """(startTime, endTime, pageIndex) of every GetCaseList call of a cycle."""
    fields = ("startTime", "endTime", "pageIndex")
    calls = [c for message, c, _ in context.exchanges if message == "get_case_list_request"]
    return [tuple(soap_text(c.body, name) for name in fields) for c in calls]  # type: ignore[misc]


def _mapped_ids(context: RecordingPollContext) -> list[str]:
    ids: list[str] = []
    for message, raw in context.emitted:
        ids += source_ids(mapped(message, raw))
    return ids


APRIL_18 = {"end": "2025-04-18T16:00:00+08:00"}

# --- a cycle ------------------------------------------------------------------------------------


def test_a_cycle_emits_the_page_and_the_decision_of_a_decided_case_then_commits(simulator, clock):
    context = _cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert context.emitted_ids() == ["get_case_list_response", "get_penalty_decision_response"]
    assert context.emitted[1][1].body == sample("get_penalty_decision_response-1.xml")
    assert _mapped_ids(context) == ["10187:20250418160531", "10187:decision:20250418160531"]
    decision = unstamped(mapped(*context.emitted[1]))
    assert decision == [sample_json("get_penalty_decision_response-1.expected.json")]
    assert context.commits == [{"end": "2025-04-18T16:19:00+08:00"}]


def test_the_first_request_of_a_cycle_is_the_sample_request(simulator, clock):
    context = _cycle(simulator, clock, at(2025, 3, 21, 18, 0), {"end": "2025-03-21T17:40:00+08:00"})
    request = context.exchanges[0][1]
    assert canonical_xml(request.body) == canonical_xml(sample("get_case_list_request-1.xml"))
    expected = sample_json("get_case_list_response-1.expected.json")[0]
    assert unstamped(mapped(*context.emitted[0])) == [expected]
    assert context.emitted_ids() == ["get_case_list_response"]  # HasDecision 否: no decision


def test_a_cycle_with_nothing_new_emits_the_empty_page_and_commits(simulator, clock):
    context = _cycle(simulator, clock, at(2025, 6, 3, 11, 0), {"end": "2025-06-03T10:00:00+08:00"})
    assert [raw.body for _, raw in context.emitted] == [sample("get_case_list_response-3.xml")]
    assert mapped(*context.emitted[0]).envelopes == []
    assert context.commits == [{"end": "2025-06-03T10:59:00+08:00"}]


@pytest.mark.parametrize(
    ("cases", "pages"),
    [
        pytest.param(7, ["1", "2", "3"], id="7 cases in pages of 3: three pages"),
        pytest.param(6, ["1", "2"], id="6 cases in pages of 3: two pages, no empty third"),
        pytest.param(3, ["1"], id="3 cases in pages of 3: one page"),
    ],
)
def test_pages_are_read_until_page_index_times_size_reaches_the_total(
    simulator, clock, cases, pages
):
    simulator.dataset = generate_dataset(
        cases, since=naive(2025, 6, 3, 9), until=naive(2025, 6, 3, 10)
    )
    decided = sum(1 for c in simulator.dataset.cases.values() if c["HasDecision"] == "是")
    context = _cycle(
        simulator, clock, at(2025, 6, 3, 10, 30), {"end": "2025-06-03T09:05:00+08:00"}, page_size=3
    )
    assert [page for *_, page in _windows(context)] == pages
    assert context.emitted_ids().count("get_case_list_response") == len(pages)
    assert context.emitted_ids().count("get_penalty_decision_response") == decided
    assert len([i for i in _mapped_ids(context) if ":decision:" not in i]) == cases


def test_every_answer_of_a_busy_window_maps_to_valid_canonical_envelopes(clock):
    dataset = generate_dataset(60, since=naive(2025, 6, 1), until=naive(2025, 6, 3, 12), seed=11)
    with EcoEnvSimulator(dataset=dataset, clock=clock) as simulator:
        context = _cycle(
            simulator, clock, at(2025, 6, 3, 12, 5), initial_start="2025-06-01T00:00:00+08:00"
        )
    envelopes = [e for m, raw in context.emitted for e in mapped(m, raw).envelopes]
    cases = [e for e in envelopes if e.schema_name == "enforcement.case.v1"]
    decisions = [e for e in envelopes if e.schema_name == "enforcement.penalty_decision.v1"]
    assert len(cases) == 60
    assert len(decisions) == len(dataset.decisions)
    persons = {c["CaseId"] for c in dataset.cases.values() if c["PartyType"] == "4"}
    assert {e.source_message_id.split(":")[0] for e in cases if e.classification == "L3"} == persons


def test_a_window_longer_than_seven_days_is_read_in_spans_each_committed(simulator, clock):
    context = _cycle(
        simulator, clock, at(2025, 6, 3, 17, 0), initial_start="2025-05-10T00:00:00+08:00"
    )
    assert [(start, end) for start, end, _ in _windows(context)] == [
        ("2025-05-10 00:00:00", "2025-05-17 00:00:00"),
        ("2025-05-17 00:00:00", "2025-05-24 00:00:00"),
        ("2025-05-24 00:00:00", "2025-05-31 00:00:00"),
        ("2025-05-31 00:00:00", "2025-06-03 16:59:00"),
    ]
    assert context.commits[-1] == {"end": "2025-06-03T16:59:00+08:00"}
    assert len(context.commits) == 4
    assert _mapped_ids(context) == ["20877:20250603164055"]


# --- overlap and changes (quirk Q8) -------------------------------------------------------------


def test_overlapping_windows_bring_the_same_case_version_with_the_same_source_id(simulator, clock):
    first = _cycle(simulator, clock, at(2025, 6, 3, 16, 45), {"end": "2025-06-03T16:30:00+08:00"})
    second = _cycle(simulator, clock, at(2025, 6, 3, 16, 50), first.cursor())
    assert _windows(second)[0][:2] == ("2025-06-03 16:39:00", "2025-06-03 16:49:00")
    assert _mapped_ids(first) == _mapped_ids(second) == ["20877:20250603164055"]


def test_a_changed_case_comes_back_as_a_new_version_of_the_same_case(simulator, clock):
    first = _cycle(simulator, clock, at(2025, 6, 3, 16, 45), {"end": "2025-06-03T16:30:00+08:00"})
    clock.now = at(2025, 6, 3, 16, 52, 10)
    simulator.update_case(20877, Status="7", CloseTime="2025/6/3 16:52:10")
    later = _cycle(simulator, clock, at(2025, 6, 3, 17, 0), first.cursor())
    assert _mapped_ids(later) == ["20877:20250603165210"]
    before, after = mapped(*first.emitted[0]).envelopes, mapped(*later.emitted[0]).envelopes
    assert before[0].case_code == after[0].case_code
    assert after[0].payload.status == "closed"


# --- errors: nothing committed ------------------------------------------------------------------


def test_http_503_raises_a_transient_error_and_commits_nothing(simulator, clock):
    simulator.inject(Fault("status", status=503, retry_after=30))
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, TransientError)
    assert (error.code, error.retry_after) == ("HTTP503", 30)
    assert (context.emitted, context.commits) == ([], [])


def test_http_503_on_a_decision_commits_nothing_though_the_page_was_emitted(simulator, clock):
    simulator.inject(Fault("status", status=503))
    clock.now = at(2025, 4, 18, 16, 20)
    config = make_config(simulator)
    with closing(open_transport(config)) as transport:
        seen: list[Outgoing] = []

        def page_then_503(call: Outgoing) -> RawMessage:
            seen.append(call)
            if len(seen) == 1:
                return RawMessage(sample("get_case_list_response-1.xml"), meta={"status": "200"})
            return transport.send(call)

        context = RecordingPollContext(page_then_503, now=clock.now, cursor=APRIL_18)
        with pytest.raises(TransientError, match="HTTP 503"):
            SPEC.poll(context, config)
    assert context.emitted_ids() == ["get_case_list_response"]
    assert context.commits == []


def test_a_dropped_connection_raises_a_transient_error_and_commits_nothing(simulator, clock):
    simulator.inject(Fault("drop"))
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, TransientError)
    assert context.commits == []


@pytest.mark.parametrize(
    ("kind", "operation", "code"),
    [
        pytest.param(
            "timeout", "GetCaseList", "FAULT:Server", id="Fault Timeout expired on a page"
        ),
        pytest.param("timeout", "GetPenaltyDecision", "FAULT:Server", id="Fault on a decision"),
        pytest.param("null_reference", "GetCaseList", "FAULT:Server", id="Fault null reference"),
        pytest.param("busy", "GetCaseList", "9001", id="Error 9001 on a page"),
        pytest.param("busy", "GetPenaltyDecision", "9001", id="Error 9001 on a decision"),
    ],
)
def test_a_retryable_answer_raises_a_transient_error_and_commits_nothing(
    simulator, clock, kind, operation, code
):
    simulator.inject_soap(kind, operation=operation)
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, TransientError)
    assert error.code == code
    assert context.commits == []
    assert "get_penalty_decision_response" not in context.emitted_ids()
    answer = context.exchanges[-1][2]
    outcome = mapped(context.exchanges[-1][0].replace("_request", "_response"), answer).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code) == ("batch_retry", code)


def test_a_transient_failure_is_followed_by_a_complete_retry_of_the_window(simulator, clock):
    simulator.inject_soap("timeout", operation="GetPenaltyDecision")
    failed, _ = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    retried = _cycle(simulator, clock, at(2025, 4, 18, 16, 21), failed.cursor())
    assert _windows(retried)[0][0] == "2025-04-18 15:55:00"
    assert retried.emitted_ids() == ["get_case_list_response", "get_penalty_decision_response"]
    assert retried.commits == [{"end": "2025-04-18T16:20:00+08:00"}]


def test_a_wrong_secret_raises_a_permanent_error_whose_answer_maps_to_batch_failed(
    simulator, clock
):
    context, error = _failing_cycle(
        simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18, secret_key="not the secret"
    )
    assert isinstance(error, PermanentError)
    assert error.code == "FAULT:Server"
    assert (context.emitted, context.commits) == ([], [])
    outcome = mapped("get_case_list_response", context.exchanges[0][2]).outcome
    assert outcome is not None
    assert outcome.model_dump(mode="json") == sample_json(
        "push_joint_task_response-3.expected.json"
    )


def test_a_server_clock_eleven_minutes_ahead_refuses_the_cycle(simulator, clock):
    clock.now = at(2025, 4, 18, 16, 31)
    config = make_config(simulator)
    with closing(open_transport(config)) as transport:
        context = RecordingPollContext(transport.send, now=at(2025, 4, 18, 16, 20), cursor=APRIL_18)
        with pytest.raises(PermanentError, match="身份验证失败"):
            SPEC.poll(context, config)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("dtd", id="a result document with a DTD"),
        pytest.param("dtd_envelope", id="an envelope with a DTD"),
    ],
)
def test_a_document_with_a_dtd_is_refused_unread_and_nothing_is_emitted(simulator, clock, kind):
    simulator.inject_soap(kind, operation="GetCaseList")
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, PermanentError)
    assert error.code == "xml_dtd"
    assert (context.emitted, context.commits) == ([], [])


def test_a_malformed_answer_is_a_permanent_error(simulator, clock):
    simulator.inject(Fault("malformed", body=b"<soap:Envelope"))
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, PermanentError)
    assert error.code == "malformed_xml"
    assert context.commits == []


def test_a_decision_that_was_withdrawn_is_skipped_and_the_window_committed(simulator, clock):
    del simulator.dataset.decisions[10187]  # HasDecision still 是: the server answers 1005
    context = _cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert context.emitted_ids() == ["get_case_list_response"]
    assert [m for m, *_ in context.exchanges][-1] == "get_penalty_decision_request"
    assert context.commits == [{"end": "2025-04-18T16:19:00+08:00"}]


def test_a_missing_case_on_a_decision_call_is_a_permanent_error(simulator, clock):
    # the case vanished between the page and the decision
    simulator.inject_answer(error_document("1004"), operation="GetPenaltyDecision")
    context, error = _failing_cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18)
    assert isinstance(error, PermanentError)
    assert error.code == "1004"
    assert context.commits == []


# --- paging faults ------------------------------------------------------------------------------


def _three_decided_cases() -> Dataset:
    dataset = Dataset()
    base = sample_dataset()
    for offset in range(5):
        case = dict(base.cases[10187], CaseId=str(40000 + offset))
        case["UpdateTime"] = f"2025/4/18 16:0{offset}:00"
        case["HasDecision"] = "是" if offset % 2 == 0 else "否"
        decision = dict(base.decisions[10187], UpdateTime=case["UpdateTime"])
        dataset.add(case, decision)
    return dataset


def test_a_record_repeated_across_pages_is_emitted_twice_with_one_source_id_and_one_decision(
    clock,
):
    with EcoEnvSimulator(dataset=_three_decided_cases(), clock=clock) as simulator:
        simulator.inject_soap("duplicate")
        context = _cycle(simulator, clock, at(2025, 4, 18, 16, 20), APRIL_18, page_size=2)
    case_ids = [i for i in _mapped_ids(context) if ":decision:" not in i]
    assert len(case_ids) == 6
    assert len(set(case_ids)) == 5
    decisions = [m for m, *_ in context.exchanges if m == "get_penalty_decision_request"]
    assert len(decisions) == 3
    assert context.commits == [{"end": "2025-04-18T16:19:00+08:00"}]


def test_a_total_that_changes_while_paging_fails_the_cycle_so_the_window_is_read_again(clock):
    with EcoEnvSimulator(dataset=_three_decided_cases(), clock=clock) as simulator:
        config = make_config(simulator, page_size=2)
        clock.now = at(2025, 4, 18, 16, 20)

        def send_then_update(call: Outgoing) -> RawMessage:
            answer = transport.send(call)
            if b"<pageIndex>1<" in call.body.replace(b"ns0:", b""):
                simulator.update_case(40000)  # its new UpdateTime is after the window
            return answer

        with closing(open_transport(config)) as transport:
            context = RecordingPollContext(send_then_update, now=clock.now, cursor=APRIL_18)
            with pytest.raises(TransientError) as raised:
                SPEC.poll(context, config)
    assert raised.value.code == "WINDOW_CHANGED"
    assert context.commits == []


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_simulator_serves_a_week_of_cases_that_all_map():
    simulator = demo_simulator(port=0, extra_cases=30)
    with simulator:
        now = dt.datetime.now(SHANGHAI).replace(microsecond=0)
        config = make_config(simulator, initial_start=(now - dt.timedelta(days=7)).isoformat())
        with closing(open_transport(config)) as transport:
            context = RecordingPollContext(transport.send, now=now)
            SPEC.poll(context, config)
    case_ids = [i for i in _mapped_ids(context) if ":decision:" not in i]
    assert len(set(case_ids)) == 30
    assert len(context.commits) >= 1
