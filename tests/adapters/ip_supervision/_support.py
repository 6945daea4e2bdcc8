"""The ip_supervision spec samples as test data, and helpers shared by its tests."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from lxml import etree

from adapters.ip_supervision import IpSupervisionConfig, read_call
from adapters.ip_supervision.simulator import APP_ID, APP_SECRET
from runner.adapter_api import RawMessage
from runner.dryrun import DryRun, map_message
from runner.project import load_project
from schemas import DeliveryOutcome
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

__all__ = [
    "OUTBOUND",
    "PROJECT",
    "SAMPLES",
    "config",
    "envelope",
    "facts",
    "inputs",
    "mapped",
    "outcome",
    "same_xml",
    "sample",
    "sample_json",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "ip_supervision" / "samples"
OUTBOUND = ["upload_inspection-1", "upload_inspection-2", "upload_penalty-1", "upload_penalty-2"]
PRODUCTION = "https://hlwjg-sjjr.fjzwnet.gov.cn:9443/jgxw/services/SupervisionDataService"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


def inputs(stem: str) -> list[dict[str, Any]]:
    """The ``.input.json`` array of a sample (fresh copies, to vary in a test)."""
    return copy.deepcopy(sample_json(f"{stem}.input.json"))


def envelope(stem: str, index: int = 0) -> dict[str, Any]:
    return inputs(stem)[index]


def facts(stem: str) -> dict[str, str]:
    """The call facts of a sample (its AuthHeader timestamp as ``now``, its nonce)."""
    header = read_call(sample(f"{stem}.xml"))
    moment = dt.datetime.strptime(header["timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    return {"now": moment.isoformat(), "nonce": header["nonce"]}


def config(endpoint: str = PRODUCTION, **overrides: Any) -> IpSupervisionConfig:
    """The test-environment credentials of README §2.3 at ``endpoint``."""
    values = {"endpoint": endpoint, "app_id": APP_ID, "app_secret": APP_SECRET} | overrides
    return IpSupervisionConfig.model_validate(values)


def _shape(element: etree._Element) -> Any:
    """An element as (qualified tag, attributes, text, children): prefixes and where the
    namespaces are declared do not matter."""
    return (
        element.tag,
        dict(element.attrib),
        (element.text or "").strip() if len(element) else element.text or "",
        [_shape(child) for child in element if isinstance(child.tag, str)],
    )


def same_xml(got: bytes, expected: bytes) -> bool:
    """True when two SOAP envelopes are the same after parsing (README §3 exactness)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return _shape(etree.fromstring(got, parser)) == _shape(etree.fromstring(expected, parser))


def mapped(answer: RawMessage | bytes, **meta: str) -> DryRun:
    raw = answer if isinstance(answer, RawMessage) else RawMessage(body=answer, meta=meta)
    return map_message(PROJECT, "ip_supervision", "upload_response", raw)


def outcome(answer: RawMessage | bytes, **meta: str) -> DeliveryOutcome:
    result = mapped(answer, **meta).outcome
    assert result is not None
    return result
