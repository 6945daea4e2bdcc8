"""README §2.5, §5: the Ack for each verdict: HTTP status, code, reason, and the msgId echoed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from lxml import etree

from adapters.emergency import AckMemory, Answerer
from runner.adapter_api import MessageRejected, RawMessage
from runner.stores import Database
from runner.stores.body_digests import BodyDigestStore
from tests.adapters.emergency._support import BEIJING, CONFIG, SAMPLES
from tests.runner.stores import conftest as stores

NOW = dt.datetime(2024, 3, 5, 10, 30, 16, tzinfo=BEIJING)
store_url = stores.store_url  # an empty store on each backend (SQLite, PostgreSQL)
BODY = (SAMPLES / "penalty_decision-2.xml").read_bytes()


def _ack(
    verdict: str, error: MessageRejected | None = None, body: bytes = BODY
) -> tuple[int, dict[str, str]]:
    answer = Answerer(clock=lambda: NOW)(
        "penalty_decision", RawMessage(body=body), verdict, error, CONFIG
    )  # type: ignore[arg-type]
    root = etree.fromstring(answer.body)
    return answer.status, {child.tag: child.text or "" for child in root}


@pytest.mark.parametrize(
    ("verdict", "rule", "status", "code"),
    [
        ("accepted", None, 200, "0"),
        ("duplicate", None, 200, "1"),
        ("rejected", "uscc_check", 200, "2"),
        ("unauthorized", "signature_mismatch", 401, "2"),
        ("unauthorized", "nonce_replayed", 401, "2"),
        ("unauthorized", "missing_header", 401, "2"),
        ("unauthorized", "timestamp_skew", 401, "9"),
        ("unauthorized", "too_large", 413, "2"),
        ("rejected", "too_large", 413, "2"),
        ("unavailable", None, 200, "9"),
    ],
)
def test_each_verdict_has_its_status_and_code(
    verdict: str, rule: str | None, status: int, code: str
):
    error = MessageRejected("why", field="X-YJZF-Nonce", rule=rule) if rule else None
    got_status, ack = _ack(verdict, error)
    assert (got_status, ack["code"]) == (status, code)
    assert ack["msgId"] == "YJZF20240312110502000019"
    assert ack["ackTime"] == "2024-03-05 10:30:16"


def test_a_msg_id_reused_for_another_body_is_code_2():
    answerer = Answerer(clock=lambda: NOW, memory=AckMemory())
    answerer("penalty_decision", RawMessage(body=BODY), "accepted", None, CONFIG)
    changed = BODY.replace(b"<FKJE>2.00</FKJE>", b"<FKJE>3.00</FKJE>")
    answer = answerer("penalty_decision", RawMessage(body=changed), "duplicate", None, CONFIG)
    assert b"<code>2</code>" in answer.body
    assert "msgId重复但报文内容不同" in answer.body.decode()


def test_an_unknown_resend_is_still_a_success():
    _, ack = _ack("duplicate")
    assert (ack["code"], ack["reason"]) == ("1", "重复报文")


def test_a_request_without_a_msg_id_gets_an_empty_one():
    status, ack = _ack("rejected", MessageRejected("x", rule="malformed_xml"), body=b"<oops")
    assert (status, ack["msgId"], ack["reason"]) == (200, "", "XML格式错误")


def test_a_reason_never_carries_the_value_of_the_field():
    error = MessageRejected(
        "resident ID 350982197902143170 bad",
        field="payload.party.id_number",
        rule="id_number_check",
    )
    _, ack = _ack("rejected", error)
    assert ack["reason"] == "DSR/ZJHM 证件号码校验位错误"
    assert "3509821979" not in ack["reason"]


def test_an_unknown_rule_is_still_a_readable_reason():
    _, ack = _ack("rejected", MessageRejected("?", field="payload.facts", rule="something_new"))
    assert ack["reason"] == "WFSS 报文无效（something_new）"


def _restarted(store_url: str) -> Iterator[Answerer]:
    """An answerer on the durable digest store, as a freshly started process has it."""
    with Database.open(store_url) as db:
        answerer = Answerer(clock=lambda: NOW)
        answerer.use_store(BodyDigestStore(db))
        yield answerer


def test_after_a_restart_a_msg_id_reused_for_another_body_is_still_code_2(store_url: str):
    for first in _restarted(store_url):
        first("penalty_decision", RawMessage(body=BODY), "accepted", None, CONFIG)
    changed = BODY.replace(b"<FKJE>2.00</FKJE>", b"<FKJE>3.00</FKJE>")
    for answerer in _restarted(store_url):
        conflict = answerer("penalty_decision", RawMessage(body=changed), "duplicate", None, CONFIG)
        resend = answerer("penalty_decision", RawMessage(body=BODY), "duplicate", None, CONFIG)
    assert b"<code>2</code>" in conflict.body
    assert "msgId重复但报文内容不同" in conflict.body.decode()
    assert b"<code>1</code>" in resend.body
    assert "重复报文，已于2024-03-05 10:30:16接收" in resend.body.decode()


def test_the_body_first_accepted_stays_the_reference(store_url: str):
    changed = BODY.replace(b"<FKJE>2.00</FKJE>", b"<FKJE>3.00</FKJE>")
    for answerer in _restarted(store_url):
        answerer("penalty_decision", RawMessage(body=BODY), "accepted", None, CONFIG)
        answerer("penalty_decision", RawMessage(body=changed), "accepted", None, CONFIG)
        again = answerer("penalty_decision", RawMessage(body=changed), "duplicate", None, CONFIG)
    assert b"<code>2</code>" in again.body
