"""Helpers of the eco_env tests: sample files, XML comparison, mapping answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from lxml import etree

from runner.adapter_api import RawMessage
from runner.dryrun import DryRun, map_message
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

SAMPLES = SPECS / "systems" / "eco_env" / "samples"
PROJECT = load_project()
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"


def at(*parts: int) -> dt.datetime:
    """A Beijing time."""
    return dt.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def naive(*parts: int) -> dt.datetime:
    """A naive Beijing time (the simulator's data times)."""
    return dt.datetime(*parts)  # type: ignore[arg-type]


def sample(name: str) -> bytes:
    """The bytes of ``samples/<name>``."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    """The JSON of ``samples/<name>``."""
    return json.loads(sample(name))


def canonical_xml(data: bytes) -> str:
    """C14N 2.0 of ``data`` with whitespace-only text removed and prefixes rewritten, so two
    documents compare equal when they differ only in prefixes and indentation."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    for element in root.iter():
        if element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    text = etree.tostring(root, encoding="unicode")
    return etree.canonicalize(text, rewrite_prefixes=True)


def soap_text(data: bytes, local_name: str) -> str:
    """The text of the first element called ``local_name`` (any namespace) in ``data``."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    found = root.find(f".//{{*}}{local_name}")
    assert found is not None, f"no {local_name} in the document"
    return found.text or ""


def mapped(message: str, raw: RawMessage) -> DryRun:
    """``raw`` through the eco_env inbound path of ``message`` (the project's real mappings)."""
    return map_message(PROJECT, "eco_env", message, raw)


def source_ids(result: DryRun) -> list[str]:
    """The ``source_message_id`` of every envelope of a mapping result."""
    return [envelope.source_message_id for envelope in result.envelopes]


def unstamped(result: DryRun) -> list[dict[str, Any]]:
    """The envelopes as JSON without the fields the bus stamps."""
    stamped = ("message_id", "causation_id", "occurred_at", "received_at")
    return [
        {k: v for k, v in e.model_dump(mode="json").items() if k not in stamped}
        for e in result.envelopes
    ]


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as UTF-8 JSON and return ``path``."""
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
