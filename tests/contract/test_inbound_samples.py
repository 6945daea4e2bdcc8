"""Contract tests: every inbound sample of every installed adapter maps to its .expected.json.

Run both in-process and through ``ebus map``. A sample of an installed adapter without a mapping
fails: an adapter is done only when all its samples pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message
from runner.project import load_project
from tests.conftest import SPECS

PROJECT = load_project()
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")
SIDECARS = (
    ".expected.json",
    ".input.json",
    ".http",
    ".ok",
    ".taskxml.xml",
    ".amqp.json",
    ".request.json",
    ".request.xml",
    ".plain.json",
    ".signing.json",
    ".headers.json",
    ".blacklist.xml",  # culture_tourism_national: the file inside the ZIP, for reading
)


def _wire_samples() -> list[tuple[str, str, Path]]:
    cases = []
    for system in PROJECT.registry.ids():
        adapter = PROJECT.registry.get(system)
        for message in adapter.messages:
            if message.direction != "inbound":
                continue
            folder = SPECS / "systems" / system / "samples"
            for path in sorted(folder.glob(f"{message.id}-*")):
                if (
                    not path.name.endswith(SIDECARS)
                    and path.with_name(path.name.split(".")[0] + ".expected.json").exists()
                ):
                    cases.append((system, message.id, path))
    return cases


CASES = _wire_samples()


# Call facts the specs give in prose rather than in a sidecar file.
PROSE_FACTS: dict[str, dict[str, str]] = {
    # hotline_12345 README §8: "HTTP 409 2003 already accepted" — the work order of accept-1
    # accepted a second time (its GDBH is the expected record_id).
    "hotline_12345/accept_response-2.json": {
        "method": "POST",
        "path": "/api/v3/workorders/GD202503110004521/accept",
        "status": "409",
    },
}

# market_reg README §8: a data file is mapped on its own only after the night's manifest
# (``manifest-<n>.json`` for sample night n) verifies; its path is the ``manifest`` fact.
PROSE_FACTS.update(
    {
        f"market_reg/{kind}-{night}.jsonl": {
            "manifest": str(SPECS / "systems" / "market_reg" / "samples" / f"manifest-{night}.json")
        }
        for kind in ("cases", "decisions")
        for night in (1, 2, 3)
    }
)


# culture_tourism_national README §8 and §3.2: a batch result's records are those of the package
# it answers, in package order — query_batch_result-2 answers batch WLSC-35-20240305-0001, the
# package of upload_daily_package-1 (upload_daily_package_response-1); -3 answers the package of
# upload_daily_package-2. The package's records are the ``package_records`` fact.
PROSE_FACTS.update(
    {
        "culture_tourism_national/query_batch_result-2.xml": {
            "package_records": json.dumps(
                [
                    ["CASE", "FJ3501002024WL11541298"],
                    ["CASE", "FJ3502002024WL38228539"],
                    ["CASE", "FJ3505002024WL421EF23E"],
                    ["DECISION", "榕文执罚字〔2024〕第015号"],
                    ["DECISION", "泉文执罚字〔2024〕第003号"],
                ],
                ensure_ascii=False,
            )
        },
        "culture_tourism_national/query_batch_result-3.xml": {
            "package_records": json.dumps(
                [["CASE", "FJ3502002024WL38228539"], ["DECISION", "厦文旅罚字〔2024〕第008号"]],
                ensure_ascii=False,
            )
        },
    }
)


def _request_facts(path: Path) -> dict[str, str]:
    """Facts of the call an answer sample answers, as transport meta.

    ``<stem>.request.json`` holds them explicitly; otherwise the answer ``<op>_response-N`` of
    a call sampled as ``<op>-N.http`` gets that request's method and path, as the HTTP
    transport reports them for a real call.
    """
    stem = path.name.split(".")[0]
    if f"{path.parts[-3]}/{path.name}" in PROSE_FACTS:
        return PROSE_FACTS[f"{path.parts[-3]}/{path.name}"]
    request = path.with_name(stem + ".request.json")
    if request.exists():
        return {k: str(v) for k, v in json.loads(request.read_bytes()).items()}
    operation, _, number = stem.rpartition("-")
    call = path.with_name(f"{operation.removesuffix('_response')}-{number}.http")
    if operation.endswith("_response") and call.exists():
        method, target, *_ = call.read_text(encoding="utf-8").splitlines()[0].split()
        return {"method": method, "path": target.split("?")[0]}
    return {}


_HOP_HEADERS = {"host", "content-length", "connection"}


def _signed_request(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The signed headers (lower-cased) and the replay clock of a pushed sample, from
    ``<stem>.headers.json`` ({"headers": {...}, "bus_clock": ISO}); empty when there is none."""
    sidecar = path.with_name(path.name.split(".")[0] + ".headers.json")
    pushed = path.with_name(path.name.split(".")[0] + ".http")
    if not sidecar.exists() and pushed.exists() and not path.name.endswith(".http"):
        # a pushed request sampled whole: its headers (the signature) go with the body
        head = pushed.read_bytes().partition(b"\r\n\r\n")[0].decode("utf-8").split("\r\n")
        method, target, _ = head[0].split(" ")
        fields = (line.partition(": ") for line in head[1:])
        headers = {k.lower(): v for k, _, v in fields if k.lower() not in _HOP_HEADERS}
        return headers, {"method": method, "path": target}
    if not sidecar.exists():
        return {}, {}
    data = json.loads(sidecar.read_bytes())
    return {k.lower(): v for k, v in data["headers"].items()}, {"now": data["bus_clock"]}


def _expected(path: Path) -> Any:
    return json.loads(path.with_name(path.name.split(".")[0] + ".expected.json").read_bytes())


def _unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def _comparable(expected: Any) -> Any:
    return expected if isinstance(expected, list) or "outcome" in expected else [expected]


def test_every_installed_adapter_has_samples_under_contract():
    assert {system for system, _, _ in CASES} == set(PROJECT.registry.ids())


@pytest.mark.parametrize(
    ("system", "message", "path"), CASES, ids=[f"{s}/{p.name}" for s, _, p in CASES]
)
def test_inbound_sample_maps_to_its_expected_output(system: str, message: str, path: Path):
    headers, clock = _signed_request(path)
    raw = RawMessage(
        body=path.read_bytes(), headers=headers, meta={**_request_facts(path), **clock}
    )
    result = map_message(PROJECT, system, message, raw)
    if result.outcome is not None:
        got: Any = result.outcome.model_dump(mode="json")
    else:
        got = [_unstamped(e.model_dump(mode="json")) for e in result.envelopes]
    assert got == _comparable(_expected(path))


@pytest.mark.parametrize(
    ("system", "message", "path"), CASES, ids=[f"{s}/{p.name}" for s, _, p in CASES]
)
def test_ebus_map_prints_the_expected_output(system: str, message: str, path: Path):
    headers, clock = _signed_request(path)
    facts = [f"--meta={k}={v}" for k, v in {**_request_facts(path), **clock}.items()]
    facts += [f"--header={k}={v}" for k, v in headers.items()]
    result = CliRunner().invoke(app, ["map", system, message, str(path), *facts])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = _comparable(_expected(path))
    if isinstance(expected, dict):
        assert lines == [expected]
    else:
        assert [_unstamped(line) for line in lines] == expected
        assert all(line["message_id"] and line["received_at"] for line in lines)
