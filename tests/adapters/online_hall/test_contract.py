"""Every online_hall sample, as a body file and as the full signed request of its ``.http``."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.online_hall._wire import sign
from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message
from tests.adapters.online_hall.samples import (
    DEMO_SECRET,
    PROJECT,
    STEMS,
    dry_run,
    read_http,
    sample_path,
)

STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def _expected(stem: str) -> dict[str, Any]:
    return json.loads(sample_path(stem, ".expected.json").read_bytes())


def _unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


@pytest.mark.parametrize("stem", STEMS)
def test_the_sample_body_maps_to_its_expected_envelope(stem: str):
    raw = RawMessage(body=sample_path(stem, ".json").read_bytes())
    result = map_message(PROJECT, "online_hall", stem.rpartition("-")[0], raw)
    assert [_unstamped(e.model_dump(mode="json")) for e in result.envelopes] == [_expected(stem)]


@pytest.mark.parametrize("stem", STEMS)
def test_the_signed_request_of_the_sample_verifies_and_maps_to_the_same_envelope(stem: str):
    request = read_http(stem)
    assert request.body == sample_path(stem, ".json").read_bytes()
    assert int(request.header("Content-Length")) == len(request.body)
    [envelope] = dry_run(request).envelopes
    assert _unstamped(envelope.model_dump(mode="json")) == _expected(stem)
    assert envelope.source_message_id == request.header("X-Hall-Event-Id")


@pytest.mark.parametrize("stem", STEMS)
def test_ebus_map_with_the_samples_headers_prints_the_expected_envelope(stem: str):
    request = read_http(stem)
    headers = [f"--header={k}={v}" for k, v in request.headers if k.lower().startswith("x-hall")]
    facts = [f"--meta=method={request.method}", f"--meta=path={request.path}"]
    result = CliRunner().invoke(
        app,
        [
            "map",
            "online_hall",
            stem.rpartition("-")[0],
            str(sample_path(stem, ".json")),
            *headers,
            *facts,
        ],
    )
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    assert _unstamped(line) == _expected(stem)


def test_the_readmes_worked_signature_examples():
    tiny = b'{"eventId":"EVT-TEST"}'
    mac = hmac.new(DEMO_SECRET.encode(), tiny, hashlib.sha256).hexdigest()
    assert mac == "3ba82ba344f91528d385b6db874b1823921f090add627e24894acf5959583dad"
    assert sign(DEMO_SECRET.encode(), tiny) == "O6gro0T5FSjThbbbh0sYI5IfCQrdYn4kiUrPWVlYPa0="
    body = sample_path("delivery_webhook-1", ".json").read_bytes()
    assert len(body) == 399
    assert sign(DEMO_SECRET.encode(), body) == "HhiknFBDfCy366Ob8VU/nKTdCWdBU0kQyg78gaucAXs="


@pytest.mark.parametrize("stem", STEMS)
def test_every_sample_request_is_signed_with_the_test_secret(stem: str):
    request = read_http(stem)
    assert request.header("X-Hall-Signature") == sign(DEMO_SECRET.encode(), request.body)


def test_the_config_unit_tests_of_the_mappings_pass():
    result = CliRunner().invoke(app, ["test", "mappings/online_hall"])
    assert result.exit_code == 0, result.output
    assert "6 passed, 0 failed" in result.output
