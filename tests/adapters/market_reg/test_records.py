"""Record lines through the whole inbound path (verify, prepare, map): the quirks of README §6."""

from __future__ import annotations

import json

import pytest

from adapters.market_reg import read_lines
from adapters.market_reg.simulator import (
    MarketRegSimulator,
    case_record,
    decision_record,
    jsonl_bytes,
    resident_id,
)
from runner.adapter_api import MessageRejected, RawMessage
from runner.dryrun import map_message
from tests.adapters.market_reg._support import PROJECT

DAY = "20240310"


@pytest.fixture
def exporter():
    with MarketRegSimulator() as simulator:
        yield simulator


def _map(exporter: MarketRegSimulator, kind: str, data: bytes):
    """Map ``data`` as the night's ``kind`` file, with a manifest that lists it."""
    other = "decisions" if kind == "cases" else "cases"
    files = {f"cases_{DAY}.jsonl": b"", f"decisions_{DAY}.jsonl": b""}
    files[f"{kind}_{DAY}.jsonl"] = data
    files[f"{other}_{DAY}.jsonl"] = b"\xef\xbb\xbf"
    manifest = exporter.manifest_bytes(DAY, files, 1).decode("utf-8")
    raw = RawMessage(data, meta={"manifest_json": manifest, "file": f"{kind}_{DAY}.jsonl"})
    return map_message(PROJECT, "market_reg", kind, raw)


def test_keys_of_migrated_records_match_in_any_case_and_numeric_codes_are_padded(exporter):
    record = case_record(2)
    legacy = {k.upper(): v for k, v in record.items() if k not in ("dsr", "bajg")}
    legacy["DSR"] = {k.upper(): v for k, v in record["dsr"].items()}
    legacy["Bajg"] = record["bajg"]
    legacy["AJZT"], legacy["AJLY"] = 6, 3
    legacy["DSR"]["DSRLX"] = 1
    result = _map(exporter, "cases", jsonl_bytes([record, legacy | {"JLID": "X/AJ-09"}]))
    assert result.rejected == []
    first, second = (e.payload for e in result.envelopes)
    assert (second.status, second.case_source, second.parties[0].kind) == (
        "closed",
        "report",
        "legal_person",
    )
    assert second.agency == first.agency


def test_the_same_key_twice_in_another_case_rejects_that_record_alone(exporter):
    bad = json.dumps(case_record(3), ensure_ascii=False)[:-1] + ', "AJBH": "SCAJ-X"}'
    data = jsonl_bytes([case_record(1), bad.encode(), case_record(2)])
    result = _map(exporter, "cases", data)
    assert len(result.envelopes) == 2
    [rejection] = result.rejected
    assert (rejection.rule, rejection.field) == ("duplicate_key", "ajbh")
    assert "line 2" in rejection.reason


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        pytest.param(b"[1, 2]", "not_an_object", id="a JSON array"),
        pytest.param(b'{"jlid": "a", ', "malformed_json", id="a cut line"),
        pytest.param(b'{"jlid": NaN}', "malformed_json", id="a NaN"),
        pytest.param(b'{"jlid": "\xff\xfe"}', "undecodable", id="bytes that are not UTF-8"),
        pytest.param(b"[" * 100000 + b"]" * 100000, "malformed_json", id="hostile nesting"),
    ],
)
def test_a_line_that_is_not_a_record_is_rejected_with_its_line_number(exporter, line, rule):
    data = jsonl_bytes([decision_record(1), line, decision_record(2)])
    result = _map(exporter, "decisions", data)
    assert [e.source_message_id for e in result.envelopes] == [
        decision_record(1)["jlid"],
        decision_record(2)["jlid"],
    ]
    [rejection] = result.rejected
    assert rejection.rule == rule
    assert "line 2" in rejection.reason
    assert str(rejection).startswith("market_reg decisions:")


def test_a_line_over_the_limit_is_rejected_alone(exporter):
    huge = json.dumps(decision_record(5, wfss="违" * 400_000), ensure_ascii=False).encode()
    result = _map(exporter, "decisions", jsonl_bytes([huge, decision_record(1)]))
    assert len(result.envelopes) == 1
    assert result.rejected[0].rule == "line_too_long"


def test_crlf_a_trailing_blank_line_and_join_duplicates_give_one_message_per_jlid(exporter):
    records = [case_record(1), case_record(1), case_record(2), case_record(1)]
    data = jsonl_bytes(records, crlf=True, blank_tail=True)
    result = _map(exporter, "cases", data)
    assert result.rejected == []
    assert [e.source_message_id for e in result.envelopes] == [
        case_record(1)["jlid"],
        case_record(2)["jlid"],
    ]


def test_null_words_empty_strings_and_missing_keys_are_all_absent(exporter):
    record = decision_record(1, cfje="NULL", msje="  ", zxzz=None, gsjzrq="null")
    del record["cfje"]
    [envelope] = _map(exporter, "decisions", jsonl_bytes([record])).envelopes
    payload = envelope.payload
    assert (payload.fine_amount_yuan, payload.confiscated_amount_yuan) == (None, None)
    assert (payload.license_affected, payload.publicity_until) == (None, None)


def test_a_15_digit_id_number_in_full_width_is_upgraded_and_the_case_is_l3(exporter):
    full = resident_id("350102", 7)
    legacy15 = full[:6] + full[8:17]
    wide = "".join(chr(ord(c) + 0xFEE0) for c in legacy15)
    record = case_record(2, person=True)
    record["dsr"] |= {"zjhm": wide, "zjlx": "null"}
    [envelope] = _map(exporter, "cases", jsonl_bytes([record])).envelopes
    party = envelope.payload.parties[0]
    assert (party.id_type, party.id_number, party.uscc) == ("resident_id", full, None)
    assert envelope.classification == "L3"


def test_a_rejected_id_number_is_never_in_the_reason(exporter):
    record = decision_record(3, person=True)
    number = record["dsr"]["zjhm"]
    record["dsr"]["zjhm"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    good = decision_record(4)
    result = _map(exporter, "decisions", jsonl_bytes([record, good]))
    [rejection] = result.rejected
    assert rejection.rule == "id_number_check"
    assert "record 1 of 2" in rejection.reason
    assert record["dsr"]["zjhm"] not in str(rejection)
    assert record["dsr"]["zjhm"][:14] not in str(rejection)


def test_lower_case_and_full_width_usccs_and_padded_names_are_normalised(exporter):
    record = decision_record(2)
    uscc = record["dsr"]["tyshxydm"]
    record["dsr"]["tyshxydm"] = "".join(chr(ord(c) + 0xFEE0) for c in uscc.lower())
    record["dsr"]["dsrmc"] = "  " + record["dsr"]["dsrmc"] + "\u3000"
    [envelope] = _map(exporter, "decisions", jsonl_bytes([record])).envelopes
    assert envelope.payload.party.uscc == uscc
    assert envelope.payload.party.name == decision_record(2)["dsr"]["dsrmc"]


def test_a_file_that_differs_from_its_manifest_is_refused_as_a_whole(exporter):
    data = jsonl_bytes([case_record(1)])
    manifest = exporter.manifest_bytes(
        DAY, {f"cases_{DAY}.jsonl": data, f"decisions_{DAY}.jsonl": b"\xef\xbb\xbf"}, 1
    )
    raw = RawMessage(data + b"\n", meta={"manifest_json": manifest.decode()})
    with pytest.raises(MessageRejected) as caught:
        map_message(PROJECT, "market_reg", "cases", raw)
    assert caught.value.rule == "size_mismatch"


def test_a_file_without_a_manifest_is_not_mapped():
    with pytest.raises(MessageRejected) as caught:
        map_message(PROJECT, "market_reg", "cases", RawMessage(jsonl_bytes([case_record(1)])))
    assert (caught.value.rule, caught.value.field) == ("manifest_missing", "manifest")


def test_read_lines_numbers_every_physical_line():
    lines = read_lines(jsonl_bytes([case_record(1), b"", case_record(1)], crlf=True))
    assert [(x.line, x.skip) for x in lines] == [(1, False), (2, True), (3, True)]
