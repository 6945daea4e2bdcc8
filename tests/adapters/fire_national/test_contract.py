"""Contract: every fire_national sample, in-process and through the CLI (README §2.3–§2.5, §8).

The generic tests/contract suite covers the inbound samples too; these run on their own so the
adapter's contract holds even while another adapter breaks that suite's collection.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from adapters.fire_national._envelope import Keys, query_string, seal
from adapters.fire_national._poll import tasks_request
from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message, render_message
from tests.adapters.fire_national._support import (
    ANSWERS,
    OUTBOUND,
    PROJECT,
    SAMPLES,
    TASKS,
    config,
    keys,
    load,
    signing,
)

STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def _unstamped(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in item.items() if k not in STAMPED} for item in items]


def _facts(stem: str) -> dict[str, str]:
    sidecar = signing(stem)
    return {"timestamp": sidecar["timestamp"], "nonce": sidecar["nonce"]}


@pytest.mark.parametrize("stem", TASKS)
def test_a_tasks_page_maps_to_its_expected_envelopes(stem: str):
    result = map_message(
        PROJECT, "fire_national", "tasks", RawMessage((SAMPLES / f"{stem}.json").read_bytes())
    )
    got = _unstamped([e.model_dump(mode="json") for e in result.envelopes])
    assert got == load(f"{stem}.expected.json")
    assert result.rejected == []


@pytest.mark.parametrize("stem", ANSWERS)
def test_an_upload_answer_maps_to_its_delivery_outcome(stem: str):
    result = map_message(
        PROJECT,
        "fire_national",
        "upload_response",
        RawMessage((SAMPLES / f"{stem}.json").read_bytes()),
    )
    assert result.outcome is not None
    assert result.outcome.model_dump(mode="json") == load(f"{stem}.expected.json")


@pytest.mark.parametrize("stem", TASKS + ANSWERS)
def test_ebus_map_prints_the_expected_output(stem: str):
    message = stem.rsplit("-", 1)[0]
    result = CliRunner().invoke(
        app, ["map", "fire_national", message, str(SAMPLES / f"{stem}.json")]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = load(f"{stem}.expected.json")
    if isinstance(expected, dict):
        assert lines == [expected]
    else:
        assert _unstamped(lines) == expected


@pytest.mark.parametrize("stem", OUTBOUND)
def test_an_upload_renders_to_its_wire_sample_byte_for_byte(stem: str):
    message = stem.rsplit("-", 1)[0]
    call = render_message(
        PROJECT, "fire_national", message, [load(f"{stem}.input.json")], _facts(stem)
    )
    assert call.body == (SAMPLES / f"{stem}.json").read_bytes()
    assert (call.method, call.path) == (signing(stem)["method"], signing(stem)["path"])


@pytest.mark.parametrize("stem", OUTBOUND)
def test_ebus_render_prints_the_wire_sample(stem: str):
    message = stem.rsplit("-", 1)[0]
    meta = [arg for k, v in _facts(stem).items() for arg in ("--meta", f"{k}={v}")]
    source = str(SAMPLES / f"{stem}.input.json")
    result = CliRunner().invoke(app, ["render", "fire_national", message, source, *meta])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.rstrip(b"\n") == (SAMPLES / f"{stem}.json").read_bytes()


@pytest.mark.parametrize("stem", OUTBOUND)
def test_the_decrypted_payload_is_the_plain_sample(stem: str):
    message = stem.rsplit("-", 1)[0]
    document = PROJECT.outbound_mapping("fire_national", message).render(
        [load(f"{stem}.input.json")]
    )
    assert json.loads(document) == load(f"{stem}.plain.json")


def test_the_acknowledgement_of_tasks_1_renders_to_its_sample_byte_for_byte():
    envelope = load("tasks-1.expected.json")[0] | {"received_at": "2024-03-08T08:00:02+08:00"}
    call = render_message(PROJECT, "fire_national", "tasks_ack", [envelope], _facts("tasks_ack-1"))
    assert call.body == (SAMPLES / "tasks_ack-1.json").read_bytes()
    assert call.path == "/api/v2/province/35/tasks/ack"


@pytest.mark.parametrize("stem", TASKS)
def test_the_poll_request_of_each_tasks_sample_is_its_url_byte_for_byte(stem: str):
    request = signing(stem)["request"]
    query = request["query"]
    call = tasks_request(config(), "", query["timestamp"], query["nonce"])
    assert call.path == request["url"]
    assert call.method == "GET"
    assert call.body == b""


def test_the_worked_example_of_section_2_3():
    envelope = seal(
        keys(), b'{"cursor":"","pageSize":50}', "1709856000000", "5d8e1b4a7c0f3962e5b8d1a4c7f02e96"
    )
    assert envelope["encryptData"] == "iuKOQpWPDLTM40Pc90WeuFWr+Ka63xyZIVFVowu2MMU="
    assert envelope["sign"] == "8f3f256b7712f26f54ece1a2794bbaff4794a90bdb43833fce80012893e1e7c5"
    assert "encryptData=iuKOQpWPDLTM40Pc90WeuFWr%2BKa63xyZIVFVowu2MMU%3D&" in query_string(envelope)


def test_the_data_id_is_the_sha256_prefix_of_system_and_message_id():
    digest = hashlib.sha256(b"platform|01HRZQ3M8VB4K7T2N6C9D5X0EA").hexdigest()[:32]
    assert digest == "19d8b7d63cf292e3c670df3da97dc969"
    assert load("penalties-1.plain.json")["records"][0]["dataId"] == digest


def test_keys_never_show_in_a_repr():
    text = repr(keys()) + repr(config())
    for secret in (
        "b7e2c91f4a6d3058e1f9a2c7d4b60e83",
        "3a7c9e1f5b2d4068a1c3e5f7092b4d6f",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    ):
        assert secret not in text
    assert isinstance(keys(), Keys)
