"""The rules of README §3, §5 and §6 beyond the samples: quirks taken, bad input refused with a
reason naming system, message, field and rule, and never an L3 value in that reason."""

from __future__ import annotations

import codecs
import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from adapters.fire_national._wire import sent_data_ids
from runner.adapter_api import MessageRejected, Outgoing, RawMessage
from runner.dryrun import map_message, render_message
from tests.adapters.fire_national._support import (
    PROJECT,
    SAMPLES,
    keys,
    load,
    page_answer,
    plain_page,
    raw,
    with_task,
)

ID_NUMBER = "350206196501090267"
ADDRESS = "福建省厦门市湖里区金山街道金尚路480号"


def _tasks(body: bytes, **meta: str) -> Any:
    return map_message(PROJECT, "fire_national", "tasks", raw(body, **meta))


def _answer(document: Any, **meta: str) -> dict[str, Any]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    result = map_message(PROJECT, "fire_national", "upload_response", raw(body, **meta))
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def _no_personal_value(error: MessageRejected) -> None:
    for value in (ID_NUMBER, ADDRESS):
        assert value not in str(error)


# --- the page as a whole ------------------------------------------------------------------------


def _tampered(field: str, value: str) -> bytes:
    answer = json.loads((SAMPLES / "tasks-2.json").read_bytes())
    answer[field] = value
    return json.dumps(answer).encode()


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        pytest.param(
            _tampered("sign", "0" * 64), "sign", "signature", id="a sign that does not verify"
        ),
        pytest.param(
            _tampered("encryptData", "AAAA" + "A" * 40),
            "sign",
            "signature",
            id="changed encryptData fails the sign",
        ),
        pytest.param(_tampered("appId", "FJ35XFJD9999"), "appId", "app_id", id="another appId"),
        pytest.param(
            page_answer(None, raw_payload=b"\xff\xfe not json"),
            "encryptData",
            "payload_json",
            id="a payload that is not JSON",
        ),
        pytest.param(
            b"<html>oops</html>", None, "malformed_json", id="an HTML page with status 200"
        ),
        pytest.param(b"[1, 2]", None, "malformed_json", id="a JSON array"),
    ],
)
def test_a_page_that_fails_the_checks_is_rejected_whole_with_its_reason(
    body: bytes, field: str | None, rule: str
):
    with pytest.raises(MessageRejected) as caught:
        _tasks(body)
    error = caught.value
    assert (error.system, error.message, error.rule) == ("fire_national", "tasks", rule)
    assert error.field == field
    _no_personal_value(error)


def test_encrypt_data_that_does_not_unpad_is_rejected_even_when_signed():
    from adapters.fire_national.simulator import FireNationalPlatform  # noqa: PLC0415

    platform = FireNationalPlatform()
    platform.spoil_next_page("decrypt")
    answer = platform._sealed(plain_page("tasks-1"))
    with pytest.raises(MessageRejected, match="does not decrypt") as caught:
        _tasks(answer.body)
    assert caught.value.rule == "decrypt"


def test_a_huge_answer_is_refused_before_anything_is_decrypted():
    with pytest.raises(MessageRejected) as caught:
        _tasks(b" " * (8 * 1024 * 1024 + 1))
    assert caught.value.rule == "too_large"


def test_a_bom_and_an_upper_case_sign_from_a_gateway_node_are_taken():
    answer = json.loads((SAMPLES / "tasks-1.json").read_bytes())
    answer["sign"] = answer["sign"].upper()
    body = codecs.BOM_UTF8 + json.dumps(answer, ensure_ascii=False).encode()
    result = _tasks(body)
    assert [e.source_message_id for e in result.envelopes] == ["DB-2024-35-000123:v1"]


@pytest.mark.parametrize(
    ("answer", "status", "expected"),
    [
        pytest.param(
            {"code": "42900", "msg": "请求过于频繁"},
            "200",
            ("batch_retry", "42900", 60),
            id="42900 waits 60 s",
        ),
        pytest.param(
            {"code": "40101", "msg": "appId 不存在"},
            "200",
            ("batch_failed", "40101", None),
            id="40101 is permanent",
        ),
        pytest.param(
            None, "502", ("batch_retry", "HTTP502", None), id="a gateway 502 without JSON"
        ),
    ],
)
def test_a_plain_error_answer_to_the_poll_is_a_delivery_outcome(
    answer: Any, status: str, expected: tuple
):
    body = b"<html>502 Bad Gateway</html>" if answer is None else json.dumps(answer).encode()
    outcome = _tasks(body, status=status).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code, outcome.retry_after_s) == expected
    assert outcome.records == []


# --- one task -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        pytest.param({"taskType": "07"}, None, "unknown_code", id="an unknown N7 task type"),
        pytest.param(
            {"taskStatus": "5"}, "payload.status", "unknown_code", id="an unknown N8 status"
        ),
        pytest.param({"title": ...}, "payload.title", "required", id="a missing title"),
        pytest.param({"deadline": ...}, None, "required", id="a missing deadline"),
        pytest.param(
            {"directLossWan": Decimal("1.2345678")},
            "payload.involved_amount_yuan",
            "money_precision",
            id="directLossWan with 7 decimals",
        ),
    ],
)
def test_a_bad_task_is_rejected_alone_and_the_others_go_on(
    changes: dict, field: str | None, rule: str
):
    page = with_task(plain_page("tasks-2"), **changes)
    result = _tasks(
        page_answer(json.loads(json.dumps(page, default=str).replace('"1.2345678"', "1.2345678")))
    )
    assert [e.source_message_id for e in result.envelopes] == ["DB-2024-35-000135:v1"]
    [error] = result.rejected
    assert (error.system, error.message, error.rule) == ("fire_national", "tasks", rule)
    if field is not None:
        assert error.field == field
    _no_personal_value(error)


def test_a_natural_persons_id_number_that_fails_gb_11643_is_rejected_without_the_number():
    page = plain_page("tasks-2")
    page["tasks"][0]["unit"]["idNo"] = ID_NUMBER[:-1] + "8"
    result = _tasks(page_answer(page))
    [error] = result.rejected
    assert error.field is not None
    assert "id_number" in error.field
    assert ID_NUMBER[:-1] not in str(error)


def test_a_uscc_that_fails_its_check_is_rejected():
    page = plain_page("tasks-1")
    page["tasks"].append(copy.deepcopy(page["tasks"][0]))
    page["tasks"][0]["unit"]["creditCode"] = "91350102MA32H7W264"
    result = _tasks(page_answer(page))
    assert len(result.envelopes) == 1
    assert "uscc" in str(result.rejected[0].field)


def test_directlosswan_is_exact_from_its_text():
    cases = ("12.345678", "123456.78"), ("35.6", "356000.00"), ("0", "0.00"), ('"null"', None)
    for text, yuan in cases:
        page = plain_page("tasks-2")
        page["tasks"] = page["tasks"][1:]
        body = json.dumps(page, ensure_ascii=False).replace(
            '"directLossWan": 35.6', f'"directLossWan": {text}'
        )
        [envelope] = _tasks(page_answer(None, raw_payload=body.encode())).envelopes
        amount = envelope.payload.involved_amount_yuan
        assert (None if amount is None else f"{amount:.2f}") == yuan


def test_county_quirks_are_cleaned():
    page = with_task(
        plain_page("tasks-1"),
        issueTime="1709530200000",
        legalBasis=[{"lawName": "《中华人民共和国消防法》", "articleNo": "第五十五条"}],
    )
    unit = page["tasks"][0]["unit"]
    unit.update(
        legalPerson="null", address="null", creditCode="９１３５０１０２ＭＡ３２Ｈ７Ｗ２６３"
    )
    [envelope] = _tasks(page_answer(page)).envelopes
    party = envelope.payload.parties[0]
    assert (party.uscc, party.legal_representative, party.address) == (
        "91350102MA32H7W263",
        None,
        None,
    )
    assert envelope.payload.legal_basis[0].law_name == "中华人民共和国消防法"
    assert envelope.payload.registered_at.isoformat() == "2024-03-04T13:30:00+08:00"


def test_an_absent_legal_basis_is_empty_and_a_person_without_id_type_has_a_resident_id():
    page = plain_page("tasks-2")
    page["tasks"] = page["tasks"][:1]
    del page["tasks"][0]["legalBasis"]
    page["tasks"][0]["unit"]["idType"] = None
    [envelope] = _tasks(page_answer(page)).envelopes
    assert envelope.payload.legal_basis == []
    assert envelope.payload.parties[0].id_type == "resident_id"
    assert envelope.classification == "L3"


def test_a_task_listed_twice_in_one_page_gives_the_same_source_message_id():
    page = plain_page("tasks-1")
    page["tasks"].append(copy.deepcopy(page["tasks"][0]))
    ids = [e.source_message_id for e in _tasks(page_answer(page)).envelopes]
    assert ids == ["DB-2024-35-000123:v1", "DB-2024-35-000123:v1"]


# --- upload answers -----------------------------------------------------------------------------


def _results(*codes: str) -> dict[str, Any]:
    results = [
        {"dataId": f"{i:032x}", "code": c, "receiptNo": f"R{i}" if c in ("0", "40901") else None}
        for i, c in enumerate(codes)
    ]
    return {"code": "0", "msg": "", "requestId": "x", "data": {"results": results}}


def test_results_are_matched_to_the_call_by_data_id_and_a_missing_one_is_retried():
    ids = json.dumps([f"{i:032x}" for i in range(3)])
    answer = _results("0", "50000")
    answer["data"]["results"].reverse()
    outcome = _answer(answer, data_ids=ids)
    assert outcome["outcome"] == "partial"
    assert [(r["index"], r["status"], r["record_id"], r["code"]) for r in outcome["records"]] == [
        (0, "accepted", "R0", "0"),
        (1, "retry", None, "50000"),
        (2, "retry", None, None),
    ]


def test_an_answer_naming_a_data_id_the_call_did_not_send_is_refused():
    with pytest.raises(MessageRejected) as caught:
        _answer(_results("0"), data_ids=json.dumps(["f" * 32]))
    assert caught.value.rule == "record_unknown"


def test_an_unknown_result_code_refuses_the_answer():
    with pytest.raises(MessageRejected) as caught:
        _answer(_results("77777"))
    assert caught.value.rule == "unknown_result_code"


@pytest.mark.parametrize(
    ("code", "outcome", "retry_after"),
    [
        ("40102", "batch_retry", None),
        ("40103", "batch_retry", None),
        ("42900", "batch_retry", 60),
        ("50300", "batch_retry", None),
        ("40003", "batch_failed", None),
        ("40301", "batch_failed", None),
    ],
)
def test_whole_call_codes_give_their_outcome(code: str, outcome: str, retry_after: int | None):
    got = _answer({"code": code, "msg": "", "requestId": "x", "data": None})
    assert (got["outcome"], got["code"], got["retry_after_s"], got["records"]) == (
        outcome,
        code,
        retry_after,
        [],
    )


def test_a_gateway_503_is_retried_with_its_status_as_code():
    got = _answer(b"<html>503</html>", status="503")
    assert (got["outcome"], got["code"]) == ("batch_retry", "HTTP503")


def test_the_connection_tells_the_data_ids_it_sent():
    call = render_message(
        PROJECT,
        "fire_national",
        "penalties",
        [load("penalties-1.input.json"), load("penalties-2.input.json")],
        {},
    )
    assert sent_data_ids(call, keys()) == [
        "19d8b7d63cf292e3c670df3da97dc969",
        "cb9d115ec8fb101e3af5bc8351bfb08b",
    ]
    assert sent_data_ids(Outgoing(body=b"{}", method="GET", path="/x"), keys()) is None


# --- outbound refusals --------------------------------------------------------------------------


def test_an_item_code_outside_n6_is_refused_before_sending():
    item = load("inspections-1.input.json")
    item["payload"]["items"][2]["code"] = "0599"
    with pytest.raises(MessageRejected) as caught:
        render_message(PROJECT, "fire_national", "inspections", [item], {})
    assert caught.value.rule == "unknown_code"
    assert "checkItems" in str(caught.value.field)
    assert str(caught.value).startswith("fire_national inspections: ")


def test_a_planned_inspection_is_not_taken():
    item = load("inspections-1.input.json")
    item["payload"].update(inspected_at=None, result=None, findings=None)
    with pytest.raises(MessageRejected) as caught:
        render_message(PROJECT, "fire_national", "inspections", [item], {})
    assert caught.value.rule == "not_accepted"


def test_a_fine_with_a_fraction_of_a_fen_cannot_exist_and_whole_yuan_become_fen():
    from runner.mapping.transforms import get_transform  # noqa: PLC0415

    yuan_to_fen = get_transform("yuan_to_fen")
    assert yuan_to_fen.fn("500.00", None) == 50000
    assert yuan_to_fen.fn(Decimal("0.01"), None) == 1
    with pytest.raises(MessageRejected):
        yuan_to_fen.fn("0.001", None)


def test_the_unit_type_follows_the_n1_rules_in_order():
    from adapters.fire_national._transforms import national_unit_type  # noqa: PLC0415

    def unit(kind: str, uscc: str | None) -> str:
        return national_unit_type.fn({"kind": kind, "uscc": uscc}, None)

    assert unit("natural_person", None) == "90"
    assert unit("individual_business", "91350100M000100Y43") == "60"
    assert unit("unincorporated_org", "91350100M000100Y43") == "30"
    assert unit("legal_person", "12350000X") == "20"
    assert unit("legal_person", "53350000X") == "40"
    assert unit("legal_person", "Y1350000X") == "80"


def test_raw_message_meta_is_untouched_by_prepare():
    message = RawMessage(body=(SAMPLES / "upload_response-1.json").read_bytes())
    map_message(PROJECT, "fire_national", "upload_response", message)
    assert dict(message.meta) == {}
