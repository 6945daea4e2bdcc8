"""The poller over loopback: cursors, keyset paging, duplicates, faults (README §2.2, §2.4, §5)."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.drug_admin import SPEC, start_since
from adapters.drug_admin.simulator import DrugAdminSimulator, range_error_envelope
from runner.adapter_api import Outgoing, PermanentError, RawMessage, TransientError
from tests.adapters.drug_admin._support import make_config, mapped


def _keys(context: RecordingPollContext, message: str) -> list[str]:
    return [
        e.source_message_id
        for m, raw in context.emitted
        if m == message
        for e in mapped(m, raw.body).envelopes
    ]


def test_a_cycle_reads_both_queries_and_commits_the_largest_update_time(context, config):
    SPEC.poll(context, config)  # type: ignore[misc]
    assert _keys(context, "query_inspections") == [
        "JCJL-2024-000871#1",
        "JCJL-2024-000874#1",
        "JCJL-2024-000902#2",
        "JCJL-2024-000911#1",
        "JCJL-2024-000915#1",
    ]
    assert _keys(context, "query_penalties") == [
        "CFJD-2024-000312#1",
        "CFJD-2024-000318#1",
        "CFJD-2024-000325#2",
    ]
    assert context.commits[-1] == {
        "query_inspections": "2024-03-07T17:31:02",
        "query_penalties": "2024-03-07T16:48:03",
    }


def test_the_next_cycle_starts_at_the_cursor_inclusive_and_sees_the_boundary_record(
    context, config, simulator
):
    SPEC.poll(context, config)  # type: ignore[misc]
    simulator.calls.clear()
    context.emitted.clear()
    SPEC.poll(context, config)  # type: ignore[misc]
    since = [c.params["SinceTime"] for c in simulator.calls]
    assert since == ["2024-03-07T17:31:02", "2024-03-07T16:48:03"]
    assert _keys(context, "query_inspections") == ["JCJL-2024-000915#1"]


def test_pages_follow_the_largest_update_time_seen(context, simulator):
    config = make_config(simulator, initial_since="2024-03-05T00:00:00", page_size=2)
    SPEC.poll(context, config)  # type: ignore[misc]
    calls = [
        (c.params["SinceTime"], c.params["PageNo"])
        for c in simulator.calls
        if c.operation == "QueryInspections"
    ]
    assert calls == [
        ("2024-03-05T00:00:00", "1"),
        ("2024-03-05T18:02:45", "1"),
        ("2024-03-07T16:20:08", "1"),
        ("2024-03-07T17:05:51", "1"),
    ]
    assert len(set(_keys(context, "query_inspections"))) == 5


def test_a_record_updated_while_paging_is_not_skipped(context, simulator, clock):
    config = make_config(simulator, initial_since="2024-03-05T00:00:00", page_size=2)
    real = context._send

    def send_and_update(call):
        answer = real(call)
        if len(simulator.calls) == 1:  # after page 1, an officer updates its first record
            record = dict(simulator.inspections[0], Version="2", UpdateTime="2024-03-07T17:59:00")
            simulator.add("QueryInspections", record)
        return answer

    context._send = send_and_update
    SPEC.poll(context, config)  # type: ignore[misc]
    keys = set(_keys(context, "query_inspections"))
    assert {"JCJL-2024-000874#1", "JCJL-2024-000902#2", "JCJL-2024-000871#2"} <= keys


def test_a_whole_page_in_one_second_moves_on_by_page_number(context, simulator):
    for record in simulator.inspections:
        record["UpdateTime"] = "2024-03-06T08:00:00"
    config = make_config(simulator, initial_since="2024-03-05T00:00:00", page_size=2)
    SPEC.poll(context, config)  # type: ignore[misc]
    pages = [
        (c.params["SinceTime"], c.params["PageNo"])
        for c in simulator.calls
        if c.operation == "QueryInspections"
    ]
    assert pages == [
        ("2024-03-05T00:00:00", "1"),
        ("2024-03-06T08:00:00", "1"),
        ("2024-03-06T08:00:00", "2"),
        ("2024-03-06T08:00:00", "3"),
    ]
    assert len(set(_keys(context, "query_inspections"))) == 5


def test_service_busy_fails_the_cycle_as_transient_with_its_retry_after(context, config, simulator):
    simulator.inject_soap("busy", operation="QueryPenalties")
    with pytest.raises(TransientError) as raised:
        SPEC.poll(context, config)  # type: ignore[misc]
    assert (raised.value.code, raised.value.retry_after) == ("E5003", 60)
    assert list(context.commits[-1]) == ["query_inspections"]


def test_the_maintenance_503_is_transient(context, config, simulator):
    simulator.inject(Fault("status", status=503, body=b"<html>maintenance</html>"))
    with pytest.raises(TransientError) as raised:
        SPEC.poll(context, config)  # type: ignore[misc]
    assert raised.value.code == "HTTP503"
    assert context.emitted == []


def test_a_wrong_password_is_permanent(context, simulator):
    config = make_config(simulator, password="nope", initial_since="2024-03-05T00:00:00")
    with pytest.raises(PermanentError) as raised:
        SPEC.poll(context, config)  # type: ignore[misc]
    assert raised.value.code == "E1001"
    assert "nope" not in str(raised.value)


def test_an_unreadable_result_xml_is_emitted_once_and_the_cursor_stays(context, config, simulator):
    simulator.penalties[:] = simulator.penalties[:1]
    simulator.inject_soap("malformed_result", operation="QueryPenalties", times=2)
    SPEC.poll(context, config)  # type: ignore[misc]
    SPEC.poll(context, config)  # type: ignore[misc]
    assert [m for m, _ in context.emitted].count("query_penalties") == 1
    assert context.commits[-1]["query_penalties"] == "2024-03-05T00:00:00"


def test_an_old_cursor_is_moved_up_to_30_days_and_the_gap_remembered(context, config, clock):
    since = start_since(context, config, "query_penalties", "2024-01-01T00:00:00")
    assert since == dt.datetime(2024, 2, 6, 18, 0, 0)
    assert context.recall("gap:query_penalties") == {
        "from": "2024-01-01T00:00:00",
        "to": "2024-02-06T18:00:00",
    }


def test_requests_of_one_operation_are_spaced(clock):
    with DrugAdminSimulator(clock=clock, min_interval_s=0.3) as sim:
        config = make_config(
            sim, initial_since="2024-03-05T00:00:00", page_size=2, request_spacing_s=0.4
        )
        from contextlib import closing  # noqa: PLC0415

        from adapters.drug_admin import open_transport  # noqa: PLC0415

        with closing(open_transport(config)) as transport:
            context = RecordingPollContext(transport.send, now=clock.now)
            SPEC.poll(context, config)  # type: ignore[misc]
    assert all(raw.meta["status"] == "200" for _, _, raw in context.exchanges)
    assert len(context.exchanges) == 6


def test_a_3001_narrows_since_time_commits_it_and_reads_on(transport, simulator, clock):
    # The service's clock runs four minutes ahead of ours: a SinceTime 31 days back by our clock
    # is more than 31 days back by the service's, which answers 3001 (README §5.1).
    simulator.clock = lambda: clock.now + dt.timedelta(minutes=4)
    cursor = {"query_inspections": "2024-02-05T18:00:00", "query_penalties": "2024-03-07T16:48:03"}
    context = RecordingPollContext(transport.send, now=clock.now, cursor=cursor)
    SPEC.poll(context, make_config(simulator, max_lookback_days=31))  # type: ignore[misc]
    asked = [c.params["SinceTime"] for c in simulator.calls if c.operation == "QueryInspections"]
    assert asked == ["2024-02-05T18:00:00", "2024-02-05T19:00:00"]
    assert context.recall("gap:query_inspections") == {
        "from": "2024-02-05T18:00:00",
        "to": "2024-02-05T19:00:00",
    }
    assert [c["query_inspections"] for c in context.commits][:2] == [
        "2024-02-05T19:00:00",
        "2024-03-07T17:31:02",
    ]
    assert _keys(context, "query_inspections")[0] == "JCJL-2024-000871#1"


def test_a_3001_for_since_time_now_is_not_narrowed_forever(simulator, clock):
    def refuse(_call: Outgoing) -> RawMessage:
        return RawMessage(range_error_envelope("QueryInspections"), meta={"status": "200"})

    context = RecordingPollContext(refuse, now=clock.now)
    config = make_config(simulator, initial_since="2024-03-07T17:00:00")
    with pytest.raises(PermanentError, match="3001"):
        SPEC.poll(context, config)  # type: ignore[misc]
    assert [c["query_inspections"] for c in context.commits] == ["2024-03-07T18:00:00"]
