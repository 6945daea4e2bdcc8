"""The daily package built from canonical messages (README §3.1): what goes in and how."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile

import pytest
from lxml import etree

from adapters.culture_tourism_national import build_package, read_package, upload_request
from adapters.culture_tourism_national._package import PACKAGE_NS
from runner.adapter_api import MessageRejected, PermanentError
from runner.engine.archive import render_accepted
from tests.adapters.culture_tourism_national._support import (
    PROJECT,
    at,
    config,
    render_document,
    sample_json,
)

NS = {"p": PACKAGE_NS}


def _inputs() -> list[dict]:
    return sample_json("upload_daily_package-1.input.json")


def _package(envelopes: list[dict], day: str = "20240305"):
    return build_package(render_document(envelopes), "350000", day)


def test_a_day_without_messages_still_gets_a_package_with_two_empty_lists():
    package = build_package(b"", "350000", "20240310")
    assert package.records == ()
    cases = etree.fromstring(package.files["cases.xml"])
    assert cases.get("count") == "0"
    assert cases.get("bizDate") == "20240310"
    assert read_package(package.zip_bytes, max_bytes=10**6) == ()


def test_only_the_latest_version_of_a_case_of_the_day_goes_in():
    first = _inputs()[1]
    later = copy.deepcopy(first)
    later["payload"]["status"] = "decided"
    package = _package([first, later])
    statuses = etree.fromstring(package.files["cases.xml"]).xpath(
        "//p:caseStatus/text()", namespaces=NS
    )
    assert statuses == ["40"]


def test_latest_is_by_received_at_when_the_envelopes_carry_it():
    first, later = _inputs()[1], copy.deepcopy(_inputs()[1])
    later["payload"]["status"] = "decided"
    first["received_at"], later["received_at"] = (
        "2024-03-05T18:00:00+08:00",
        "2024-03-05T09:00:00+08:00",
    )
    package = _package([later, first])
    assert etree.fromstring(package.files["cases.xml"]).xpath(
        "//p:caseStatus/text()", namespaces=NS
    ) == ["20"]


def test_records_are_sorted_by_record_id_whatever_the_input_order():
    package = _package(list(reversed(_inputs())))
    assert package.zip_bytes == _package(_inputs()).zip_bytes
    assert [r[0] for r in package.records] == ["CASE"] * 3 + ["DECISION"] * 2


def test_messages_of_other_domains_or_provinces_stay_out_of_the_package():
    other = copy.deepcopy(_inputs()[0])
    other["payload"]["agency"]["domain"] = other["payload"]["domain"] = "SC"
    outside = copy.deepcopy(_inputs()[1])
    outside["payload"]["agency"]["division_code"] = "440106"
    assert _package([other, outside]).records == ()


def test_optional_elements_without_a_value_are_omitted_never_empty():
    case = copy.deepcopy(_inputs()[0])
    case["payload"].update(facts=None, legal_basis=[], officers=[], involved_amount_yuan=None)
    text = _package([case]).files["cases.xml"].decode()
    for tag in ("facts", "legalBasis", "officers", "involvedAmount", "closeDate"):
        assert f"<{tag}" not in text
    assert "<businessType>99</businessType>" in text  # no legal basis: W1 其他


def test_a_natural_person_party_carries_id_type_and_number_but_no_credit_code():
    text = _package(_inputs()[4:]).files["decisions.xml"].decode()
    assert "<idType>111</idType>" in text
    assert "<creditCode>" not in text


def test_text_is_escaped_as_xml():
    case = copy.deepcopy(_inputs()[0])
    case["payload"]["title"] = "A & B <案>"
    assert (
        "<caseName>A &amp; B &lt;案&gt;</caseName>" in _package([case]).files["cases.xml"].decode()
    )


def test_a_decision_with_detention_is_left_out_with_the_code_table_named():
    decision = copy.deepcopy(_inputs()[3])
    decision["payload"]["penalty_kinds"] = ["detention"]
    mapping = PROJECT.outbound_mapping("culture_tourism_national", "upload_daily_package")
    rendered = render_accepted(mapping, [_inputs()[0], decision])
    ((draft, refused),) = rendered.refused
    assert draft.payload.decision_no == decision["payload"]["decision_no"]
    assert re.search(r"penalty_type.*\[unknown_code\]", str(refused))
    assert json.loads(rendered.document)["records"][0]["type"] == "CASE"
    assert render_document([decision]) == b""


def test_a_package_over_the_size_limit_is_refused_before_the_call():
    package = _package(_inputs())
    with pytest.raises(PermanentError) as caught:
        upload_request(config(max_package_bytes=1000), package, at(2024, 3, 6, 1, 30))
    assert caught.value.code == "2005"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        pytest.param(b"PK\x03\x04 broken", "zip_unreadable", id="a truncated ZIP is unreadable"),
        pytest.param(_zip({"cases.xml": b"<x/>"}), "zip_members", id="a missing file"),
        pytest.param(
            _zip({"cases.xml": b"", "decisions.xml": b"", "x": b""}),
            "zip_members",
            id="an extra member",
        ),
        pytest.param(
            _zip({"../cases.xml": b"", "decisions.xml": b""}), "zip_path", id="a path in a name"
        ),
    ],
)
def test_reading_a_package_refuses_broken_or_hostile_archives(data: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        read_package(data, max_bytes=10**6)
    assert caught.value.rule == rule
