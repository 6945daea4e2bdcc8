"""Inbound: query answers to dishonest_check envelopes with every quirk the README allows (§4.2,
§6), and every answer code to its delivery outcome (§5.2, §5.3), beyond the samples the shared
contract test maps."""

from __future__ import annotations

import copy
import json
import logging
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from runner.dryrun import map_message
from tests.adapters.joint_punishment.samples import PROJECT, SAMPLES, expected

ANSWER = json.loads((SAMPLES / "dishonest_query_response-1.json").read_bytes())


def _raw(document: Any, status: int | None = None, retry_after: str | None = None) -> RawMessage:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    meta = {"status": str(status)} if status is not None else {}
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return RawMessage(body=body, headers=headers, meta=meta)


def _map(message: str, document: Any, status: int | None = None, **kw: Any) -> Any:
    return map_message(PROJECT, "joint_punishment", message, _raw(document, status, **kw))


def _outcome(message: str, document: Any, status: int | None = None, **kw: Any) -> Any:
    result = _map(message, document, status, **kw)
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def _payloads(document: Any) -> list[dict[str, Any]]:
    result = _map("dishonest_query_response", document)
    assert result.outcome is None
    return [e.model_dump(mode="json")["payload"] for e in result.envelopes]


def _rejected_subject(document: Any) -> str:
    """The one rejection of a two-subject answer whose second subject is bad: that subject is
    dead-lettered alone while the first still maps (a bad record never sinks its page)."""
    result = _map("dishonest_query_response", document)
    assert [e.source_message_id for e in result.envelopes] == ["CX20240305144012000123#1"]
    assert len(result.rejected) == 1
    return str(result.rejected[0])


def _person(**changes: Any) -> dict[str, Any]:
    """The answer of sample 1 with its natural person's result changed."""
    answer = copy.deepcopy(ANSWER)
    answer["results"][1] |= changes
    return answer


# --- quirks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "dishonest"),
    [
        pytest.param("1", True, id="v1.3 string one"),
        pytest.param("0", False, id="v1.3 string zero"),
        pytest.param(1, True, id="v1.2 number one"),
        pytest.param(0, False, id="v1.2 number zero"),
        pytest.param(True, True, id="v1.1 true"),
        pytest.param(False, False, id="v1.1 false"),
    ],
)
def test_all_three_spellings_of_is_dishonest_are_read(flag: Any, dishonest: bool):
    assert _payloads(_person(isDishonest=flag))[1]["is_dishonest"] is dishonest


def test_an_is_dishonest_value_outside_the_three_spellings_rejects_that_subject():
    assert re.search(
        r"payload\.is_dishonest: .*\[boolean_format\]", _rejected_subject(_person(isDishonest="Y?"))
    )


@pytest.mark.parametrize(
    "ah",
    [
        pytest.param("(2023)闽0102执1234号", id="ascii parentheses"),
        pytest.param("（2023）闽0102执1234号", id="full-width parentheses"),
        pytest.param("〔2023〕闽0102执1234号", id="tortoise-shell brackets"),
        pytest.param("（２０２３）闽０１０２执１２３４号", id="full-width digits"),
        pytest.param("  (2023)闽0102执1234号 ", id="surrounding blanks"),
    ],
)
def test_every_case_number_spelling_is_normalised(ah: str):
    case = {"zxfy": "福州市鼓楼区人民法院", "ah": ah, "fbrq": "2023-06-12"}
    assert _payloads(_person(cases=[case]))[1]["cases"][0]["case_no"] == "(2023)闽0102执1234号"


@pytest.mark.parametrize("fbrq", ["2023-06-12", "20230612", "2023年6月12日", "2023年06月12日"])
def test_every_publication_date_format_gives_midnight_in_beijing(fbrq: str):
    case = {"zxfy": "福州市鼓楼区人民法院", "ah": "(2023)闽0102执1234号", "fbrq": fbrq}
    cases = _payloads(_person(cases=[case]))[1]["cases"]
    assert cases[0]["published_at"] == "2023-06-12T00:00:00+08:00"


def test_a_publication_date_in_no_known_format_rejects_that_subject():
    case = {"zxfy": "福州市鼓楼区人民法院", "ah": "(2023)闽0102执1234号", "fbrq": "12/06/2023"}
    assert "[datetime_format]" in _rejected_subject(_person(cases=[case]))


def test_a_legacy_fifteen_digit_id_number_is_upgraded_to_eighteen():
    party = _payloads(_person(idNumber="350102880615123"))[1]["party"]
    assert party["id_number"] == "350102198806151233"


def test_an_eighteen_digit_id_number_failing_its_check_rejects_that_subject_without_repeating_it():
    reason = _rejected_subject(_person(idNumber="350102198806151234"))
    assert re.search(r"party.*\[id_number_check\]", reason)
    assert "350102198806151234" not in reason


def test_a_full_width_lower_case_uscc_is_folded():
    answer = copy.deepcopy(ANSWER)
    answer["results"][0]["uscc"] = "９１３５０１００ma２y７k３f６１"
    assert _payloads(answer)[0]["party"]["uscc"] == "91350100MA2Y7K3F61"


def test_a_uscc_failing_gb_32100_rejects_a_single_subject_answer():
    answer = copy.deepcopy(ANSWER)
    answer["results"] = answer["results"][:1]
    answer["results"][0]["uscc"] = "91350100MA2Y7K3F62"
    with pytest.raises(MessageRejected, match=r"party.uscc.*\[uscc_check\]"):
        _map("dishonest_query_response", answer)


@pytest.mark.parametrize(
    "lists",
    [
        pytest.param({"cases": None, "measures": None}, id="null"),
        pytest.param({}, id="absent"),
        pytest.param({"cases": [], "measures": []}, id="empty"),
    ],
)
def test_null_or_absent_lists_of_an_honest_subject_are_empty(lists: dict[str, Any]):
    answer = copy.deepcopy(ANSWER)
    del answer["results"][0]["cases"], answer["results"][0]["measures"]
    answer["results"][0] |= lists
    payload = _payloads(answer)[0]
    assert (payload["cases"], payload["measures"]) == ([], [])


def test_a_measure_listed_twice_appears_once_in_response_order():
    measures = [{"cscode": c} for c in ("CJ031", "CJ021", "CJ031", "CJ001")]
    assert _payloads(_person(measures=measures))[1]["measures"] == ["CJ031", "CJ021", "CJ001"]


def test_a_measure_code_outside_the_table_rejects_that_subject():
    reason = _rejected_subject(_person(measures=[{"cscode": "CJ099"}]))
    assert re.search(r"payload\.measures: .*CJ099.*\[unknown_code\]", reason)


def test_results_are_correlated_by_seq_not_by_position():
    answer = copy.deepcopy(ANSWER)
    answer["results"] = answer["results"][::-1]
    result = _map("dishonest_query_response", answer)
    ids = {e.source_message_id: e.payload.party.kind for e in result.envelopes}
    assert ids == {
        "CX20240305144012000123#1": "legal_person",
        "CX20240305144012000123#2": "natural_person",
    }


def test_a_seq_answered_twice_rejects_the_answer():
    answer = copy.deepcopy(ANSWER)
    answer["results"][1]["seq"] = 1
    with pytest.raises(MessageRejected, match=r"\[seq_twice\]"):
        _map("dishonest_query_response", answer)


def test_a_result_without_a_whole_number_seq_rejects_the_answer():
    with pytest.raises(MessageRejected, match=r"\[seq\]"):
        _map("dishonest_query_response", _person(seq="2"))


def test_a_success_without_a_results_list_rejects_the_answer():
    answer = copy.deepcopy(ANSWER) | {"results": None}
    with pytest.raises(MessageRejected, match=r"\[malformed\]"):
        _map("dishonest_query_response", answer)


def test_a_subject_the_system_could_not_check_gives_no_message_and_is_logged_by_seq_only(
    caplog: pytest.LogCaptureFixture,
):
    answer = copy.deepcopy(ANSWER)
    answer["results"][1] = {"seq": 2, "errCode": "S01", "errMsg": "证件号码校验不通过"}
    with caplog.at_level(logging.INFO, logger="ebus.adapters.joint_punishment"):
        result = _map("dishonest_query_response", answer)
    assert [e.source_message_id for e in result.envelopes] == ["CX20240305144012000123#1"]
    assert "seq 2" in caplog.text
    assert "S01" in caplog.text
    assert "张小三" not in caplog.text


def test_an_honest_organisation_without_a_legal_representative_is_l1():
    answer = copy.deepcopy(ANSWER)
    answer["results"][0]["fddbr"] = ""
    result = _map("dishonest_query_response", answer)
    assert result.envelopes[0].payload.party.legal_representative is None
    assert [e.classification for e in result.envelopes] == ["L1", "L3"]


def test_the_biz_no_echoed_back_becomes_the_envelope_case_code():
    answer = copy.deepcopy(ANSWER)
    answer["results"][0]["bizNo"] = "FJ3501002024SC1A2B3C4D"
    result = _map("dishonest_query_response", answer)
    assert [e.case_code for e in result.envelopes] == ["FJ3501002024SC1A2B3C4D", None]


def test_a_biz_no_that_is_not_a_case_code_rejects_that_subject():
    assert "[case_code_format]" in _rejected_subject(_person(bizNo="XK-2024-1"))


def test_the_message_occurred_when_the_query_was_answered():
    result = _map("dishonest_query_response", ANSWER)
    assert result.envelopes[0].occurred_at.isoformat() == "2024-03-05T14:40:12+08:00"


# --- answer codes → delivery outcomes (§5.2, §5.3) --------------------------------------------

CODES = [
    ("40101", "refresh_token"),
    ("40102", "refresh_token"),
    ("40001", "batch_failed"),
    ("40002", "batch_failed"),
    ("40003", "batch_failed"),
    ("40004", "batch_failed"),
    ("40005", "batch_failed"),
    ("40301", "batch_failed"),
    ("42901", "batch_retry"),
    ("50000", "batch_retry"),
    ("50301", "batch_retry"),
]


@pytest.mark.parametrize("message", ["dishonest_query_response", "feedback_response"])
@pytest.mark.parametrize(("code", "outcome"), CODES, ids=[f"{c} {o}" for c, o in CODES])
def test_every_result_code_gives_its_outcome(message: str, code: str, outcome: str):
    answer = {"code": code, "msg": "", "data": None, "results": None}
    assert _outcome(message, answer) == {
        "outcome": outcome,
        "code": code,
        "retry_after_s": None,
        "records": [],
    }


@pytest.mark.parametrize("message", ["dishonest_query_response", "feedback_response"])
def test_an_unknown_result_code_rejects_the_answer(message: str):
    with pytest.raises(MessageRejected, match=r"\[unknown_code\]"):
        _map(message, {"code": "40999", "msg": "?"})


@pytest.mark.parametrize("message", ["dishonest_query_response", "feedback_response"])
def test_http_401_invalid_token_asks_for_a_token_refresh(message: str):
    assert _outcome(message, {"error": "invalid_token"}, 401) == {
        "outcome": "refresh_token",
        "code": "HTTP401",
        "retry_after_s": None,
        "records": [],
    }


@pytest.mark.parametrize("message", ["dishonest_query_response", "feedback_response"])
def test_http_429_is_retried_after_the_seconds_the_peer_asks(message: str):
    answer = {"code": "42901", "msg": "请求过于频繁", "data": None}
    assert _outcome(message, answer, 429, retry_after="7") == {
        "outcome": "batch_retry",
        "code": "42901",
        "retry_after_s": 7,
        "records": [],
    }


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_gateway_error_page_means_send_the_call_again(status: int):
    page = b"<html><body><h1>Bad Gateway</h1></body></html>"
    assert _outcome("feedback_response", page, status, retry_after="30") == {
        "outcome": "batch_retry",
        "code": f"HTTP{status}",
        "retry_after_s": 30,
        "records": [],
    }


@pytest.mark.parametrize("status", [403, 404, 405])
def test_a_client_error_page_is_final(status: int):
    outcome = _outcome("dishonest_query_response", b"<html>no</html>", status)
    assert (outcome["outcome"], outcome["code"]) == ("batch_failed", f"HTTP{status}")


def test_an_answer_with_status_200_that_is_not_json_rejects_it_so_the_call_is_sent_again():
    with pytest.raises(MessageRejected, match=r"\[malformed_json\]"):
        _map("feedback_response", b"<html>ok</html>", 200)


def test_a_duplicate_feedback_the_peer_already_holds_is_complete():
    answer = {"code": "0", "msg": "success", "data": {"feedbackNo": "FK1", "duplicate": True}}
    assert _outcome("feedback_response", answer)["records"] == [
        {"index": 0, "status": "accepted", "record_id": "FK1", "code": "0"}
    ]


def test_a_bom_before_the_answer_is_tolerated():
    body = b"\xef\xbb\xbf" + (SAMPLES / "feedback_response-1.json").read_bytes()
    assert _outcome("feedback_response", body) == expected("feedback_response-1")


def test_ebus_map_passes_the_http_status_and_retry_after():
    source = SAMPLES / "feedback_response-2.json"
    result = CliRunner().invoke(
        app,
        [
            *("map", "joint_punishment", "feedback_response", str(source)),
            *("--status", "429", "--header", "Retry-After=120"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["retry_after_s"] == 120
