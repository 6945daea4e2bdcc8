"""Contract: every sample of the emergency spec, with its signed headers and bus clock.

Inbound samples map to their ``.expected.json`` in-process and through ``ebus map``; every
``ack-<code>.xml`` is the answer's exact bytes for its code; §2.4's worked example holds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.emergency import Answerer, sign
from adapters.emergency._signing import body_hash, string_to_sign
from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from runner.dryrun import map_message
from runner.project import load_project
from tests.adapters.emergency._support import (
    BEIJING,
    CONFIG,
    INBOUND,
    SAMPLES,
    SECRET,
    expected,
    message_of,
    sample_headers,
)

PROJECT = load_project()
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def _unstamped(envelope: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def test_every_inbound_sample_of_the_spec_is_under_contract():
    assert [p.name for p in INBOUND] == [
        "penalty_decision-1.xml",
        "penalty_decision-2.xml",
        "penalty_decision-3.xml",
        "safety_inspection-1.xml",
        "safety_inspection-2.xml",
        "safety_inspection-3.xml",
    ]


@pytest.mark.parametrize("path", INBOUND, ids=[p.name for p in INBOUND])
def test_a_signed_sample_maps_to_its_expected_envelope(path: Path):
    headers, clock = sample_headers(path)
    raw = RawMessage(body=path.read_bytes(), headers=headers, meta={"now": clock})
    result = map_message(PROJECT, "emergency", message_of(path), raw)
    assert [_unstamped(e.model_dump(mode="json")) for e in result.envelopes] == [expected(path)]


@pytest.mark.parametrize("path", INBOUND, ids=[p.name for p in INBOUND])
def test_ebus_map_prints_the_expected_envelope(path: Path):
    headers, clock = sample_headers(path)
    options = [f"--header={k}={v}" for k, v in headers.items()] + [f"--meta=now={clock}"]
    result = CliRunner().invoke(app, ["map", "emergency", message_of(path), str(path), *options])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [_unstamped(line) for line in lines] == [expected(path)]


@pytest.mark.parametrize("path", INBOUND, ids=[p.name for p in INBOUND])
def test_a_sample_without_its_signature_is_refused(path: Path):
    raw = RawMessage(body=path.read_bytes())
    with pytest.raises(MessageRejected) as caught:
        map_message(PROJECT, "emergency", message_of(path), raw)
    assert caught.value.rule == "missing_header"
    assert caught.value.system == "emergency"


def test_the_worked_example_of_section_2_4_holds():
    body = (SAMPLES / "safety_inspection-1.xml").read_bytes()
    assert len(body) == 2193
    assert body_hash(body) == "24d9488b4e422178405f2f5743005055a4bec3678df4fe452a23f2447f8a5a48"
    assert string_to_sign("YJZF-FJ-PROV", "20240305103015", "9f2c4e7a1b3d5c60", body) == (
        "YJZF-FJ-PROV\n20240305103015\n9f2c4e7a1b3d5c60\n"
        "24d9488b4e422178405f2f5743005055a4bec3678df4fe452a23f2447f8a5a48"
    )
    assert sign(SECRET, "YJZF-FJ-PROV", "20240305103015", "9f2c4e7a1b3d5c60", body) == (
        "0693AB71DBF078E59EF2352141F57D5C2F9E5FFB9AC2B6B4DEAAB2D57DE5DE6A"
    )


ACKS = {
    # code: (sample whose msgId the ack answers, verdict, rejection, ack time)
    "0": ("YJZF20240305103015000123", "accepted", None, "2024-03-05 10:30:16"),
    "2": (
        "YJZF20240318090000000201",
        "rejected",
        MessageRejected("check", field="payload.target.uscc", rule="uscc_check"),
        "2024-03-18 09:00:01",
    ),
    "9": ("YJZF20240318090500000299", "unavailable", None, "2024-03-18 09:05:01"),
}


def _at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def _push(msg_id: str) -> RawMessage:
    body = (SAMPLES / "safety_inspection-1.xml").read_bytes()
    return RawMessage(body=body.replace(b"YJZF20240305103015000123", msg_id.encode()))


@pytest.mark.parametrize("code", sorted(ACKS), ids=[f"ack-{c}" for c in sorted(ACKS)])
def test_the_answer_is_the_ack_sample_byte_for_byte(code: str):
    msg_id, verdict, error, at = ACKS[code]
    answer = Answerer(clock=lambda: _at(at))(
        "safety_inspection", _push(msg_id), verdict, error, CONFIG
    )
    assert answer.status == 200
    assert answer.content_type == "text/xml; charset=UTF-8"
    assert answer.body == (SAMPLES / f"ack-{code}.xml").read_bytes()


def test_a_resend_is_answered_with_the_ack_1_sample_byte_for_byte():
    clock = iter([_at("2024-03-12 16:30:21"), _at("2024-03-12 16:30:36")])
    answerer = Answerer(clock=lambda: next(clock))
    push = _push("YJZF20240312163020000077")
    first = answerer("safety_inspection", push, "accepted", None, CONFIG)
    again = answerer("safety_inspection", push, "duplicate", None, CONFIG)
    assert b"<code>0</code>" in first.body
    assert again.body == (SAMPLES / "ack-1.xml").read_bytes()
