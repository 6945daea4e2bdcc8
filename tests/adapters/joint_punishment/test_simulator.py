"""The adapter against the system simulator over loopback HTTP: render, frame, send through the
OAuth connection on the shared HTTP transport, map the answer (README §2, §4, §5, §6)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters._simulators.http import Fault, HttpSimulator, Request, Response
from adapters._transports.http import HttpTransport
from adapters.joint_punishment import SPEC
from adapters.joint_punishment.simulator import (
    CourtCase,
    Debtor,
    JointPunishmentPlatform,
    gateway_error,
    rate_limited,
)
from adapters.joint_punishment.token import OAuthConnection, TokenCache, shared_tokens
from adapters.joint_punishment.wire import token_call
from runner.adapter_api import (
    CallContext,
    MessageRejected,
    Outgoing,
    PermanentError,
    RawMessage,
    SharedStores,
    TransientError,
)
from runner.dryrun import DryRun, map_message, render_message
from runner.stores import Database
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedTokenStore
from schemas.timeutil import SHANGHAI
from tests.adapters.joint_punishment.samples import (
    PROJECT,
    SAMPLE_TOKEN,
    config,
    expected,
    inputs,
    read_http,
)

QUERY_PATH = "/api/v1/dishonest/query"
FEEDBACK_PATH = "/api/v1/feedback"

ZHANG = Debtor(
    name="张小三",
    subject_type="4",
    id_type="111",
    id_number="350102198806151233",
    cases=(CourtCase("福州市鼓楼区人民法院", "(2023)闽0102执1234号", "2023-06-12"),),
    measures=("CJ021", "CJ031", "CJ061"),
)
JINLONG = Debtor(
    name="龙岩市新罗区金龙矿业有限公司",
    uscc="91350802MA31L6T256",
    fddbr="邱永福",
    cases=(
        CourtCase("龙岩市新罗区人民法院", "（2022）闽0802执3318号", "20221103", "违反财产报告制度"),
        CourtCase("龙岩市中级人民法院", "〔2023〕闽08执恢45号", "2023年9月20日"),
    ),
    measures=("CJ061", "CJ021", "CJ031", "CJ032", "CJ061"),
)

MINJIANG = ("91350100MA2Y7K3F61", "福州闽江源食品有限公司", "陈建华")
"""An honest organisation in the register (sample 1)."""


@dataclass
class System:
    """The simulator, its state, and a connection to it with a token cache of its own."""

    state: JointPunishmentPlatform
    simulator: HttpSimulator
    connection: OAuthConnection

    def send(self, message: str, item: dict[str, Any]) -> RawMessage:
        call = render_message(PROJECT, "joint_punishment", message, [item], {})
        return self.connection.send(call)

    def query(self, item: dict[str, Any]) -> DryRun:
        raw = self.send("dishonest_query", item)
        return map_message(PROJECT, "joint_punishment", "dishonest_query_response", raw)

    def feedback(self, item: dict[str, Any]) -> dict[str, Any]:
        raw = self.send("feedback", item)
        result = map_message(PROJECT, "joint_punishment", "feedback_response", raw)
        assert result.outcome is not None
        return result.outcome.model_dump(mode="json")

    def api_requests(self, path: str) -> list[Request]:
        return [r for r in self.simulator.requests if r.path == path]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HttpSimulator, list[JointPunishmentPlatform]]]:
    """One loopback server for the module; each test gets a fresh system state behind it."""
    current: list[JointPunishmentPlatform] = []

    def dispatch(request: Request) -> Response:
        return current[-1].handle(request)

    with HttpSimulator(dispatch) as simulator:
        yield simulator, current


def _open(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
    state: JointPunishmentPlatform,
    **settings: Any,
) -> Iterator[System]:
    simulator, current = server
    current.append(state)
    simulator.requests.clear()
    connection = OAuthConnection(config(simulator.url, **settings), cache=TokenCache())
    try:
        yield System(state, simulator, connection)
    finally:
        connection.close()


@pytest.fixture
def system(server: tuple[HttpSimulator, list[JointPunishmentPlatform]]) -> Iterator[System]:
    state = JointPunishmentPlatform(sync_window=None)
    for debtor in (ZHANG, JINLONG):
        state.add_debtor(debtor)
    state.organisations[MINJIANG[0]] = MINJIANG[1:]
    yield from _open(server, state)


def _payloads(result: DryRun) -> dict[str, dict[str, Any]]:
    return {
        e.source_message_id.rsplit("#", 1)[1]: e.model_dump(mode="json")["payload"]
        for e in result.envelopes
    }


def _expected_payloads(stem: str) -> dict[str, dict[str, Any]]:
    return {e["source_message_id"].rsplit("#", 1)[1]: e["payload"] for e in expected(stem)}


# --- queries ----------------------------------------------------------------------------------


def test_a_query_goes_out_as_the_sample_request_with_the_issued_token(system: System):
    system.state.issue_next(SAMPLE_TOKEN)
    system.query(inputs("dishonest_query-1"))
    sample = read_http("dishonest_query-1")
    (request,) = system.api_requests(QUERY_PATH)
    assert request.body == sample.body
    for name in ("Authorization", "Content-Type", "Accept", "X-Request-Id"):
        assert request.headers[name.lower()] == sample.header(name)


@pytest.mark.parametrize("n", ["1", "2"])
def test_a_query_answer_maps_to_the_samples_expected_checks(system: System, n: str):
    result = system.query(inputs(f"dishonest_query-{n}"))
    got, want = _payloads(result), _expected_payloads(f"dishonest_query_response-{n}")
    for payload in (*got.values(), *want.values()):
        payload.pop("checked_at")
    assert got == want
    assert all(e.source_message_id.startswith("CX") for e in result.envelopes)
    assert [e.case_code for e in result.envelopes] == [
        e["case_code"] for e in expected(f"dishonest_query_response-{n}")
    ]


@pytest.mark.parametrize("style", ["string", "number", "boolean"])
def test_every_spelling_of_is_dishonest_and_null_lists_map_alike(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]], style: Any
):
    state = JointPunishmentPlatform(dishonest_style=style, null_lists=True, sync_window=None)
    state.add_debtor(ZHANG)
    state.organisations[MINJIANG[0]] = MINJIANG[1:]
    for system in _open(server, state):
        payloads = _payloads(system.query(inputs("dishonest_query-1")))
        assert (payloads["1"]["is_dishonest"], payloads["2"]["is_dishonest"]) == (False, True)
        assert (payloads["1"]["cases"], payloads["1"]["measures"]) == ([], [])


def test_a_court_record_with_a_legacy_id_number_maps_to_the_eighteen_digit_form(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    state = JointPunishmentPlatform(sync_window=None)
    state.add_debtor(Debtor(**{**vars(ZHANG), "id_number": "350102880615123"}))
    for system in _open(server, state):
        answer = json.loads(system.send("dishonest_query", inputs("dishonest_query-1")).body)
        assert answer["results"][1]["idNumber"] == "350102880615123"
        result = system.query(inputs("dishonest_query-1"))
        assert _payloads(result)["2"]["party"]["id_number"] == "350102198806151233"


def test_results_come_ordered_by_subject_type_and_are_matched_by_seq(system: System):
    item = inputs("dishonest_query-1")
    item["subjects"] = item["subjects"][::-1]  # the natural person is seq 1
    answer = json.loads(system.send("dishonest_query", item).body)
    assert [r["seq"] for r in answer["results"]] == [2, 1]
    kinds = {k: p["party"]["kind"] for k, p in _payloads(system.query(item)).items()}
    assert kinds == {"1": "natural_person", "2": "legal_person"}


def test_subjects_the_system_cannot_check_give_no_message_and_the_others_do(system: System):
    system.state.organisations[MINJIANG[0]] = ("福州另一家公司", None)  # S02
    system.state.unavailable.add("350102198806151233")  # S04
    item = inputs("dishonest_query-1")
    item["subjects"].append(inputs("dishonest_query-2")["subjects"][0])
    result = system.query(item)
    assert [e.source_message_id.rsplit("#")[1] for e in result.envelopes] == ["3"]


def test_a_query_of_more_than_fifty_subjects_sent_anyway_is_refused_for_good(system: System):
    body = json.loads(
        render_message(
            PROJECT, "joint_punishment", "dishonest_query", [inputs("dishonest_query-2")], {}
        ).body
    )
    body["subjects"] = [dict(body["subjects"][0], seq=i) for i in range(1, 52)]
    raw_body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    call = SPEC.outgoing("dishonest_query", raw_body, config(), CallContext(now=_at(9)))
    raw = system.connection.send(call)
    result = map_message(PROJECT, "joint_punishment", "dishonest_query_response", raw)
    assert result.outcome is not None
    assert (result.outcome.outcome, result.outcome.code) == ("batch_failed", "40002")


def test_during_the_nightly_court_sync_a_query_is_retried_later(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    for system in _open(server, JointPunishmentPlatform(clock=lambda: _at(1, 10))):
        result = system.query(inputs("dishonest_query-2"))
        assert result.outcome is not None
        assert (result.outcome.outcome, result.outcome.code) == ("batch_retry", "50301")


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 3, 6, hour, minute, tzinfo=SHANGHAI)


# --- feedback ---------------------------------------------------------------------------------


def test_a_feedback_is_stored_once_and_a_resend_is_complete_with_the_same_number(system: System):
    first = system.feedback(inputs("feedback-1"))
    again = system.feedback(inputs("feedback-1"))
    assert first["outcome"] == again["outcome"] == "complete"
    assert first["records"][0]["record_id"].startswith("FK")
    assert again["records"] == first["records"]
    assert list(system.state.feedbacks) == ["01HRG4T6V8X0Z2B4D6F8H0J2K4"]


def test_a_feedback_id_reused_with_other_content_is_refused_for_good(system: System):
    system.feedback(inputs("feedback-1"))
    changed = inputs("feedback-1")
    changed["payload"]["applied_measures"][0]["note"] = "另行处理"
    outcome = system.feedback(changed)
    assert (outcome["outcome"], outcome["code"], outcome["records"]) == (
        "batch_failed",
        "40004",
        [],
    )


def test_a_measure_not_for_the_agencys_field_is_refused_for_good(system: System):
    item = inputs("feedback-1")
    item["payload"]["applied_measures"][0]["code"] = "CJ041"  # YJGL only; the agency is STHJ
    outcome = system.feedback(item)
    assert (outcome["outcome"], outcome["code"]) == ("batch_failed", "40005")


def test_a_natural_persons_feedback_is_stored(system: System):
    outcome = system.feedback(inputs("feedback-2"))
    assert outcome["outcome"] == "complete"
    assert system.state.feedbacks


# --- tokens (§2.2, Q2, Q3) --------------------------------------------------------------------


def test_a_token_is_fetched_once_and_reused(system: System):
    system.feedback(inputs("feedback-1"))
    system.feedback(inputs("feedback-2"))
    assert system.state.tokens_issued == 1
    assert len(system.api_requests("/oauth/token")) == 1


def test_a_token_revoked_by_a_newer_one_is_refreshed_once_and_the_call_resent(system: System):
    system.feedback(inputs("feedback-1"))
    system.state.revoke_tokens()  # another client process took a new token (Q2)
    outcome = system.feedback(inputs("feedback-2"))
    assert outcome["outcome"] == "complete"
    assert system.state.tokens_issued == 2
    assert len(system.api_requests(FEEDBACK_PATH)) == 3


def test_an_expired_token_behind_the_old_gateway_is_refreshed_on_code_40101(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    for system in _open(server, JointPunishmentPlatform(legacy_gateway=True, sync_window=None)):
        system.feedback(inputs("feedback-1"))
        system.state.expire_tokens()
        outcome = system.feedback(inputs("feedback-2"))
        sent = [json.loads(r.body)["feedbackId"] for r in system.api_requests(FEEDBACK_PATH)]
        assert outcome["outcome"] == "complete"
        assert sent == ["01HRG4T6V8X0Z2B4D6F8H0J2K4"] + ["01HRB7M2XK4Q9W3E5R7T9Y1V3J"] * 2
        assert system.state.tokens_issued == 2


def test_a_second_401_is_reported_as_refresh_token_after_one_retry(system: System):
    refused = Fault(
        kind="status", status=401, body=b'{"error":"invalid_token"}', path_prefix="/api"
    )
    system.simulator.inject(refused, times=2)
    outcome = system.feedback(inputs("feedback-1"))
    assert (outcome["outcome"], outcome["code"]) == ("refresh_token", "HTTP401")
    assert len(system.api_requests(FEEDBACK_PATH)) == 2
    assert system.state.tokens_issued == 2


def test_a_token_within_300_seconds_of_expiry_is_replaced_before_the_call(system: System):
    clock = [0.0]
    system.connection = OAuthConnection(
        system.connection.config,
        HttpTransport("t", system.simulator.url),
        TokenCache(300, lambda: clock[0]),
    )
    system.feedback(inputs("feedback-1"))
    clock[0] = 7200 - 299
    system.feedback(inputs("feedback-2"))
    assert system.state.tokens_issued == 2
    assert len(system.api_requests(FEEDBACK_PATH)) == 2
    system.connection.close()


def test_wrong_client_credentials_are_a_permanent_error(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    for system in _open(server, JointPunishmentPlatform(sync_window=None), client_secret="wrong"):
        with pytest.raises(PermanentError, match="HTTP 401"):
            system.send("feedback", inputs("feedback-1"))
        assert system.api_requests(FEEDBACK_PATH) == []


def test_the_token_endpoint_allows_ten_tokens_a_minute(system: System):
    transport = HttpTransport("t", system.simulator.url)
    try:
        statuses = [transport.send(token_call(config())).meta["status"] for _ in range(11)]
    finally:
        transport.close()
    assert statuses == ["200"] * 10 + ["429"]


def test_connections_opened_by_spec_share_one_token_per_client(system: System):
    first = (
        SPEC.connect(config(system.simulator.url, client_id="mzf-esb")) if SPEC.connect else None
    )
    second = SPEC.connect(config(system.simulator.url)) if SPEC.connect else None
    assert isinstance(first, OAuthConnection)
    assert isinstance(second, OAuthConnection)
    try:
        item = inputs("feedback-1")
        first.send(render_message(PROJECT, "joint_punishment", "feedback", [item], {}))
        issued = system.state.tokens_issued
        second.send(render_message(PROJECT, "joint_punishment", "feedback", [item], {}))
        assert system.state.tokens_issued == issued
    finally:
        first.close()
        second.close()
        second.close()  # closing twice is harmless


# --- faults -----------------------------------------------------------------------------------


def test_a_rate_limited_call_is_retried_after_the_seconds_the_gateway_asks(system: System):
    system.simulator.inject(Fault(**{**vars(rate_limited(5)), "path_prefix": "/api"}))
    outcome = system.feedback(inputs("feedback-1"))
    assert outcome == {"outcome": "batch_retry", "code": "42901", "retry_after_s": 5, "records": []}


def test_more_than_the_per_second_rate_answers_42901_with_retry_after(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    frozen = _at(10)
    for system in _open(server, JointPunishmentPlatform(rate_per_s=2, clock=lambda: frozen)):
        outcomes = [system.feedback(inputs("feedback-1")) for _ in range(3)]
        assert [o["outcome"] for o in outcomes] == ["complete", "complete", "batch_retry"]
        assert (outcomes[2]["code"], outcomes[2]["retry_after_s"]) == ("42901", 1)


@pytest.mark.parametrize("status", [502, 503])
def test_a_gateway_error_page_is_a_batch_retry(system: System, status: int):
    system.simulator.inject(Fault(**{**vars(gateway_error(status)), "path_prefix": "/api"}))
    outcome = system.feedback(inputs("feedback-1"))
    assert (outcome["outcome"], outcome["code"]) == ("batch_retry", f"HTTP{status}")


def test_a_business_error_50000_is_a_batch_retry(system: System):
    system.state.fail_next("50000")
    outcome = system.feedback(inputs("feedback-1"))
    assert (outcome["outcome"], outcome["code"]) == ("batch_retry", "50000")
    assert system.feedback(inputs("feedback-1"))["outcome"] == "complete"


def test_an_answer_slower_than_the_read_timeout_is_a_transient_timeout(
    server: tuple[HttpSimulator, list[JointPunishmentPlatform]],
):
    for system in _open(server, JointPunishmentPlatform(sync_window=None), read_timeout_s=0.2):
        system.simulator.inject(Fault(kind="delay", seconds=0.6, path_prefix="/api"))
        with pytest.raises(TransientError) as info:
            system.send("feedback", inputs("feedback-1"))
        assert info.value.code == "TIMEOUT"


def test_a_dropped_connection_is_transient(system: System):
    system.simulator.inject(Fault(kind="drop", path_prefix="/api"))
    with pytest.raises(TransientError) as info:
        system.send("feedback", inputs("feedback-1"))
    assert info.value.code == "CONNECTION"


def test_a_malformed_answer_is_rejected_so_the_call_is_sent_again(system: System):
    system.simulator.inject(Fault(kind="malformed", body=b'{"code":"0",', path_prefix="/api"))
    raw = system.send("dishonest_query", inputs("dishonest_query-2"))
    with pytest.raises(MessageRejected, match=r"\[malformed_json\]"):
        map_message(PROJECT, "joint_punishment", "dishonest_query_response", raw)


def test_an_unknown_path_is_a_client_error(system: System):
    call = Outgoing(b"{}", {"X-Request-Id": "x"}, "POST", "/api/v2/unknown")
    raw = system.connection.send(call)
    assert raw.meta["status"] == "404"
    assert raw.body.startswith(b"<html>")


def test_the_simulator_revokes_a_clients_previous_token_when_it_issues_a_new_one(system: System):
    transport = HttpTransport("t", system.simulator.url)
    try:
        tokens = [json.loads(transport.send(token_call(config())).body) for _ in range(2)]
        item = inputs("feedback-1")
        call = render_message(PROJECT, "joint_punishment", "feedback", [item], {})
        old, new = (
            transport.send(
                Outgoing(
                    call.body,
                    {**call.headers, "Authorization": f"Bearer {t['access_token']}"},
                    call.method,
                    call.path,
                )
            )
            for t in tokens
        )
    finally:
        transport.close()
    assert (old.meta["status"], json.loads(old.body)) == ("401", {"error": "invalid_token"})
    assert json.loads(new.body)["code"] == "0"


def test_two_bus_processes_share_one_token_through_the_store(system: System, tmp_path: Path):
    """Q2 across processes: each process has its own token cache; the second adopts the token
    the first fetched instead of fetching one that would revoke it."""
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        stores = SharedStores(SharedTokenStore(db), SharedGateStore(db))
        settings = system.connection.config
        processes = [  # each with a token cache of its own, as in two processes
            OAuthConnection(settings, cache=TokenCache(), shared=shared_tokens(settings, stores))
            for _ in range(2)
        ]
        try:
            for turn in range(6):
                system.connection = processes[turn % 2]
                result = system.query(inputs("dishonest_query-1"))
                assert result.envelopes, result
        finally:
            for connection in processes:
                connection.close()
    assert system.state.tokens_issued == 1
    assert len(system.api_requests(QUERY_PATH)) == 6  # none refused and resent


def test_the_runtime_opens_connections_that_publish_their_token_to_the_store(
    system: System, tmp_path: Path
):
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        stores = SharedStores(SharedTokenStore(db), SharedGateStore(db))
        connection = SPEC.connect_shared(system.connection.config, stores)
        system.connection = connection
        try:
            assert system.query(inputs("dishonest_query-1")).envelopes
        finally:
            connection.close()
        with db.read() as conn:
            (published,) = conn.exec_driver_sql("SELECT version FROM ebus_shared_tokens").one()
    assert published == 1
