"""Mapping cases of ``ebus test`` run the adapter's inbound path, so a spec sample can be used as
the system sends it: ``prepare`` with the case's status, headers and meta, ``verify`` only when
the case gives headers, and the mapping alone for a case marked ``prepared: true``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from runner.configtest import CaseResult, run_config_tests
from runner.project import load_project
from tests.adapters.http_samples import parse_http
from tests.conftest import SPECS

PROJECT = load_project()
HEALTH = SPECS / "systems/health/samples"
HALL = SPECS / "systems/online_hall/samples"


def _run(tmp_path: Path, system: str, message: str, *cases: dict[str, object]) -> CaseResult:
    folder = tmp_path / system
    folder.mkdir(exist_ok=True)
    path = folder / f"{message}.test.yaml"
    path.write_text(yaml.safe_dump({"cases": list(cases)}, allow_unicode=True), encoding="utf-8")
    (result,) = run_config_tests(PROJECT, path)
    return result


def test_a_raw_spec_answer_is_prepared_before_the_mapping_reads_it(tmp_path: Path):
    case = {
        "name": "spec sample 1 as the gateway sends it",
        "input_file": str(HEALTH / "cases_page-1.json"),
        "expect_file": str(HEALTH / "cases_page-1.expected.json"),
    }
    result = _run(tmp_path, "health", "cases_page", case)
    assert result.ok, result.detail


def test_the_headers_of_a_case_reach_prepare(tmp_path: Path):
    case = {
        "name": "a 429 with Retry-After",
        "status": 429,
        "headers": {"Retry-After": "7"},
        "input": json.dumps({"code": 42901, "message": "请求过于频繁"}, ensure_ascii=False),
        "expect": {"outcome": "batch_retry", "code": "42901", "retry_after_s": 7, "records": []},
    }
    assert _run(tmp_path, "health", "cases_page", case).ok


def test_the_status_of_a_case_reaches_prepare(tmp_path: Path):
    page = "<html><body>Service Unavailable</body></html>"
    maintenance = {
        "name": "the maintenance page with its 503",
        "status": 503,
        "input": page,
        "expect": {
            "outcome": "batch_retry",
            "code": "HTTP503",
            "retry_after_s": None,
            "records": [],
        },
    }
    assert _run(tmp_path, "health", "cases_page", maintenance).ok
    as_200 = {"name": "the same page as a 200", "input": page, "reject": {"rule": "malformed_json"}}
    assert _run(tmp_path, "health", "cases_page", as_200).ok


def test_a_prepared_case_runs_the_mapping_alone(tmp_path: Path):
    wrapped = {"http_status": 503, "retry_after": None, "body": None}
    case = {
        "name": "what prepare hands over",
        "prepared": True,
        "input": json.dumps(wrapped),
        "expect": {
            "outcome": "batch_retry",
            "code": "HTTP503",
            "retry_after_s": None,
            "records": [],
        },
    }
    assert _run(tmp_path, "health", "cases_page", case).ok
    unprepared = {k: v for k, v in case.items() if k != "prepared"}
    assert not _run(tmp_path, "health", "cases_page", unprepared).ok


def test_headers_make_the_case_verify_the_signature_first(tmp_path: Path):
    sample = parse_http(HALL / "license_webhook-2.http")
    body = tmp_path / "license_webhook-2.body.json"
    body.write_bytes(sample.body)
    headers = dict(sample.headers)
    signed = {
        "name": "the sample as pushed, with its signed headers",
        "input_file": str(body),
        "headers": headers,
        "meta": {"path": sample.path, "method": sample.method},
        "expect_file": str(HALL / "license_webhook-2.expected.json"),
    }
    result = _run(tmp_path, "online_hall", "license_webhook", signed)
    assert result.ok, result.detail
    forged = {k: v for k, v in signed.items() if k != "expect_file"} | {
        "name": "the same with a forged signature",
        "headers": headers | {"X-Hall-Signature": "AAAA" + headers["X-Hall-Signature"][4:]},
        "reject": {"rule": "bad_signature", "field": "X-Hall-Signature"},
    }
    refused = _run(tmp_path, "online_hall", "license_webhook", forged)
    assert refused.ok, refused.detail
