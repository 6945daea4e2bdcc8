"""Contract: every sample of the two_laws spec maps or renders exactly (README §9).

Inbound answers are mapped with the request facts of their ``.request.json`` (the shared
contract test passes none: see the adapter's report); outbound inputs render to their wire
samples byte for byte, through ``render_message`` and ``ebus render``.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.two_laws import sign
from runner.cli import app
from tests.adapters.two_laws._support import (
    RENDERED,
    SAMPLES,
    canonical_xml,
    mapped,
    render,
    request_facts,
    sample,
    sample_json,
    unstamped,
)

ANSWERS = sorted(
    p.name for p in SAMPLES.glob("*_response-*.xml") if p.with_suffix(".expected.json").exists()
)


def _expected(name: str) -> object:
    return json.loads(sample(name.removesuffix(".xml") + ".expected.json"))


@pytest.mark.parametrize("name", ANSWERS)
def test_every_answer_sample_maps_to_its_expected_json(name: str):
    stem = name.removesuffix(".xml")
    message = stem.rsplit("-", 1)[0]
    result = mapped(message, sample(name), request_facts(stem))
    got = result.outcome.model_dump(mode="json") if result.outcome else unstamped(result)
    assert got == _expected(name)


@pytest.mark.parametrize("name", ANSWERS)
def test_ebus_map_with_the_request_facts_prints_the_expected_json(name: str):
    stem = name.removesuffix(".xml")
    args = ["map", "two_laws", stem.rsplit("-", 1)[0], str(SAMPLES / name)]
    for key, value in request_facts(stem).items():
        args += ["--meta", f"{key}={value}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = _expected(name)
    if isinstance(expected, dict):
        assert lines == [expected]
    else:
        assert [{k: v for k, v in e.items() if k not in ("message_id", "received_at",
                 "occurred_at", "causation_id")} for e in lines] == expected  # fmt: skip


@pytest.mark.parametrize("stem", sorted(RENDERED))
def test_every_input_renders_to_its_wire_sample_byte_for_byte(stem: str):
    call = render(stem.rsplit("-", 1)[0], sample_json(f"{stem}.input.json"), RENDERED[stem])
    assert call.body == sample(f"{stem}.xml")
    assert canonical_xml(call.body) == canonical_xml(sample(f"{stem}.xml"))


@pytest.mark.parametrize("stem", sorted(RENDERED))
def test_ebus_render_prints_the_wire_sample_and_the_soap_action(stem: str):
    message = stem.rsplit("-", 1)[0]
    args = ["render", "two_laws", message, str(SAMPLES / f"{stem}.input.json")]
    result = CliRunner().invoke(app, [*args, "--meta", f"now={RENDERED[stem]}", "--headers"])
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    operation = "submitCaseInfo" if message == "submit_case" else "fetchSupervisionNotices"
    assert head.splitlines()[0] == b"POST /lfxj/services/exchange"
    assert f'SOAPAction: "http://lfxj.fjjcy.gov.cn/exchange/v3/{operation}"'.encode() in head
    assert body == sample(f"{stem}.xml")


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        pytest.param("20240305160000", "24D5F23546B2136772E41165AD56EE7C", id="submit_case-1"),
        pytest.param("20240308100500", "4ECF74FFEF0B6E1190ADF007B84CD288", id="submit_case-2"),
        pytest.param("20240311153300", "33924E2A7E30A04A35D9FB22F34243D1", id="submit_case-3"),
        pytest.param("20240315080000", "3F82897A29CC16FFF036BE2CBE083CDC", id="fetch-1"),
    ],
)
def test_signature_is_the_upper_case_md5_of_user_timestamp_and_password(stamp, expected):
    assert sign("MZF_ESB", stamp, "Lfxj@2024#Esb") == expected


def test_the_shared_contract_test_cannot_attribute_notices_without_the_request():
    """The shared contract test maps answers without request facts: a page with notices is
    refused with a reason that says what is missing (see the report)."""
    with pytest.raises(Exception, match=r"orgCode, sinceSeq missing.*request_unknown"):
        mapped("fetch_notices_response", sample("fetch_notices_response-1.xml"))
