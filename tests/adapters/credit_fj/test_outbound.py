"""Outbound: the push batches and the lookup GET rendered and framed exactly as the samples."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from adapters.credit_fj import SPEC
from adapters.credit_fj.wire import batch_no
from runner.adapter_api import CallContext, MessageRejected
from runner.cli import app
from runner.dryrun import render_message
from schemas import parse_envelope
from tests.adapters.credit_fj.samples import (
    PROJECT,
    SAMPLES,
    call_context,
    config,
    envelope,
    inputs,
    read_http,
    render_facts,
    wire_request,
)

PUSHES = ["penalty_push-1", "penalty_push-2", "license_push-1", "license_push-2"]
REQUESTS = [*PUSHES, "subject_lookup_request-1", "subject_lookup_request-2"]
PRODUCTION_HOST = "xyfj-gw.fjzwnet.gov.cn:8443"


def _message(stem: str) -> str:
    return stem.rsplit("-", 1)[0]


def _render(stem: str, items: list[dict[str, Any]] | None = None) -> bytes:
    sample = read_http(stem) if (SAMPLES / f"{stem}.http").exists() else read_http(PUSHES[0])
    facts = render_facts(sample)
    call = render_message(PROJECT, "credit_fj", _message(stem), items or inputs(stem), facts)
    return call.body


def _records(body: bytes) -> list[dict[str, str]]:
    return json.loads(body)["records"]


@pytest.mark.parametrize("stem", PUSHES)
def test_a_push_batch_renders_to_its_sample_body_byte_for_byte(stem: str):
    assert _render(stem) == (SAMPLES / f"{stem}.json").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_the_framed_call_is_the_http_sample_byte_for_byte(stem: str):
    sample = read_http(stem)
    call = call_context(sample)
    mapping = PROJECT.outbound_mapping("credit_fj", _message(stem))
    variables = SPEC.variables(_message(stem), config(), call) if SPEC.variables else {}
    items = [parse_envelope(i, draft=True) if "schema" in i else i for i in inputs(stem)]
    document = mapping.render(items, variables)
    framed = SPEC.outgoing(_message(stem), document, config(), call)
    assert wire_request(framed, PRODUCTION_HOST) == (SAMPLES / f"{stem}.http").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_render_message_gives_the_method_path_headers_and_body_of_the_sample(stem: str):
    sample = read_http(stem)
    call = render_message(PROJECT, "credit_fj", _message(stem), inputs(stem), render_facts(sample))
    assert (call.method, call.path) == (sample.method, sample.path)
    assert list(call.headers.items()) == [(k, v) for k, v in sample.headers if k != "Host"]
    assert call.body == sample.body


@pytest.mark.parametrize("stem", REQUESTS)
def test_ebus_render_with_headers_prints_the_sample_request(stem: str):
    sample = read_http(stem)
    meta = [arg for k, v in render_facts(sample).items() for arg in ("--meta", f"{k}={v}")]
    source = str(SAMPLES / f"{stem}.input.json")
    result = CliRunner().invoke(
        app, ["render", "credit_fj", _message(stem), source, *meta, "--headers"]
    )
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    line, *fields = head.decode().split("\n")
    assert line == f"{sample.method} {sample.path}"
    assert [tuple(f.split(": ", 1)) for f in fields] == [
        (k, v) for k, v in sample.headers if k != "Host"
    ]
    assert body == sample.body


def test_the_batch_number_is_mzf_with_the_beijing_clock_and_a_four_digit_sequence():
    sample = read_http("penalty_push-2")
    assert batch_no(call_context(sample).now, 2) == "MZF202403051445300002"
    assert batch_no(call_context(sample).now, 10_007) == "MZF202403051445300007"


def test_a_call_without_a_nonce_gets_a_fresh_random_one():
    call = CallContext(now=call_context(read_http("penalty_push-1")).now)
    first = SPEC.outgoing("penalty_push", b"{}", config(), call)
    second = SPEC.outgoing("penalty_push", b"{}", config(), call)
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Nonce"])
    assert first.headers["X-Nonce"] != second.headers["X-Nonce"]
    assert first.headers["X-Sign"] != second.headers["X-Sign"]


def test_a_nonce_that_is_not_32_lowercase_hex_is_refused():
    call = CallContext(now=call_context(read_http("penalty_push-1")).now, nonce="ABC")
    with pytest.raises(ValueError, match="X-Nonce"):
        SPEC.outgoing("penalty_push", b"{}", config(), call)


@pytest.mark.parametrize(
    "uscc",
    [
        pytest.param("91350100ma2y7k3f61", id="lower case"),
        pytest.param("９１３５０１００ＭＡ２Ｙ７Ｋ３Ｆ６１", id="full width"),
    ],
)
def test_a_lookup_code_is_folded_to_half_width_upper_case_before_it_is_sent(uscc: str):
    sample = read_http("subject_lookup_request-1")
    call = render_message(
        PROJECT, "credit_fj", "subject_lookup_request", [{"uscc": uscc}], render_facts(sample)
    )
    assert call.path == sample.path
    assert call.headers["X-Sign"] == sample.header("X-Sign")


def test_a_lookup_code_failing_the_gb_32100_check_is_refused_and_never_sent():
    with pytest.raises(MessageRejected, match="uscc"):
        render_message(
            PROJECT,
            "credit_fj",
            "subject_lookup_request",
            [{"uscc": "91350100MA2Y7K3F62"}],
            {"nonce": "0" * 32},
        )


def test_a_natural_person_is_masked_and_an_organisation_is_not():
    first, second = _records(_render("penalty_push-1"))
    assert (second["CF_XDR_MC"], second["CF_XDR_ZJHM"]) == ("王**", "350427********3154")
    assert (first["CF_XDR_MC"], first["CF_FRDB"]) == ("福州闽江源食品有限公司", "陈建华")


def test_a_natural_person_without_an_id_number_is_refused():
    item = envelope("penalty_push-1", 1)
    assert _records(_render("penalty_push-1", [item]))[0]["CF_XDR_ZJHM"]
    item["payload"]["party"]["id_number"] = None
    with pytest.raises(MessageRejected, match=r"\[required\]"):
        _render("penalty_push-1", [item])


def test_a_fine_without_its_amount_is_refused():
    item = envelope("penalty_push-1", 0)
    item["payload"]["fine_amount_yuan"] = None
    with pytest.raises(MessageRejected, match="fine_amount_yuan"):
        _render("penalty_push-1", [item])


def test_an_amount_with_more_than_two_decimals_is_refused_before_rendering():
    item = envelope("penalty_push-1", 0)
    item["payload"]["fine_amount_yuan"] = "52000.005"
    with pytest.raises(ValidationError):
        _render("penalty_push-1", [item])


def test_an_agency_uscc_failing_gb_32100_is_refused_before_rendering():
    item = envelope("penalty_push-1", 0)
    item["payload"]["agency"]["uscc"] = "11350100MB0F22318F"
    with pytest.raises(ValidationError):
        _render("penalty_push-1", [item])


@pytest.mark.parametrize(
    ("decided_at", "until"),
    [
        pytest.param("2024-03-04T16:30:00+08:00", "2025/03/04", id="same month and day"),
        pytest.param("2024-02-29T10:00:00+08:00", "2025/02/28", id="29 February to 28"),
        pytest.param("2024-12-31T17:30:00+00:00", "2026/01/01", id="date taken in Beijing"),
    ],
)
def test_without_publicity_until_the_publicity_ends_one_year_after_the_decision(
    decided_at: str, until: str
):
    item = envelope("penalty_push-1", 0)
    item["payload"] |= {"publicity_until": None, "decided_at": decided_at}
    assert _records(_render("penalty_push-1", [item]))[0]["CF_GSJZQ"] == until


@pytest.mark.parametrize(
    ("kinds", "content"),
    [
        pytest.param(
            ["suspend_license"],
            "暂扣许可证件（食品生产许可证（SC1））",
            id="suspension names the licence",
        ),
        pytest.param(
            ["downgrade_qualification", "warning"],
            "降低资质等级（食品生产许可证（SC1））；警告",
            id="downgrade then another kind",
        ),
        pytest.param(
            ["confiscate_property"],
            "没收非法财物人民币3855.50元",
            id="property alone has its amount",
        ),
        pytest.param(
            ["order_closure", "restrict_employment"], "责令关闭；限制从业", id="other kinds by name"
        ),
    ],
)
def test_the_penalty_content_has_one_part_per_kind_in_input_order(kinds: list[str], content: str):
    item = envelope("penalty_push-1", 0)
    item["payload"] |= {"penalty_kinds": kinds, "license_affected": "食品生产许可证（SC1）"}
    if "fine" not in kinds:
        item["payload"]["fine_amount_yuan"] = None
    assert _records(_render("penalty_push-1", [item]))[0]["CF_NR"] == content


def test_a_message_with_every_optional_field_null_renders_empty_strings_never_null():
    item = envelope("penalty_push-2", 1)
    item |= {"case_code": None, "classification": "L1"}
    item["payload"] |= {
        "case_code": None,
        "facts": None,
        "penalty_basis": None,
        "penalty_kinds": ["warning"],
        "fine_amount_yuan": None,
        "publicity_until": None,
    }
    item["payload"]["party"]["legal_representative"] = None
    record = _records(_render("penalty_push-2", [item]))[0]
    assert None not in record.values()
    assert record["BZ"] == record["CF_SY"] == record["CF_NR_FK"] == record["CF_FRDB"] == ""


def test_a_batch_takes_at_most_100_messages():
    item = envelope("license_push-2")
    hundred = [copy.deepcopy(item) for _ in range(100)]
    assert json.loads(_render("license_push-2", hundred))["total"] == 100
    with pytest.raises(ValueError, match=r"1\.\.100"):
        _render("license_push-2", [*hundred, item])


def test_a_licence_without_an_end_date_is_valid_until_2099_12_31():
    item = envelope("license_push-2")
    item["payload"]["valid_to"] = None
    assert _records(_render("license_push-2", [item]))[0]["XK_YXQZI"] == "2099/12/31"


def test_a_body_over_2_mib_is_refused_before_sending_and_one_at_the_limit_is_framed():
    # README 2.4: a request body of at most 2 MiB; the delivery worker then sends the batch's
    # records one by one (a MessageRejected of a call of several records)
    config = SPEC.config.model_validate(dict(SPEC.demo_config))
    call = CallContext(now=dt.datetime(2024, 3, 5, 14, 40, tzinfo=dt.UTC), nonce="0" * 32)
    limit = 2 * 1024 * 1024
    framed = SPEC.outgoing("penalty_push", b"x" * limit, config, call)
    assert len(framed.body) == limit
    with pytest.raises(MessageRejected) as refused:
        SPEC.outgoing("penalty_push", b"x" * (limit + 1), config, call)
    assert (refused.value.rule, refused.value.field) == ("body_too_large", "body")
