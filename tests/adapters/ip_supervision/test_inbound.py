"""Answers to uploadSupervisionData → delivery outcomes (README §6, quirks Q4-Q7): every branch of
the outcome table, and the answers that must be rejected (outcome unknown, resend the call)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.ip_supervision.simulator import upload_result
from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from tests.adapters.ip_supervision._support import SAMPLES, mapped, outcome, sample

SENT = json.dumps(["榕市监处罚〔2024〕317号", "沙市监处罚〔2024〕45号"], ensure_ascii=False)
FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
    'soap/envelope/"><soap:Body><soap:Fault><faultcode>{code}</faultcode><faultstring>{text}'
    "</faultstring></soap:Fault></soap:Body></soap:Envelope>"
)


def _records(*rows: tuple[int, str, str]) -> bytes:
    return upload_result("1", list(rows), batch_id="JGXW20240305150003000211").encode()


def _dump(answer: RawMessage | bytes, **meta: str) -> dict[str, object]:
    return outcome(answer, **meta).model_dump(mode="json")


def _fault(code: str, text: str = "系统维护中") -> RawMessage:
    body = FAULT.format(code=code, text=text).encode()
    return RawMessage(body=body, meta={"status": "500"})


@pytest.mark.parametrize("number", [1, 2, 3])
def test_the_sample_answer_maps_to_its_expected_outcome(number: int):
    expected = json.loads(sample(f"upload_response-{number}.expected.json"))
    assert _dump(sample(f"upload_response-{number}.xml")) == expected


def test_records_out_of_seq_order_and_padded_messages_map_in_index_order():
    body = upload_result(
        "1", [(2, "沙市监处罚〔2024〕45号", "R02"), (1, "榕市监处罚〔2024〕317号", "1")],
        batch_id="JGXW20240305150003000211", pad=True,
    ).encode()  # fmt: skip
    assert _dump(body) == json.loads(sample("upload_response-2.expected.json"))


@pytest.mark.parametrize(
    ("encode", "headers"),
    [
        pytest.param(
            lambda text: text.replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk"),
            {"content-type": "text/xml;charset=GBK"},
            id="node B answers GBK",
        ),
        pytest.param(
            lambda text: b"\xef\xbb\xbf" + text.encode(),
            {"content-type": "text/xml;charset=UTF-8"},
            id="node A behind the F5 answers with a BOM",
        ),
        pytest.param(
            lambda text: text.replace("ns2", "ns1").encode(),
            {},
            id="another release uses the prefix ns1",
        ),
    ],
)
def test_answers_of_every_node_and_release_map_alike(encode, headers):
    text = sample("upload_response-2.xml").decode()
    raw = RawMessage(body=encode(text), headers=headers)
    assert _dump(raw) == json.loads(sample("upload_response-2.expected.json"))


def test_a_record_missing_from_the_list_is_retried_under_the_xwbh_sent_with_its_seq():
    body = _records((1, "榕市监处罚〔2024〕317号", "0"))
    got = _dump(body, sent_xwbh=SENT)
    assert got["outcome"] == "partial"
    assert got["records"][1] == {
        "index": 1,
        "status": "retry",
        "record_id": "沙市监处罚〔2024〕45号",
        "code": None,
    }


def test_the_call_size_from_the_delivery_worker_reveals_a_missing_record():
    body = _records((1, "榕市监处罚〔2024〕317号", "0"))
    records = _dump(body, records="2")["records"]
    assert records[1] == {"index": 1, "status": "retry", "record_id": None, "code": None}


def test_a_transient_storage_failure_of_one_record_is_retried():
    body = _records((1, "榕市监处罚〔2024〕317号", "0"), (2, "沙市监处罚〔2024〕45号", "R09"))
    got = _dump(body, sent_xwbh=SENT)
    assert (got["outcome"], got["records"][1]["status"], got["records"][1]["code"]) == (
        "partial",
        "retry",
        "R09",
    )


def test_all_records_failing_is_partial_with_every_record_rejected():
    body = upload_result(
        "2", [(1, "榕市监处罚〔2024〕317号", "R01"), (2, "沙市监处罚〔2024〕45号", "R03")],
        batch_id="JGXW20240305150003000211",
    ).encode()  # fmt: skip
    got = _dump(body, sent_xwbh=SENT)
    assert (got["outcome"], got["code"]) == ("partial", "2")
    assert [r["status"] for r in got["records"]] == ["rejected", "rejected"]


def test_updated_records_count_as_accepted():
    body = _records((1, "榕市监处罚〔2024〕317号", "1"), (2, "沙市监处罚〔2024〕45号", "1"))
    assert _dump(body, sent_xwbh=SENT)["outcome"] == "complete"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("E001", "batch_failed", id="E001 unknown appId"),
        pytest.param("E002", "batch_failed", id="E002 signature"),
        pytest.param("E003", "batch_retry", id="E003 clock skew"),
        pytest.param("E004", "batch_failed", id="E004 dataType"),
        pytest.param("E005", "batch_failed", id="E005 unparseable xmlData"),
        pytest.param("E006", "batch_failed", id="E006 over 200 records"),
        pytest.param("E007", "batch_failed", id="E007 RECORDCOUNT"),
        pytest.param("E008", "batch_retry", id="E008 nonce reused"),
        pytest.param("E999", "batch_retry", id="E999 busy"),
    ],
)
def test_a_batch_error_maps_to_its_outcome_with_no_records(code: str, expected: str):
    got = _dump(upload_result(code).encode())
    assert got == {"outcome": expected, "code": code, "retry_after_s": None, "records": []}


@pytest.mark.parametrize(
    ("faultcode", "expected"),
    [
        pytest.param("soap:Server", ("batch_retry", "FAULT:Server"), id="Server is transient"),
        pytest.param("soap:Client", ("batch_failed", "FAULT:Client"), id="Client is permanent"),
        pytest.param("Server", ("batch_retry", "FAULT:Server"), id="an unprefixed faultcode"),
    ],
)
def test_a_soap_fault_maps_by_its_faultcode(faultcode: str, expected: tuple[str, str]):
    got = outcome(_fault(faultcode))
    assert (got.outcome, got.code, got.records, got.retry_after_s) == (*expected, [], None)


@pytest.mark.parametrize(
    "body",
    [pytest.param(b"", id="no body"), pytest.param(b"<html>503</html>", id="an html page")],
)
def test_http_503_from_the_load_balancer_maps_to_batch_retry(body: bytes):
    got = outcome(RawMessage(body=body, meta={"status": "503"}))
    assert (got.outcome, got.code, got.retry_after_s, got.records) == (
        "batch_retry",
        "HTTP503",
        None,
        [],
    )


@pytest.mark.parametrize(
    ("body", "meta", "rule"),
    [
        pytest.param(
            _records((3, "x", "0")), {"sent_xwbh": SENT}, "record_seq", id="seq outside the call"
        ),
        pytest.param(
            _records((1, "榕市监处罚〔2024〕317号", "0"), (1, "榕市监处罚〔2024〕317号", "0")),
            {"sent_xwbh": SENT},
            "record_seq_twice",
            id="seq listed twice",
        ),
        pytest.param(
            _records((1, "别的决定书", "0")), {"sent_xwbh": SENT}, "record_xwbh", id="another xwbh"
        ),
        pytest.param(
            _records((1, "榕市监处罚〔2024〕317号", "R77")), {}, "unknown_code", id="unknown code"
        ),
        pytest.param(upload_result("E123").encode(), {}, "unknown_code", id="unknown resultCode"),
        pytest.param(
            sample("upload_response-3.xml").replace(b"<resultCode>E002</resultCode>", b""),
            {},
            "required",
            id="no resultCode",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
            {},
            "xml_dtd",
            id="a DTD",
        ),
        pytest.param(b"<soap:Envelope", {}, "malformed_xml", id="malformed XML"),
        pytest.param(b"", {}, "malformed_xml", id="an empty 200"),
    ],
)
def test_an_answer_that_cannot_be_matched_to_the_call_is_rejected(
    body: bytes, meta: dict[str, str], rule: str
):
    with pytest.raises(MessageRejected) as caught:
        mapped(body, **meta)
    assert caught.value.rule == rule
    assert (caught.value.system, caught.value.message) == ("ip_supervision", "upload_response")


def test_ebus_map_takes_the_http_status_of_a_bodiless_answer(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    result = CliRunner().invoke(
        app, ["map", "ip_supervision", "upload_response", str(empty), "--status", "503"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["code"] == "HTTP503"


def test_ebus_map_takes_the_xwbh_sent_as_meta():
    source = str(SAMPLES / "upload_response-1.xml")
    sent = json.dumps(["JC3504272024030500003", "JC3509822024030700107"])
    result = CliRunner().invoke(
        app, ["map", "ip_supervision", "upload_response", source, "--meta", f"sent_xwbh={sent}"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"][1]["record_id"] == "JC3509822024030700107"
