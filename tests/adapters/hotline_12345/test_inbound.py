"""Inbound: work orders → enforcement.clue.v1 and answers → delivery outcomes (README §4.1, §5,
§7, quirks Q1-Q10), in-process and through ``ebus map``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from runner.dryrun import map_message
from tests.adapters.hotline_12345.samples import (
    PROJECT,
    SAMPLES,
    map_answer,
    map_items,
    page,
    work_order,
)

STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")
ORDER = "GD202503110004521"
ANSWER_FACTS = {
    "accept_response-1": (200, f"/api/v3/workorders/{ORDER}/accept"),
    "accept_response-2": (409, f"/api/v3/workorders/{ORDER}/accept"),
    "feedback_response-1": (200, f"/api/v3/workorders/{ORDER}/feedback"),
    "feedback_response-2": (422, f"/api/v3/workorders/{ORDER}/feedback"),
}


def _expected(stem: str) -> Any:
    return json.loads((SAMPLES / f"{stem}.expected.json").read_bytes())


def _unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def _payload(**changes: Any) -> dict[str, Any]:
    (envelope,) = map_items(work_order(**changes))
    return envelope["payload"]


def _rejected(*items: dict[str, Any]) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        map_items(*items)
    return caught.value


# --- the spec samples ---------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["workorders_page-1", "workorders_page-2", "workorders_page-3"])
def test_a_page_sample_maps_to_its_expected_clues(stem: str):
    body = (SAMPLES / f"{stem}.json").read_bytes()
    result = map_message(PROJECT, "hotline_12345", "workorders_page", RawMessage(body=body))
    expected = _expected(stem)
    got = [_unstamped(e.model_dump(mode="json")) for e in result.envelopes]
    assert got == (expected if isinstance(expected, list) else [expected])


@pytest.mark.parametrize("stem", sorted(ANSWER_FACTS))
def test_an_answer_sample_with_the_facts_of_its_call_maps_to_its_expected_outcome(stem: str):
    status, path = ANSWER_FACTS[stem]
    body = (SAMPLES / f"{stem}.json").read_bytes()
    result = map_answer(stem.split("-", maxsplit=1)[0], body, status, path)
    assert result.outcome is not None
    assert result.outcome.model_dump(mode="json") == _expected(stem)


@pytest.mark.parametrize("stem", sorted(ANSWER_FACTS))
def test_ebus_map_with_status_and_path_prints_the_expected_outcome(stem: str):
    status, path = ANSWER_FACTS[stem]
    source = str(SAMPLES / f"{stem}.json")
    args = ["map", "hotline_12345", stem.split("-", maxsplit=1)[0], source, "--status", str(status)]
    result = CliRunner().invoke(app, [*args, "--meta", f"path={path}"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == _expected(stem)


def test_an_accept_answer_without_its_path_takes_the_work_order_from_the_echoed_request_id():
    body = (SAMPLES / "accept_response-2.json").read_bytes()
    echoed = {"x-request-id": f"{ORDER}#1/accept"}
    result = map_answer("accept_response", body, 409, headers=echoed)
    assert result.outcome is not None
    assert result.outcome.records[0].record_id == ORDER


# --- quirks that are accepted -------------------------------------------------------------------


def test_lower_case_keys_of_migrated_orders_map_like_upper_case_ones_q1():
    upper = work_order()
    lower = {k.lower(): v for k, v in upper.items()}
    assert [_unstamped(e) for e in map_items(lower)] == [_unstamped(e) for e in map_items(upper)]


@pytest.mark.parametrize(
    "empty", ["", None, "null", "NULL"], ids=["empty", "json-null", "null", "NULL"]
)
def test_empty_null_and_the_string_null_all_mean_absent_q2(empty: Any):
    item = work_order()
    item["SFDZ"] = empty
    item["BFYDXDZ"] = empty
    payload = map_items(item)[0]["payload"]
    assert (payload["location"], payload["target"]["address"]) == (None, None)


def test_a_missing_optional_key_means_absent_q2():
    assert _payload(SQBT=None, SFDZ=None)["location"] is None


def test_a_fourteen_digit_acceptance_time_is_beijing_time_q3():
    payload = _payload(SLSJ="20250315100244", BLSX=3)
    assert payload["received_at"] == "2025-03-15T10:02:44+08:00"
    assert payload["due_at"] == "2025-03-19T10:02:44+08:00"


def test_a_twelve_digit_statistical_division_code_keeps_its_first_six_digits_q4():
    assert _payload(QHDM="350104003000")["division_code"] == "350104"


def test_a_re_pushed_dispatch_keeps_its_source_message_id_q5():
    first = map_items(work_order(0))[0]
    again = map_items(work_order(0, TSSJ="2025-03-15 00:31:40"))[0]
    assert again["source_message_id"] == first["source_message_id"] == "GD202503140001187#1"


def test_a_re_dispatch_to_another_agency_is_a_new_message():
    assert map_items(work_order(0, PDXH=2))[0]["source_message_id"] == "GD202503140001187#2"


def test_the_time_limit_as_a_digit_string_counts_like_a_number_q7():
    assert (
        _payload(BLSX="15")["due_at"]
        == _payload(BLSX=15)["due_at"]
        == ("2025-04-04T22:15:09+08:00")
    )


def test_full_width_uscc_and_phone_are_folded_and_phone_spaces_removed_q8():
    payload = _payload(BFYDXDM="９１３５０５２１７５７３１０２９７ｊ", SQRDH="139 5031　2288")
    assert payload["target"]["uscc"] == "91350521757310297J"
    assert payload["reporter"]["phone"] == "13950312288"


def test_a_landline_keeps_its_hyphen_q8():
    assert _payload(SQRDH="０５９８－７５１ ２３４５")["reporter"]["phone"] == "0598-7512345"


def test_content_is_trimmed_of_leading_spaces_and_the_trailing_crlf_q10():
    payload = _payload(SQNR="   化工厂夜间偷排废气。\r\n")
    assert payload["content"] == "化工厂夜间偷排废气。"


# --- mapping rules ------------------------------------------------------------------------------


def test_an_anonymous_clue_has_no_reporter_and_is_l2():
    (envelope,) = map_items(work_order(0, SFNM="1", SQRXM="匿名", SQRDH=""))
    assert envelope["payload"]["reporter"] is None
    assert envelope["classification"] == "L2"


def test_a_reporter_with_neither_name_nor_phone_is_null():
    assert _payload(SQRXM="", SQRDH="null")["reporter"] is None


def test_a_natural_person_target_has_no_uscc_and_an_l3_address():
    (envelope,) = map_items(
        work_order(0, BFYDXLX="3", BFYDXMC="张某", BFYDXDM="", SQRDH="", SFNM="1")
    )
    assert envelope["payload"]["target"]["kind"] == "natural_person"
    assert envelope["payload"]["target"]["uscc"] is None
    assert envelope["classification"] == "L3"  # a natural person's address


def test_a_target_of_unclear_kind_nine_has_kind_null():
    assert _payload(BFYDXLX="9")["target"]["kind"] is None


def test_an_organisation_target_without_a_uscc_keeps_the_order_with_kind_unknown():
    target = _payload(BFYDXDM="")["target"]
    assert (target["kind"], target["uscc"], target["name"]) == (
        None,
        None,
        "惠安县东园精细化工有限公司",
    )


@pytest.mark.parametrize(
    ("accepted", "days", "due"),
    [
        ("2025-03-10 20:41:37", 5, "2025-03-17T20:41:37+08:00"),
        ("2025-03-15 10:02:44", 3, "2025-03-19T10:02:44+08:00"),
        ("2025-03-14 22:15:09", 15, "2025-04-04T22:15:09+08:00"),
        ("2025-03-16 08:00:00", 1, "2025-03-17T08:00:00+08:00"),
    ],
    ids=["monday-5", "saturday-3", "friday-15-qingming-ignored", "sunday-1"],
)
def test_the_due_time_counts_working_days_after_acceptance_at_the_same_clock_time(
    accepted: str, days: int, due: str
):
    assert _payload(SLSJ=accepted, BLSX=days)["due_at"] == due


# --- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"SQLX": "06"}, "SQLX", "unknown_code"),
        ({"SQLX": "99"}, "SQLX", "unknown_code"),
        ({"CBDWLB": "GAJG"}, "CBDWLB", "unknown_code"),
        ({"BFYDXDM": "91350521757310297K"}, "payload.target.uscc", "uscc_check"),
        ({"CBDWTYDM": "11350521MB1G20956A"}, "payload.assigned_agency.uscc", "uscc_check"),
        ({"PDXH": "1"}, "PDXH", "whole_number"),
        ({"PDXH": 0}, "PDXH", "whole_number_range"),
        ({"BLSX": 61}, "BLSX", "whole_number_range"),
        ({"SFNM": "2"}, "SFNM", "unknown_code"),
        ({"SQNR": "   "}, "SQNR", "required"),
        ({"SQNR": None}, "SQNR", "required"),
        ({"GDBH": "GD2025031400011"}, "GDBH", "pattern"),
        ({"QHDM": "3505"}, "QHDM", "division_code_format"),
        ({"QHDM": "359999"}, "payload.division_code", None),
        ({"SLSJ": "2025/03/14 22:15:09"}, "SLSJ", None),
        ({"CBDWMC": None}, "CBDWMC", "required"),
    ],
    ids=[
        "SQLX 06 表扬 is not dispatched to agencies",
        "SQLX 99 其他",
        "unknown CBDWLB",
        "target USCC with a wrong check character",
        "agency USCC with a wrong check character",
        "PDXH as a string",
        "PDXH zero",
        "BLSX above 60",
        "SFNM neither 0 nor 1",
        "blank SQNR",
        "missing SQNR",
        "malformed GDBH",
        "four-digit QHDM",
        "QHDM never in GB/T 2260",
        "SLSJ in another format",
        "missing CBDWMC",
    ],
)
def test_a_work_order_the_spec_forbids_is_rejected_naming_its_field_and_rule(
    changes: dict[str, Any], field: str, rule: str | None
):
    error = _rejected(work_order(0, **changes))
    assert (error.system, error.message) == ("hotline_12345", "workorders_page")
    assert error.field == field
    if rule is not None:
        assert error.rule == rule


def test_a_rejection_reason_never_repeats_the_reporter_phone():
    error = _rejected(work_order(0, SQRDH="13859012786", BFYDXDM="91350521757310297K"))
    assert "13859012786" not in str(error)


def test_a_key_given_twice_in_two_cases_with_different_values_is_rejected():
    error = _rejected(work_order(0, sqlx="02", SQLX="01"))
    assert (error.field, error.rule) == ("SQLX", "duplicate_key")


def test_a_page_answer_that_is_not_json_with_http_200_is_rejected_as_malformed():
    with pytest.raises(MessageRejected) as caught:
        map_answer("workorders_page", b"<html>ok</html>")
    assert caught.value.rule == "malformed_json"


# --- delivery outcomes (README §7) ----------------------------------------------------------------


def _json(code: str) -> bytes:
    return json.dumps({"code": code, "msg": "…"}).encode()


PATH = f"/api/v3/workorders/{ORDER}/accept"
FEEDBACK_PATH = f"/api/v3/workorders/{ORDER}/feedback"
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(
    ("message", "status", "body", "headers", "expected"),
    [
        ("accept_response", 200, _json("0000"), {}, ("complete", "0000", None, True)),
        ("accept_response", 409, _json("2003"), {}, ("complete", "2003", None, True)),
        ("feedback_response", 409, _json("2004"), {}, ("complete", "2004", None, True)),
        ("feedback_response", 409, _json("2003"), {}, ("batch_failed", "2003", None, False)),
        ("accept_response", 409, _json("2004"), {}, ("batch_failed", "2004", None, False)),
        ("accept_response", 409, _json("2005"), {}, ("batch_failed", "2005", None, False)),
        (
            "accept_response",
            429,
            _json("1429"),
            {"retry-after": "17"},
            ("batch_retry", "1429", 17, False),
        ),
        ("accept_response", 403, _json("1103"), {}, ("batch_retry", "1103", 600, False)),
        ("accept_response", 500, _json("9999"), {}, ("batch_retry", "9999", None, False)),
        ("feedback_response", 200, _json("9999"), {}, ("batch_retry", "9999", None, False)),
        ("accept_response", 502, HTML, {}, ("batch_retry", "HTTP502", None, False)),
        ("feedback_response", 504, HTML, {}, ("batch_retry", "HTTP504", None, False)),
        ("accept_response", 401, _json("1101"), {}, ("batch_failed", "1101", None, False)),
        ("accept_response", 404, _json("2001"), {}, ("batch_failed", "2001", None, False)),
        ("accept_response", 403, _json("1102"), {}, ("batch_failed", "1102", None, False)),
        ("feedback_response", 400, _json("1001"), {}, ("batch_failed", "1001", None, False)),
        ("accept_response", 404, HTML, {}, ("batch_failed", "HTTP404", None, False)),
        ("workorders_page", 400, _json("1002"), {}, ("batch_failed", "1002", None, False)),
        ("workorders_page", 200, _json("9999"), {}, ("batch_retry", "9999", None, False)),
        (
            "workorders_page",
            429,
            _json("1429"),
            {"retry-after": "5"},
            ("batch_retry", "1429", 5, False),
        ),
        ("workorders_page", 503, HTML, {}, ("batch_retry", "HTTP503", None, False)),
    ],
    ids=[
        "accepted",
        "accept repeated 2003 counts as success",
        "feedback repeated 2004 counts as success",
        "2003 is no success for a feedback",
        "2004 is no success for an accept",
        "re-dispatched 2005 is permanent",
        "rate limited 429 waits Retry-After",
        "locked key 1103 waits ten minutes",
        "busy 9999 with HTTP 500 is retried",
        "busy 9999 with HTTP 200 is retried (Q6)",
        "gateway HTML 502 is retried",
        "gateway HTML 504 is retried",
        "bad key 1101 is permanent",
        "unknown order 2001 is permanent",
        "foreign order 1102 is permanent",
        "bad parameter 1001 is permanent",
        "HTML 404 is permanent",
        "expired cursor 1002 is permanent",
        "a page answer 9999 with HTTP 200 is no page (Q6)",
        "a page answer 429 waits Retry-After",
        "a page answer 503 page is retried",
    ],
)
def test_an_answer_maps_to_the_delivery_outcome_of_the_spec_table(
    message: str, status: int, body: bytes, headers: dict[str, str], expected: tuple[Any, ...]
):
    path = FEEDBACK_PATH if message == "feedback_response" else PATH
    result = map_answer(message, body, status, path, headers)
    assert result.outcome is not None
    outcome, code, retry_after, has_record = expected
    assert (result.outcome.outcome, result.outcome.code) == (outcome, code)
    assert result.outcome.retry_after_s == retry_after
    if has_record:
        assert result.outcome.model_dump(mode="json")["records"] == [
            {"index": 0, "status": "accepted", "record_id": ORDER, "code": code}
        ]
    else:
        assert result.outcome.records == []


def test_an_answer_without_a_code_is_rejected_so_the_call_is_sent_again():
    with pytest.raises(MessageRejected) as caught:
        map_answer("accept_response", b'{"msg":"?"}', 200, PATH)
    assert caught.value.rule == "required"


def test_a_page_maps_one_clue_per_item_in_page_order():
    envelopes = map_items(work_order(1), work_order(0))
    assert [e["source_message_id"] for e in envelopes] == [
        "GD202503150000342#1",
        "GD202503140001187#1",
    ]


def test_an_empty_page_maps_to_no_clue():
    result = map_message(PROJECT, "hotline_12345", "workorders_page", RawMessage(body=page()))
    assert (result.envelopes, result.outcome) == ([], None)
