"""The poller against the API simulator over loopback (README §2.1, §2.2, §5): pages 0, 1, …
with one updatedSince, every forwarded record emitted before the HWM is committed, versions
decide what is forwarded, errors stop the cycle with the HWM untouched."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.health import SPEC
from adapters.health.simulator import gateway_page, rate_limited, server_error
from adapters.health.transport import RateGate, open_transport
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
from tests.adapters.health.conftest import Live
from tests.adapters.health.samples import PROJECT, record
from tests.adapters.loopback import FakeClock

GO_LIVE_MS = 1735660800000
BASE_MS = 1748000000000


class Journal(RecordingPollContext):
    """A ``RecordingPollContext`` that also keeps the order of emits, remembers and commits."""

    def __init__(self, live: Live, cursor: dict[str, Any] | None = None) -> None:
        super().__init__(live.connection.send, now=parse_now(None), cursor=cursor)
        self.events: list[str] = []

    def emit(self, message_id: str, raw: RawMessage) -> None:
        super().emit(message_id, raw)
        self.events.append("emit")

    def remember(self, key: str, value: dict[str, Any]) -> None:
        super().remember(key, value)
        self.events.append("remember")

    def commit(self, cursor: dict[str, Any]) -> None:
        super().commit(cursor)
        self.events.append("commit")


def _cases(live: Live, count: int, start: int = BASE_MS) -> list[str]:
    """``count`` organisation cases (version 1), updated one second apart; their ids."""
    ids = []
    for n in range(count):
        record_id = f"17931188364551{n + 10000:05d}"
        live.api.upsert(
            record(
                "lumei_v1",
                id=record_id,
                caseNo=f"思卫立〔2025〕{n + 100}号",
                updateTime=start + n * 1000,
            )
        )
        ids.append(record_id)
    return ids


def _mapped(ctx: Journal) -> list[str]:
    out = []
    for message_id, raw in ctx.emitted:
        result = map_message(PROJECT, "health", message_id, raw)
        out += [e.source_message_id for e in result.envelopes]
    return out


def _queries(live: Live) -> list[tuple[str, str, str]]:
    return [
        (r.query["updatedSince"][0], r.query["page"][0], r.query["size"][0])
        for r in live.simulator.requests
    ]


def test_a_first_cycle_starts_at_the_go_live_date_and_commits_the_largest_update_time(live: Live):
    ids = _cases(live, 3)
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    assert _mapped(ctx) == [f"{i}:v1" for i in ids]
    assert _queries(live) == [(str(GO_LIVE_MS), "0", "100")]
    assert ctx.events == ["emit", "remember"] * 3 + ["commit"]
    assert ctx.commits == [{"hwm": BASE_MS + 2000}]
    assert live.simulator.requests[0].headers["x-api-key"] == "wj-test-3c9f1e7a5b2d4c6e8f0a1b3c"


def test_pages_are_zero_based_with_the_same_updated_since_until_last(live: Live):
    ids = _cases(live, 5)
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings(page_size=2))
    assert _mapped(ctx) == [f"{i}:v1" for i in ids]
    since = str(GO_LIVE_MS)
    assert _queries(live) == [(since, "0", "2"), (since, "1", "2"), (since, "2", "2")]
    assert ctx.events.count("commit") == 1
    assert ctx.events[-1] == "commit"


def test_the_record_at_the_hwm_comes_again_and_is_recognised_as_a_duplicate_q4(live: Live):
    _cases(live, 2)
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    SPEC.poll(ctx, live.settings())
    assert len(ctx.emitted) == 2
    assert live.simulator.requests[-1].query["updatedSince"] == [str(BASE_MS + 1000)]
    assert ctx.commits == [{"hwm": BASE_MS + 1000}]


def test_a_new_version_is_forwarded_as_case_and_decision(live: Live):
    live.api.upsert(record("yuezu_v1"))
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    v2 = record("yuezu_v2")
    live.api.change(v2["id"], v2["updateTime"], status="DECIDED", decision=v2["decision"])
    SPEC.poll(ctx, live.settings())
    assert _mapped(ctx) == [
        "1790231845512740865:v1",
        "1790231845512740865:v2",
        "1790231845512740865:v2:decision",
    ]
    assert ctx.facts == {"version:1790231845512740865": {"version": 2}}


def test_a_stale_version_from_the_replica_is_ignored_and_logged_at_info_q3(
    live: Live, caplog: pytest.LogCaptureFixture
):
    live.api.upsert(record("yuezu_v2"))
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    live.api.stale_once(record("yuezu_v1", updateTime=record("yuezu_v2")["updateTime"]))
    with caplog.at_level(logging.INFO, logger="ebus.adapters.health"):
        SPEC.poll(ctx, live.settings())
    assert _mapped(ctx) == ["1790231845512740865:v2", "1790231845512740865:v2:decision"]
    assert ctx.facts["version:1790231845512740865"] == {"version": 2}
    stale = [r for r in caplog.records if "stale" in r.getMessage()]
    assert [r.levelno for r in stale] == [logging.INFO]
    assert "1790231845512740865" in stale[0].getMessage()


def test_versions_survive_a_restart_through_the_durable_facts(live: Live):
    live.api.upsert(record("yuezu_v2"))
    first = Journal(live)
    SPEC.poll(first, live.settings())
    restarted = Journal(live)  # no cursor: the go-live date again, but the facts are kept
    restarted.facts = dict(first.facts)
    SPEC.poll(restarted, live.settings())
    assert restarted.emitted == []


def test_a_record_listed_twice_in_a_page_is_forwarded_once(live: Live):
    ids = _cases(live, 2)
    live.api.duplicate_once(ids[0])
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    assert _mapped(ctx) == [f"{i}:v1" for i in ids]


def test_a_record_updated_while_paging_makes_the_cycle_read_its_pages_again(live: Live):
    ids = _cases(live, 4)
    ctx = Journal(live)
    settings = live.settings(page_size=2)
    original = live.api.handle

    def moving(request: Any) -> Any:
        answer = original(request)
        if request.query.get("page") == ["0"] and not live.api.records[ids[0]]["version"] > 1:
            live.api.change(ids[0], BASE_MS + 10_000)  # page 1 now starts at the 4th record
        return answer

    _route(live, moving)
    SPEC.poll(ctx, settings)
    assert sorted(_mapped(ctx)) == sorted([f"{i}:v1" for i in ids] + [f"{ids[0]}:v2"])
    assert [q[1] for q in _queries(live)] == ["0", "1", "0", "1"]  # the second pass finds r2
    assert ctx.commits == [{"hwm": BASE_MS + 10_000}]


def _route(live: Live, handler: Any) -> None:
    """Let the module's server answer with ``handler`` (the API otherwise)."""
    live.api.handle = handler  # type: ignore[method-assign]


def test_a_bad_record_is_emitted_alone_and_rejected_by_its_mapping_while_the_rest_goes_on(
    live: Live,
):
    ids = _cases(live, 3)
    live.api.records[ids[1]]["status"] = "ARCHIVED"
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    outcomes: list[Any] = []
    for message_id, raw in ctx.emitted:
        try:
            outcomes.append(
                map_message(PROJECT, "health", message_id, raw).envelopes[0].source_message_id
            )
        except MessageRejected as exc:
            outcomes.append((exc.field, exc.rule))
    assert outcomes == [f"{ids[0]}:v1", ("status", "unknown_code"), f"{ids[2]}:v1"]
    assert ctx.commits == [{"hwm": BASE_MS + 2000}]


def test_an_emitted_record_is_a_page_of_one_with_the_answer_around_it(live: Live):
    _cases(live, 2)
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    document = json.loads(ctx.emitted[1][1].body)
    assert len(document["data"]["content"]) == 1
    assert (document["code"], document["data"]["totalElements"]) == (200, 2)
    assert ctx.emitted[1][1].meta["status"] == "200"


def test_an_answer_with_a_bom_is_read_q7(live: Live):
    _cases(live, 1)
    live.api.bom = True
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    assert len(_mapped(ctx)) == 1


def test_an_empty_answer_commits_nothing(live: Live):
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings())
    assert (ctx.emitted, ctx.commits) == ([], [])


def test_a_stored_hwm_wins_over_the_go_live_date(live: Live):
    _cases(live, 3)
    ctx = Journal(live, cursor={"hwm": BASE_MS + 2000})
    SPEC.poll(ctx, live.settings())
    assert _mapped(ctx) == ["1793118836455110002:v1"]


def test_the_page_budget_commits_what_was_read_and_the_next_cycle_goes_on(live: Live):
    ids = _cases(live, 5)
    ctx = Journal(live)
    SPEC.poll(ctx, live.settings(page_size=2, max_pages_per_cycle=1))
    assert ctx.commits == [{"hwm": BASE_MS + 1000}]
    SPEC.poll(ctx, live.settings(page_size=2, max_pages_per_cycle=10))
    assert _mapped(ctx) == [f"{i}:v1" for i in ids]


def test_a_429_stops_the_cycle_and_no_request_is_sent_before_retry_after(live: Live):
    _cases(live, 4)
    ctx = Journal(live)
    live.simulator.inject(Fault(kind="delay", seconds=0.0))
    live.simulator.inject(rate_limited(9))
    with pytest.raises(TransientError) as caught:
        SPEC.poll(ctx, live.settings(page_size=2))
    assert (caught.value.code, caught.value.retry_after) == ("42901", 9)
    assert (len(ctx.emitted), ctx.commits) == (2, [])
    sent = live.requests()
    with pytest.raises(TransientError):
        SPEC.poll(ctx, live.settings(page_size=2))  # the gate holds the key back
    assert live.requests() == sent
    live.clock.now += 9
    SPEC.poll(ctx, live.settings(page_size=2))
    assert len(ctx.emitted) == 4  # the two already forwarded are duplicates now
    assert ctx.commits == [{"hwm": BASE_MS + 3000}]


def test_the_connection_paces_itself_below_the_gateways_5_per_second(live: Live):
    _cases(live, 8)
    live.api.per_second = 5
    settings = live.settings(page_size=1, rate_limit={"per_s": 5})
    connection = open_transport(settings, live.gate)
    ctx = RecordingPollContext(connection.send, now=parse_now(None))
    try:
        SPEC.poll(ctx, settings)
    finally:
        connection.close()
    assert len(ctx.emitted) == 8
    assert all(a.meta["status"] == "200" for _, _, a in ctx.exchanges)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (gateway_page(503), "HTTP503"),
        (gateway_page(502), "HTTP502"),
        (server_error(), "50000"),
        (Fault(kind="malformed", body=b'{"code":200,"message":"success","data":{}}'), "MALFORMED"),
        (Fault(kind="malformed", body=b"<html>"), "HTTP200"),
    ],
    ids=["gateway 503", "gateway 502", "500 50000", "a 200 without a page", "HTML with 200"],
)
def test_a_transient_fault_stops_the_cycle_with_the_hwm_untouched(
    live: Live, fault: Fault, code: str
):
    _cases(live, 1)
    live.simulator.inject(fault)
    ctx = Journal(live)
    with pytest.raises(TransientError) as caught:
        SPEC.poll(ctx, live.settings())
    assert caught.value.code == code
    assert (ctx.emitted, ctx.commits) == ([], [])


def test_a_dropped_connection_or_a_timeout_is_transient(live: Live):
    _cases(live, 1)
    live.simulator.inject(Fault(kind="drop"))
    with pytest.raises(TransientError) as dropped:
        SPEC.poll(Journal(live), live.settings())
    live.simulator.inject(Fault(kind="delay", seconds=0.6))
    slow = live.settings(read_timeout_s=0.2)
    connection = open_transport(slow, live.gate)
    ctx = RecordingPollContext(connection.send, now=parse_now(None))
    try:
        with pytest.raises(TransientError) as timed_out:
            SPEC.poll(ctx, slow)
    finally:
        connection.close()
    assert (dropped.value.code, timed_out.value.code, ctx.commits) == ("CONNECTION", "TIMEOUT", [])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"api_keys": frozenset({"wj-test-000000000000000000000000"})}, "40101"),
        ({"unregistered_keys": frozenset({"wj-test-3c9f1e7a5b2d4c6e8f0a1b3c"})}, "40301"),
    ],
    ids=["a wrong API key", "a certificate not registered for the API"],
)
def test_a_refused_credential_stops_the_cycle_for_good(
    live: Live, change: dict[str, Any], code: str
):
    for name, value in change.items():
        setattr(live.api, name, value)
    with pytest.raises(PermanentError) as caught:
        SPEC.poll(Journal(live), live.settings())
    assert caught.value.code == code
    assert "wj-test-3c9f1e7a5b2d4c6e8f0a1b3c" not in str(caught.value)


def test_a_429_one_bus_process_gets_holds_the_key_back_in_the_others(live: Live, tmp_path):
    _cases(live, 4)
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        gates = SharedGateStore(db)
        settings = live.settings(page_size=2)
        first = open_transport(settings, RateGate(FakeClock()), gates)
        # the other process's connection as its runtime opens it (SPEC.connect_shared)
        second = SPEC.connect_shared(settings, SharedStores(SharedTokenStore(db), gates))
        try:
            live.simulator.inject(rate_limited(9))
            with pytest.raises(TransientError):
                SPEC.poll(RecordingPollContext(first.send, now=parse_now(None)), settings)
            sent = live.requests()
            with pytest.raises(TransientError) as caught:
                SPEC.poll(RecordingPollContext(second.send, now=parse_now(None)), settings)
            assert caught.value.code == "42901"
            assert 5 <= (caught.value.retry_after or 0) <= 9
            assert live.requests() == sent
        finally:
            first.close()
            second.close()
