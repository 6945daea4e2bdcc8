"""The poller against the platform simulator over loopback (README §2.1, §2.2, §7): pages are
read by cursor, every work order is emitted before the cursor is committed, errors stop the
cycle with the cursor untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.hotline_12345 import SPEC
from adapters.hotline_12345.simulator import busy, gateway_page, rate_limited
from adapters.hotline_12345.transport import RateGate, open_transport
from adapters.hotline_12345.wire import workorders_request
from runner.adapter_api import (
    MessageRejected,
    PermanentError,
    RawMessage,
    SharedStores,
    TransientError,
)
from runner.dryrun import map_message, parse_now
from runner.stores import Database
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedTokenStore
from tests.adapters.hotline_12345.conftest import Live
from tests.adapters.hotline_12345.samples import PROJECT, config, work_order
from tests.adapters.loopback import FakeClock


class Journal(RecordingPollContext):
    """A ``RecordingPollContext`` that also keeps the order of emits and commits."""

    def __init__(self, live: Live, cursor: dict[str, Any] | None = None) -> None:
        super().__init__(live.connection.send, now=parse_now(None), cursor=cursor)
        self.events: list[str] = []

    def emit(self, message_id: str, raw: RawMessage) -> None:
        super().emit(message_id, raw)
        self.events.append("emit")

    def commit(self, cursor: dict[str, Any]) -> None:
        super().commit(cursor)
        self.events.append("commit")


def _settings(live: Live, **changes: Any) -> Any:
    start = {"initial_cursor": live.platform.cursor_at(live.platform.first_seq)}
    return config(live.simulator.url, **(start | changes))


def _orders(live: Live, count: int) -> list[str]:
    ids = []
    for n in range(count):
        gdbh = f"GD20250314{n + 1:07d}"
        live.platform.dispatch(work_order(n % 2, GDBH=gdbh))
        ids.append(f"{gdbh}#1")
    return ids


def _mapped(ctx: Journal) -> list[str]:
    out = []
    for message_id, raw in ctx.emitted:
        result = map_message(PROJECT, "hotline_12345", message_id, raw)
        out += [e.source_message_id for e in result.envelopes]
    return out


def test_a_cycle_emits_one_message_per_work_order_then_commits_the_next_cursor(live: Live):
    ids = _orders(live, 3)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live))
    assert ctx.emitted_ids() == ["workorders_page"] * 3
    assert _mapped(ctx) == ids
    assert ctx.events == ["emit", "emit", "emit", "commit"]
    assert ctx.commits == [{"cursor": live.platform.cursor_at(880_415)}]


def test_each_page_is_committed_only_after_all_its_items_were_emitted(live: Live):
    ids = _orders(live, 5)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live, page_size=2))
    assert _mapped(ctx) == ids
    assert ctx.events == ["emit", "emit", "commit", "emit", "emit", "commit", "emit", "commit"]
    assert [c["cursor"] for c in ctx.commits] == [
        live.platform.cursor_at(seq) for seq in (880_414, 880_416, 880_417)
    ]
    assert [r.query["limit"] for r in live.simulator.requests] == [["2"]] * 3


def test_the_next_cycle_starts_at_the_committed_cursor_and_an_empty_page_commits_nothing(
    live: Live,
):
    _orders(live, 2)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live))
    SPEC.poll(ctx, _settings(live))
    assert len(ctx.emitted) == 2
    assert ctx.commits == [{"cursor": live.platform.cursor_at(880_414)}]
    assert live.simulator.requests[-1].query["cursor"] == [live.platform.cursor_at(880_414)]


def test_a_re_pushed_dispatch_comes_again_with_the_same_source_message_id_q5(live: Live):
    _orders(live, 1)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live))
    live.platform.repush("GD202503140000001", 1, "2025-03-15 00:31:40")
    SPEC.poll(ctx, _settings(live))
    assert _mapped(ctx) == ["GD202503140000001#1", "GD202503140000001#1"]


def test_one_bad_work_order_is_rejected_alone_and_the_cursor_still_advances(live: Live):
    live.platform.dispatch(work_order(0, GDBH="GD202503140000001"))
    live.platform.dispatch(work_order(0, GDBH="GD202503140000002", SQLX="06"))
    live.platform.dispatch(work_order(1, GDBH="GD202503140000003"), lower_case=True)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live))
    outcomes: list[Any] = []
    for message_id, raw in ctx.emitted:
        try:
            result = map_message(PROJECT, "hotline_12345", message_id, raw)
            outcomes.append(result.envelopes[0].source_message_id)
        except MessageRejected as exc:
            outcomes.append((exc.field, exc.rule))
    assert outcomes == ["GD202503140000001#1", ("SQLX", "unknown_code"), "GD202503140000003#1"]
    assert ctx.commits == [{"cursor": live.platform.cursor_at(880_415)}]


def test_a_cursor_ending_in_equals_signs_is_sent_percent_encoded_q9():
    cursor = "ZmoxMjM0NXxzdWI9Zmp6ZnxzZXE9ODgyMzEwfA=="
    call = workorders_request(config(), cursor)
    assert call.path == (
        "/api/v3/workorders?cursor=ZmoxMjM0NXxzdWI9Zmp6ZnxzZXE9ODgyMzEwfA%3D%3D&limit=100"
    )
    assert (call.method, call.body) == ("GET", b"")
    assert call.headers["Authorization"] == "Bearer fj12345_test_7Qm2xR9vL4kP8sT1"


def test_the_platform_reads_back_exactly_the_cursor_it_gave(live: Live):
    _orders(live, 1)
    SPEC.poll(Journal(live), _settings(live))
    assert live.simulator.requests[0].query["cursor"] == [live.platform.cursor_at(880_412)]


def test_without_a_cursor_the_poller_refuses_to_start_rather_than_skip_orders(live: Live):
    ctx = Journal(live)
    with pytest.raises(PermanentError) as caught:
        SPEC.poll(ctx, _settings(live, initial_cursor=None))
    assert caught.value.code == "NO_CURSOR"
    assert live.requests() == 0


def test_a_new_subscription_starts_without_a_cursor_and_commits_the_first_one(live: Live):
    ids = _orders(live, 2)
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live, initial_cursor=None, new_subscription=True))
    assert "cursor" not in live.simulator.requests[0].query
    assert _mapped(ctx) == ids
    assert ctx.commits == [{"cursor": live.platform.cursor_at(880_414)}]


def test_a_stored_cursor_wins_over_the_initial_cursor(live: Live):
    _orders(live, 3)
    ctx = Journal(live, cursor={"cursor": live.platform.cursor_at(880_414)})
    SPEC.poll(ctx, _settings(live))
    assert _mapped(ctx) == ["GD202503140000003#1"]


def test_an_expired_cursor_stops_for_an_operator_and_commits_nothing(live: Live):
    _orders(live, 1)
    live.platform.expire_cursors_below(880_413)
    ctx = Journal(live)
    with pytest.raises(PermanentError) as caught:
        SPEC.poll(ctx, _settings(live))
    assert caught.value.code == "1002"
    assert (ctx.emitted, ctx.commits) == ([], [])


def test_a_limit_above_100_is_refused_by_the_config_before_the_platform_would():
    with pytest.raises(ValueError, match="page_size"):
        config(page_size=101)


def test_a_poll_interval_below_30_seconds_is_refused():
    with pytest.raises(ValueError, match="poll_interval_s"):
        config(poll_interval_s=10)


def test_a_429_on_the_second_page_keeps_the_first_pages_commit_and_waits_retry_after(live: Live):
    _orders(live, 4)
    ctx = Journal(live)
    live.simulator.inject(Fault(kind="delay", seconds=0.0))
    live.simulator.inject(rate_limited(9))
    with pytest.raises(TransientError) as caught:
        SPEC.poll(ctx, _settings(live, page_size=2))
    assert (caught.value.code, caught.value.retry_after) == ("1429", 9)
    assert (len(ctx.emitted), ctx.commits) == (2, [{"cursor": live.platform.cursor_at(880_414)}])
    sent = live.requests()
    with pytest.raises(TransientError):
        SPEC.poll(ctx, _settings(live, page_size=2))  # the gate holds the key back
    assert live.requests() == sent
    live.clock.now += 9
    SPEC.poll(ctx, _settings(live, page_size=2))
    assert len(ctx.emitted) == 4


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (gateway_page(503), "HTTP503"),
        (busy(500), "9999"),
        (busy(200), "9999"),
        (Fault(kind="malformed", body=b'{"code":"0000","msg":"","data":{}}'), "MALFORMED"),
        (Fault(kind="malformed", body=b"<html>"), "HTTP200"),
    ],
    ids=["gateway 503", "busy 500", "busy with HTTP 200", "a 0000 without a page", "HTML 200"],
)
def test_a_transient_fault_stops_the_cycle_with_the_cursor_untouched(
    live: Live, fault: Fault, code: str
):
    _orders(live, 1)
    live.simulator.inject(fault)
    ctx = Journal(live)
    with pytest.raises(TransientError) as caught:
        SPEC.poll(ctx, _settings(live))
    assert caught.value.code == code
    assert (ctx.emitted, ctx.commits) == ([], [])


def test_a_timeout_stops_the_cycle_with_the_cursor_untouched(live: Live):
    _orders(live, 1)
    live.simulator.inject(Fault(kind="delay", seconds=0.6))
    slow = _settings(live, read_timeout_s=0.2)
    connection = open_transport(slow, live.gate)
    ctx = RecordingPollContext(connection.send, now=parse_now(None))
    try:
        with pytest.raises(TransientError) as caught:
            SPEC.poll(ctx, slow)
    finally:
        connection.close()
    assert (caught.value.code, ctx.commits) == ("TIMEOUT", [])


def test_a_wrong_api_key_stops_the_cycle_for_good(live: Live):
    live.platform.api_keys = frozenset({"fj12345_test_BBBBBBBBBBBBBBBBB"})
    with pytest.raises(PermanentError) as caught:
        SPEC.poll(Journal(live), _settings(live))
    assert caught.value.code == "1101"


def test_an_emitted_item_is_a_page_of_one_with_the_answer_unchanged_around_it(live: Live):
    live.platform.dispatch(work_order(1))
    ctx = Journal(live)
    SPEC.poll(ctx, _settings(live))
    document = json.loads(ctx.emitted[0][1].body)
    assert document["data"]["items"] == [work_order(1)]
    assert document["code"] == "0000"
    assert ctx.emitted[0][1].meta["status"] == "200"


def test_a_429_one_bus_process_gets_holds_the_key_back_in_the_others(live: Live, tmp_path):
    """Repeated violations lock the key for 10 minutes (README §2): a second process must not
    call into the wait the first one learned."""
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        gates = SharedGateStore(db)
        # two processes: a gate each (their own clocks), the bus's store shared
        first = open_transport(config(live.simulator.url), RateGate(FakeClock()), gates)
        # the other process's connection as its runtime opens it (SPEC.connect_shared)
        stores = SharedStores(SharedTokenStore(db), gates)
        second = SPEC.connect_shared(config(live.simulator.url), stores)
        try:
            call = workorders_request(_settings(live), None)
            live.simulator.inject(rate_limited(60))
            first.send(call)
            sent = live.requests()
            with pytest.raises(TransientError) as caught:
                second.send(call)
            assert caught.value.code == "1429"
            assert 55 <= (caught.value.retry_after or 0) <= 60
            assert live.requests() == sent
        finally:
            first.close()
            second.close()
