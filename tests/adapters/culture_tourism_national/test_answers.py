"""Upload and batch-result answers → delivery outcomes (README §3.2, §5, canonical.md)."""

from __future__ import annotations

import json

import pytest

from runner.adapter_api import MessageRejected
from tests.adapters.culture_tourism_national._support import mapped, sample

RECORDS_2 = json.dumps(
    [["CASE", "FJ3502002024WL38228539"], ["DECISION", "厦文旅罚字〔2024〕第008号"]],
    ensure_ascii=False,
)


def _upload(code: str) -> bytes:
    return sample("upload_daily_package_response-1.xml").replace(
        b"<code>0</code>", f"<code>{code}</code>".encode()
    )


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("2001", "batch_retry"), ("4290", "batch_retry"), ("5000", "batch_retry"),
     ("1003", "batch_failed"),
     ("2002", "batch_failed"), ("2004", "batch_failed"), ("2005", "batch_failed")],
)  # fmt: skip
def test_every_upload_result_code_has_its_outcome_and_no_records(code: str, outcome: str):
    result = mapped("upload_daily_package_response", _upload(code))
    assert result.outcome is not None
    assert (result.outcome.outcome, result.outcome.code, result.outcome.records) == (
        outcome,
        code,
        [],
    )


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [("1002", "batch_retry"), ("1004", "batch_retry"), ("1005", "batch_failed")],
)
def test_faults_of_the_auth_header_are_retried_or_failed_as_the_spec_says(fault: str, outcome: str):
    body = sample("upload_daily_package_response-3.xml").replace(b">1001<", f">{fault}<".encode())
    result = mapped("upload_daily_package_response", body)
    assert (result.outcome.outcome, result.outcome.code) == (outcome, fault)


def test_a_fault_without_exchange_fault_is_labelled_by_its_faultcode():
    body = sample("upload_daily_package_response-3.xml")
    body = body[: body.index(b"<detail>")] + b"</S:Fault></S:Body></S:Envelope>"
    body = body.replace(b"S:Client", b"S:Server")
    result = mapped("upload_daily_package_response", body)
    assert (result.outcome.outcome, result.outcome.code) == ("batch_retry", "FAULT:Server")


def test_a_partial_result_rejects_only_the_listed_record_with_its_code():
    result = mapped(
        "query_batch_result", sample("query_batch_result-3.xml"), {"package_records": RECORDS_2}
    )
    records = [(r.index, r.status, r.code) for r in result.outcome.records]
    assert records == [(0, "accepted", None), (1, "rejected", "E204")]


@pytest.mark.parametrize(
    ("meta", "rule"),
    [
        pytest.param({}, "request_unknown", id="without the package records"),
        pytest.param(
            {"package_records": json.dumps([["CASE", "FJ3502002024WL38228539"]])},
            "record_count",
            id="a total that is not the package's",
        ),
        pytest.param(
            {"package_records": json.dumps([["CASE", "A"], ["CASE", "B"]])},
            "record_unmatched",
            id="an error for a record not in the package",
        ),
        pytest.param(
            {"package_records": "not json"}, "request_facts", id="package records that are not JSON"
        ),
    ],
)
def test_a_result_whose_records_cannot_be_matched_to_the_package_is_refused(meta, rule):
    with pytest.raises(MessageRejected) as caught:
        mapped("query_batch_result", sample("query_batch_result-3.xml"), meta)
    assert caught.value.rule == rule


def test_an_error_listed_twice_is_refused():
    body = sample("query_batch_result-3.xml")
    error = body[body.index(b"<error>") : body.index(b"</errors>")]
    body = body.replace(error, error + error).replace(
        b"<totalCount>2</totalCount>", b"<totalCount>2</totalCount>"
    )
    with pytest.raises(MessageRejected, match="listed twice"):
        mapped("query_batch_result", body, {"package_records": RECORDS_2})


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("2101", "batch_failed"), ("4290", "batch_retry"), ("5000", "batch_retry")],
)
def test_query_error_codes_map_to_their_outcomes(code: str, outcome: str):
    body = sample("query_batch_result-1.xml").replace(
        b"<code>0</code>", f"<code>{code}</code>".encode()
    )
    result = mapped("query_batch_result", body)
    assert (result.outcome.outcome, result.outcome.code) == (outcome, code)


def test_an_unknown_batch_status_is_refused():
    body = sample("query_batch_result-1.xml").replace(b"PROCESSING", b"WHATEVER")
    with pytest.raises(MessageRejected, match="unknown_code"):
        mapped("query_batch_result", body)


def test_an_html_error_page_is_refused_with_a_reason_not_a_traceback():
    with pytest.raises(MessageRejected) as caught:
        mapped("query_batch_result", b"<html><body>502 Bad Gateway</body>")
    assert caught.value.system == "culture_tourism_national"
