"""Helpers of the two_laws tests: samples, their request facts, mapping and rendering."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from lxml import etree

from adapters.two_laws import SPEC, TwoLawsConfig
from runner.adapter_api import Outgoing, RawMessage
from runner.dryrun import DryRun, map_message, render_message
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

SAMPLES = SPECS / "systems" / "two_laws" / "samples"
PROJECT = load_project()
DEMO = TwoLawsConfig.model_validate(dict(SPEC.demo_config))
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")
RENDERED = {
    "submit_case-1": "2024-03-05T16:00:00+08:00",
    "submit_case-2": "2024-03-08T10:05:00+08:00",
    "submit_case-3": "2024-03-11T15:33:00+08:00",
    "fetch_notices_request-1": "2024-03-15T08:00:00+08:00",
}
"""Each outbound sample and the time its timestamp says (README §2.2)."""


def at(*parts: int) -> dt.datetime:
    """A Beijing time."""
    return dt.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def sample(name: str) -> bytes:
    """The bytes of ``samples/<name>``."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    """The JSON of ``samples/<name>`` (a fresh copy)."""
    return copy.deepcopy(json.loads(sample(name)))


def request_facts(stem: str) -> dict[str, str]:
    """The request an answer sample answers (``<stem>.request.json``), as transport facts."""
    path = SAMPLES / f"{stem}.request.json"
    if not path.exists():
        return {}
    return {key: str(value) for key, value in json.loads(path.read_bytes()).items()}


def mapped(message: str, body: bytes, meta: dict[str, str] | None = None) -> DryRun:
    """``body`` through the inbound path of ``message`` (dry run)."""
    return map_message(PROJECT, "two_laws", message, RawMessage(body=body, meta=meta or {}))


def outcome(message: str, body: bytes, meta: dict[str, str] | None = None) -> dict[str, Any]:
    """The delivery outcome an answer maps to, as JSON."""
    result = mapped(message, body, meta)
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def unstamped(result: DryRun) -> list[dict[str, Any]]:
    """The envelopes of a dry run without the fields the bus stamps."""
    return [
        {k: v for k, v in e.model_dump(mode="json").items() if k not in STAMPED}
        for e in result.envelopes
    ]


def render(message: str, item: dict[str, Any], now: str = "2024-03-05T16:00:00+08:00") -> Outgoing:
    """The call the outbound path makes for ``item`` at ``now``."""
    return render_message(PROJECT, "two_laws", message, [item], {"now": now})


def canonical_xml(data: bytes) -> str:
    """C14N 2.0 with prefixes rewritten: equal when documents differ only in prefixes."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return etree.canonicalize(etree.tostring(root, encoding="unicode"), rewrite_prefixes=True)


def wire(body: bytes, path: str) -> etree._Element | None:
    """The element at ``path`` (local names joined by ``/``) of a request envelope."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = "{http://lfxj.fjjcy.gov.cn/exchange/v3}"
    return root.find(".//" + "/".join(ns + part for part in path.split("/")))


def wire_text(body: bytes, path: str) -> str | None:
    """The text of the element at ``path`` ("" when empty, None when omitted)."""
    found = wire(body, path)
    return None if found is None else (found.text or "")
