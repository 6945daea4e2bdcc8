"""Inbound: push answers to delivery outcomes (README §5) and lookup answers (§4.4), beyond the
samples the shared contract test maps."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.credit_fj.simulator import MAINTENANCE_PAGE
from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from runner.dryrun import map_message
from tests.adapters.credit_fj.samples import PROJECT, SAMPLES

LOOKUP_PATH = "/api/credit/v1/subjects/91350100MA2Y7K3F61"


def _map(message: str, body: bytes, status: int | None = None, **facts: str) -> Any:
    meta = {"status": str(status)} if status is not None else {}
    headers = {}
    if "retry_after" in facts:
        headers["retry-after"] = facts.pop("retry_after")
    raw = RawMessage(body=body, headers=headers, meta=meta | facts)
    return map_message(PROJECT, "credit_fj", message, raw)


def _outcome(body: bytes, status: int | None = None, **facts: str) -> dict[str, Any]:
    result = _map("push_response", body, status, **facts)
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def _answer(code: str, data: Any = None, **extra: Any) -> bytes:
    document = {"code": code, "msg": "", "requestId": "7f3a0c1e9b2d4a6c", "data": data} | extra
    return json.dumps(document, ensure_ascii=False).encode()


def _batch(total: int, accepted: list[int], rejected: dict[int, str]) -> dict[str, Any]:
    return {
        "batchNo": "MZF202403051440000001",
        "total": total,
        "accepted": [{"index": i, "recordId": f"XZCF{i}", "duplicate": False} for i in accepted],
        "rejected": [{"index": i, "code": c, "msg": f"第{i + 1}条"} for i, c in rejected.items()],
    }


# --- HTTP errors (quirk Q2, §5.1) -------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_html_error_page_means_resend_the_same_batch(status: int):
    assert _outcome(MAINTENANCE_PAGE, status) == {
        "outcome": "batch_retry",
        "code": f"HTTP{status}",
        "retry_after_s": None,
        "records": [],
    }


def test_the_retry_after_of_an_html_page_is_reported():
    assert _outcome(MAINTENANCE_PAGE, 503, retry_after="120")["retry_after_s"] == 120


def test_a_rate_limited_answer_reports_its_code_and_retry_after():
    outcome = _outcome(_answer("4290"), 429, retry_after="30")
    assert outcome == {"outcome": "batch_retry", "code": "4290", "retry_after_s": 30, "records": []}


def test_a_rate_limit_without_a_json_body_is_http429():
    outcome = _outcome(b"Too Many Requests", 429, retry_after="5")
    assert (outcome["outcome"], outcome["code"], outcome["retry_after_s"]) == (
        "batch_retry",
        "HTTP429",
        5,
    )


def test_a_non_json_client_error_fails_the_batch():
    assert _outcome(b"<html>403 Forbidden</html>", 403)["outcome"] == "batch_failed"


def test_a_non_json_answer_with_http_200_is_refused_so_the_batch_is_resent():
    with pytest.raises(MessageRejected, match="not a JSON document"):
        _outcome(b"<html>ok</html>", 200)


def test_a_utf8_bom_before_the_json_is_ignored():
    body = (SAMPLES / "push_response-1.json").read_bytes()
    assert _outcome(codecs.BOM_UTF8 + body) == _outcome(body)


def test_ebus_map_takes_the_status_and_retry_after_of_an_html_page(tmp_path: Path):
    page = tmp_path / "maintenance.html"
    page.write_bytes(MAINTENANCE_PAGE)
    result = CliRunner().invoke(
        app,
        [
            "map",
            "credit_fj",
            "push_response",
            str(page),
            "--status",
            "503",
            "--header",
            "Retry-After=30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "outcome": "batch_retry",
        "code": "HTTP503",
        "retry_after_s": 30,
        "records": [],
    }


# --- batch codes (§5.2) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("1001", "batch_failed"),
        ("1002", "batch_retry"),
        ("1003", "batch_retry"),
        ("1004", "batch_failed"),
        ("1005", "batch_failed"),
        ("1101", "batch_failed"),
        ("1102", "batch_failed"),
        ("1103", "batch_failed"),
        ("1105", "batch_failed"),
        ("4290", "batch_retry"),
        ("5000", "batch_retry"),
        ("5030", "batch_retry"),
    ],
)
def test_a_request_or_batch_code_maps_to_its_outcome(code: str, outcome: str):
    assert _outcome(_answer(code)) == {
        "outcome": outcome,
        "code": code,
        "retry_after_s": None,
        "records": [],
    }


def test_an_unknown_batch_code_is_refused():
    with pytest.raises(MessageRejected, match="9999"):
        _outcome(_answer("9999"))


# --- per-record results (§5.3, Q3, Q10) -------------------------------------------------------


def test_all_records_rejected_is_partial_with_rejected_and_retry_records():
    outcome = _outcome(_answer("0002", _batch(3, [], {2: "E3002", 0: "E2002", 1: "E2007"})))
    assert outcome["outcome"] == "partial"
    assert [(r["index"], r["status"], r["code"]) for r in outcome["records"]] == [
        (0, "rejected", "E2002"),
        (1, "rejected", "E2007"),
        (2, "retry", "E3002"),
    ]


def test_a_record_in_neither_list_is_to_be_retried():
    outcome = _outcome(_answer("0001", _batch(3, [0, 2], {})))
    assert outcome["outcome"] == "partial"
    assert outcome["records"][1] == {"index": 1, "status": "retry", "record_id": None, "code": None}


def test_a_duplicate_record_counts_as_accepted():
    data = _batch(1, [0], {})
    data["accepted"][0]["duplicate"] = True
    outcome = _outcome(_answer("0000", data))
    assert (outcome["outcome"], outcome["records"][0]["record_id"]) == ("complete", "XZCF0")


def test_a_replayed_answer_is_treated_exactly_like_the_original():
    original = _answer("0001", _batch(2, [0], {1: "E3001"}))
    replayed = _answer("0001", _batch(2, [0], {1: "E3001"}), replayed=True)
    assert _outcome(replayed) == _outcome(original)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(_batch(2, [0, 2], {}), "outside 0..1", id="index outside the batch"),
        pytest.param(_batch(2, [0], {0: "E2001"}), "twice", id="index listed twice"),
        pytest.param(_batch(2, [0], {1: "E9999"}), "E9999", id="unknown record code"),
        pytest.param(None, "total", id="no per-record data"),
    ],
)
def test_per_record_results_that_cannot_be_matched_to_the_call_are_refused(data: Any, reason: str):
    with pytest.raises(MessageRejected, match=reason):
        _outcome(_answer("0001", data))


# --- subject lookups (§4.4, Q5-Q7, Q11) -------------------------------------------------------


def _subject(**changes: Any) -> bytes:
    document = json.loads((SAMPLES / "subject_lookup_response-1.json").read_bytes())
    document["data"] |= changes
    for name in [k for k, v in changes.items() if v is ...]:
        del document["data"][name]
    return json.dumps(document, ensure_ascii=False).encode()


def _envelope(body: bytes, **facts: str) -> dict[str, Any]:
    result = _map("subject_lookup_response", body, **facts)
    assert result.outcome is None
    (envelope,) = result.envelopes
    return envelope.model_dump(mode="json")


def test_a_full_width_lower_case_code_is_folded_and_must_be_the_code_asked_for():
    body = _subject(TYSHXYDM="９１３５０１００ma２y７k３f６１")
    assert _envelope(body, path=LOOKUP_PATH)["payload"]["party"]["uscc"] == "91350100MA2Y7K3F61"
    with pytest.raises(MessageRejected, match="differ"):
        _envelope(body, path="/api/credit/v1/subjects/91350802MA31L6T256")


@pytest.mark.parametrize("none", ["", "null", ...], ids=["empty", "the word null", "absent"])
def test_a_subject_without_legal_representative_or_rating_is_l1(none: Any):
    envelope = _envelope(_subject(FDDBR=none, XYDJ=none, PJRQ=none))
    assert envelope["classification"] == "L1"
    payload = envelope["payload"]
    assert payload["party"]["legal_representative"] is None
    assert (payload["credit_level"], payload["credit_rated_on"]) == (None, None)


def test_old_ratings_dates_lower_case_levels_and_string_times_are_read():
    body = _subject(
        XYDJ="b", PJRQ="2023年12月8日", GXSJ="1709533200000", ZTMC="福州闽江源食品有限公司\u3000 "
    )
    payload = _envelope(body)["payload"]
    assert (payload["credit_level"], payload["credit_rated_on"]) == ("B", "2023-12-08")
    assert payload["updated_at"] == "2024-03-04T14:20:00+08:00"
    assert payload["party"]["name"] == "福州闽江源食品有限公司"


@pytest.mark.parametrize(
    ("text", "status"),
    [("在营（开业）企业", "active"), ("吊销，已注销", "deregistered"), ("吊销，未注销", "revoked")],
)
def test_registration_status_texts_map_to_their_status(text: str, status: str):
    assert _envelope(_subject(DJZT=text))["payload"]["registration_status"] == status


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"DJZT": "迁出"}, id="unknown registration status"),
        pytest.param({"XYDJ": "E"}, id="unknown credit level"),
        pytest.param({"ZTLX": "9"}, id="unknown subject type"),
        pytest.param({"TYSHXYDM": "91350100MA2Y7K3F62"}, id="code failing its check"),
    ],
)
def test_a_lookup_answer_with_an_unmappable_value_is_refused(change: dict[str, str]):
    with pytest.raises(MessageRejected):
        _envelope(_subject(**change))


@pytest.mark.parametrize(
    ("code", "outcome"), [("2004", "not_found"), ("2005", "batch_failed"), ("1003", "batch_retry")]
)
def test_a_lookup_answer_without_a_subject_is_an_outcome(code: str, outcome: str):
    result = _map("subject_lookup_response", _answer(code))
    assert result.outcome is not None
    assert (result.outcome.outcome, result.outcome.code) == (outcome, code)


def test_a_lookup_during_maintenance_is_to_be_retried():
    result = _map("subject_lookup_response", MAINTENANCE_PAGE, 503, path=LOOKUP_PATH)
    assert result.outcome is not None
    assert (result.outcome.outcome, result.outcome.code) == ("batch_retry", "HTTP503")
