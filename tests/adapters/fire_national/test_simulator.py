"""The adapter against the national simulator over loopback HTTP: poll and page, acknowledge,
upload and resend, faults (README §2.3–§2.7, §5)."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from adapters._simulators.http import Fault, HttpSimulator
from adapters._simulators.polling import RecordingPollContext
from adapters._transports.pacing import PacedConnection, RateLimit
from adapters.fire_national import SPEC
from adapters.fire_national._poll import tasks_request
from adapters.fire_national._wire import FireNationalConnection
from adapters.fire_national.simulator import FireNationalPlatform
from runner.adapter_api import CallContext, Outgoing, PermanentError, TransientError
from runner.dryrun import map_message, render_message
from runner.stamp import now
from tests.adapters.fire_national._support import PROJECT, config, load, plain_page


@pytest.fixture
def platform() -> Iterator[tuple[FireNationalPlatform, HttpSimulator, FireNationalConnection]]:
    state = FireNationalPlatform()
    with HttpSimulator(state.handle) as simulator:
        # unpaced: the simulator does not count calls, and 60 a minute would slow every test
        settings = config(simulator.url, rate_limit=None)
        connection = SPEC.connect(settings) if SPEC.connect else None
        assert isinstance(connection, FireNationalConnection)
        try:
            yield state, simulator, connection
        finally:
            connection.close()


def _issue(state: FireNationalPlatform, count: int) -> list[str]:
    template = plain_page("tasks-1")["tasks"][0]
    ids = []
    for n in range(count):
        task = copy.deepcopy(template) | {"taskId": f"DB-2024-35-{n + 1:06d}"}
        state.add_task(task)
        ids.append(f"{task['taskId']}:v1")
    return ids


def _poll(connection: FireNationalConnection, **changes: Any) -> RecordingPollContext:
    ctx = RecordingPollContext(connection.send, now=now())
    assert SPEC.poll is not None
    SPEC.poll(ctx, config(**changes))
    return ctx


def _mapped(ctx: RecordingPollContext) -> list[Any]:
    envelopes = []
    for message, answer in ctx.emitted:
        envelopes += map_message(PROJECT, "fire_national", message, answer).envelopes
    return envelopes


def _upload(connection: FireNationalConnection, message: str, items: list[dict]) -> dict[str, Any]:
    call = render_message(
        PROJECT, "fire_national", message, items, {"nonce": secrets.token_hex(16)}
    )
    answer = connection.send(call)
    outcome = map_message(PROJECT, "fire_national", "upload_response", answer).outcome
    assert outcome is not None
    return outcome.model_dump(mode="json")


def test_a_poll_cycle_follows_next_cursor_and_emits_every_page_as_received(platform):
    state, simulator, connection = platform
    ids = _issue(state, 5)
    ctx = _poll(connection, page_size=2)
    assert ctx.emitted_ids() == ["tasks", "tasks", "tasks"]
    assert [e.source_message_id for e in _mapped(ctx)] == ids
    assert all(json.loads(raw.body)["encryptData"] for _, raw in ctx.emitted)  # still sealed
    assert ctx.commits == []
    assert [r.method for r in simulator.requests] == ["GET", "GET", "GET"]


def test_acknowledged_tasks_are_not_served_again_and_the_others_are(platform):
    state, _, connection = platform
    _issue(state, 3)
    envelopes = _mapped(_poll(connection))
    items = [e.model_dump(mode="json") for e in envelopes[:2]]
    assert _upload(connection, "tasks_ack", items)["outcome"] == "complete"
    assert [a[:2] for a in state.acked] == [("DB-2024-35-000001", 1), ("DB-2024-35-000002", 1)]
    assert [e.source_message_id for e in _mapped(_poll(connection))] == ["DB-2024-35-000003:v1"]


def test_a_page_whose_sign_does_not_verify_is_dead_lettered_not_emitted(platform):
    state, _, connection = platform
    _issue(state, 1)
    state.spoil_next_page("sign")
    ctx = _poll(connection)
    assert ctx.emitted == []
    [(message, answer, error)] = ctx.rejected
    assert (message, error.rule, error.field) == ("tasks", "signature", "sign")
    assert b"encryptData" in answer.body  # the wire bytes as received, encrypted


def test_a_duplicate_in_one_page_maps_to_the_same_key_and_gateway_quirks_are_taken(platform):
    state, _, connection = platform
    _issue(state, 2)
    state.duplicate_in_page = state.bom = state.upper_sign = True
    ids = [e.source_message_id for e in _mapped(_poll(connection))]
    assert ids == ["DB-2024-35-000001:v1", "DB-2024-35-000001:v1", "DB-2024-35-000002:v1"]


@pytest.mark.parametrize(
    ("code", "error", "retry_after"),
    [
        ("42900", TransientError, 60.0),
        ("50300", TransientError, None),
        ("40301", PermanentError, None),
    ],
)
def test_a_refused_poll_raises_the_error_of_its_code(platform, code, error, retry_after):
    state, _, connection = platform
    state.refuse_next(code)
    with pytest.raises(error) as caught:
        _poll(connection)
    assert caught.value.code == code
    if retry_after is not None:
        assert caught.value.retry_after == retry_after


def test_a_gateway_503_and_a_dropped_connection_are_transient(platform):
    _, simulator, connection = platform
    simulator.inject(Fault("status", status=503))
    with pytest.raises(TransientError):
        _poll(connection)
    simulator.inject(Fault("drop"))
    with pytest.raises(TransientError):
        _poll(connection)


def test_an_unencoded_plus_in_the_query_fails_the_signature_as_on_the_gateway(platform):
    state, _, connection = platform
    call = tasks_request(
        config(), "", str(now().timestamp() * 1000).split(".")[0], secrets.token_hex(16)
    )
    plain_path = call.path.replace("%2B", "+")
    if plain_path == call.path:
        pytest.fail(
            "the sealed query has no '+' to spoil; choose another nonce"
        )  # pragma: no cover
    answer = connection.send(Outgoing(b"", call.headers, "GET", plain_path))
    assert json.loads(answer.body)["code"] == "40104"
    assert state.pending == []


def test_an_upload_is_accepted_then_a_resend_is_a_duplicate_with_the_same_receipt(platform):
    state, _, connection = platform
    items = [load("penalties-1.input.json"), load("penalties-2.input.json")]
    first = _upload(connection, "penalties", items)
    assert first["outcome"] == "complete"
    again = _upload(connection, "penalties", items)
    assert again["code"] == "40901"
    assert again["outcome"] == "complete"
    assert [r["record_id"] for r in again["records"]] == [r["record_id"] for r in first["records"]]
    assert len(state.records) == 2


def test_inspections_are_uploaded_and_a_stale_timestamp_is_retried(platform):
    state, _, connection = platform
    assert (
        _upload(connection, "inspections", [load("inspections-2.input.json")])["outcome"]
        == "complete"
    )
    document = PROJECT.outbound_mapping("fire_national", "inspections").render(
        [load("inspections-3.input.json")]
    )
    stale = CallContext(
        now=now(), nonce=secrets.token_hex(16), extra={"timestamp": "1709863200000"}
    )
    answer = connection.send(SPEC.outgoing("inspections", document, config(), stale))
    outcome = map_message(PROJECT, "fire_national", "upload_response", answer).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code) == ("batch_retry", "40102")
    assert len(state.records) == 1


def test_a_reused_nonce_is_refused_and_a_wrong_key_fails_decryption(platform):
    _, _, connection = platform
    document = PROJECT.outbound_mapping("fire_national", "penalties").render(
        [load("penalties-3.input.json")]
    )
    call = CallContext(now=now(), nonce=secrets.token_hex(16))
    framed = SPEC.outgoing("penalties", document, config(), call)
    assert json.loads(connection.send(framed).body)["code"] == "0"
    assert json.loads(connection.send(framed).body)["code"] == "40103"
    wrong = config(sm4_iv="00" * 16)
    other = SPEC.outgoing(
        "penalties", document, wrong, CallContext(now=now(), nonce=secrets.token_hex(16))
    )
    assert json.loads(connection.send(other).body)["code"] == "40003"


def test_the_connection_is_paced_under_the_appids_60_requests_a_minute():
    settings = config("http://127.0.0.1:9", app_id="FJ35PACINGTEST")  # a pacer of its own
    connection = SPEC.connect(settings) if SPEC.connect else None
    assert isinstance(connection, FireNationalConnection)
    try:
        assert isinstance(connection.transport, PacedConnection)
        assert connection.transport.pacer.rate_limit == RateLimit(per_min=60, burst=10)
        waits = [connection.transport.pacer.reserve() for _ in range(11)]
    finally:
        connection.close()
    assert waits[:10] == pytest.approx([0.0] * 10, abs=0.05)  # a poll cycle's pages at once
    assert waits[10] > 1.0  # then no faster than a minute's 60 allow
