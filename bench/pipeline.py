"""Benchmark (a): the in-process inbound pipeline against its floor, on the spec samples.

Floor: for each inbound wire sample, the bare work any implementation must do — parse the wire
bytes (lxml for XML, json for JSON), validate the expected canonical envelope with the pydantic
model, dump it to JSON. Pipeline: the bus's real path — the adapter's wire hooks where it has
them (verify, prepare), the compiled mapping (decode, hardened parse, unwrap, selectors,
transforms, code tables, validation), stamping, JSON dump. Both run the same messages in the
same process, so the ratio is what the bus costs over the floor.

A wire sample is ``<message>-<k>.<ext>`` in the system's ``samples/`` with a sibling
``.expected.json``; files with a second suffix (``.expected.json``, ``.request.json``, ...) are
sidecars. An answer gets the facts of the call it answers as transport meta, as the contract
tests give them: ``<stem>.request.json``, else the method and path of ``<op>-<k>.http``. A
sample either path cannot run is left out of both and listed under ``skipped``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from runner.adapter_api import RawMessage
from runner.project import Project, load_project
from runner.specs import specs_dir
from runner.stamp import new_message_id, now, stamp
from schemas import DRAFTS, DeliveryOutcome

__all__ = ["measure_pipeline"]

_NOT_WIRE = (".http", ".ok")

Case = tuple[str, Any, bytes, dict[str, str], Any]
"""(sample name, mapping, wire bytes, transport meta, expected items)."""


def _samples(project: Project) -> list[Case]:
    """Every inbound wire sample with a mapping and an ``.expected.json``."""
    cases = []
    for (system, message), mapping in project.inbound.items():
        folder = specs_dir() / "systems" / system / "samples"
        for path in sorted(folder.glob(f"{message}-*")):
            if len(path.suffixes) != 1 or path.suffix in _NOT_WIRE:
                continue  # a sidecar, not wire bytes
            expected_path = path.with_name(path.stem + ".expected.json")
            if expected_path.exists():
                expected = json.loads(expected_path.read_bytes())
                name, meta = f"{system}/{path.name}", _request_meta(path)
                cases.append((name, mapping, path.read_bytes(), meta, expected))
    return cases


def _request_meta(path: Path) -> dict[str, str]:
    """The facts of the call an answer sample answers (``.request.json`` or the ``.http``)."""
    request = path.with_name(path.stem + ".request.json")
    if request.exists():
        return {k: str(v) for k, v in json.loads(request.read_bytes()).items()}
    operation, _, number = path.stem.rpartition("-")
    call = path.with_name(f"{operation.removesuffix('_response')}-{number}.http")
    if operation.endswith("_response") and call.exists():
        method, target, *_ = call.read_text(encoding="utf-8").splitlines()[0].split()
        return {"method": method, "path": target.split("?")[0]}
    return {}


def _wire_hooks(project: Project, mapping: Any, meta: dict[str, str]) -> Callable[[bytes], bytes]:
    """The adapter's verify and prepare hooks on raw bytes, as the inbound worker runs them."""
    adapter = project.registry.get(mapping.system)
    if not (adapter.verify or adapter.prepare):
        return lambda raw: raw
    config = adapter.config.model_validate(dict(adapter.demo_config))
    return lambda raw: adapter.inbound(mapping.message, RawMessage(raw, meta=meta), config)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _floor_one(mapping: Any, raw: bytes, expected: Any) -> None:
    if mapping.fmt == "xml":
        root = etree.fromstring(raw, _PARSER)
        if mapping.unwrap is not None:  # the message's data is a second document in a string
            inner = mapping.unwrap(root)
            if inner:
                etree.fromstring(inner.split("?>", 1)[-1].encode(), _PARSER)
    else:
        json.loads(raw)
    items = expected if isinstance(expected, list) else [expected]
    for item in items:
        if "outcome" in item:
            DeliveryOutcome.model_validate(item).model_dump_json()
        else:
            DRAFTS[item["schema"]].model_validate(item).model_dump_json()


def _pipeline_one(mapping: Any, hooks: Callable[[bytes], bytes], raw: bytes, received: Any) -> None:
    result = mapping.apply(hooks(raw))
    if result.outcome is not None:
        result.outcome.model_dump_json()
    for draft in result.envelopes:
        stamp(draft, message_id=new_message_id(), received_at=received).model_dump_json()


def _rate(fn: Any, cases: list[tuple[Any, ...]], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for case in cases:
            fn(*case)
        count += len(cases)
    return count / (time.perf_counter() - started)


def measure_pipeline(seconds: float = 3.0, project: Project | None = None) -> dict[str, Any]:
    """Messages per second of the floor and of the pipeline, and their ratio."""
    project = project or load_project()
    received = now()
    floor_cases, pipeline_cases, skipped = [], [], []
    for name, mapping, raw, meta, expected in _samples(project):
        floor_case = (mapping, raw, expected)
        pipeline_case = (mapping, _wire_hooks(project, mapping, meta), raw, received)
        try:  # warm up both paths once; a sample that fails either is left out of both
            _floor_one(*floor_case)
            _pipeline_one(*pipeline_case)
        except Exception as exc:
            skipped.append(f"{name}: {type(exc).__name__}")
            continue
        floor_cases.append(floor_case)
        pipeline_cases.append(pipeline_case)
    if not floor_cases:
        raise RuntimeError(f"no inbound samples with mappings to measure (skipped: {skipped})")
    floor = _rate(_floor_one, floor_cases, seconds)
    pipeline = _rate(_pipeline_one, pipeline_cases, seconds)
    return {
        "samples": len(floor_cases),
        "skipped": skipped,
        "floor_msgs_per_s": round(floor, 1),
        "pipeline_msgs_per_s": round(pipeline, 1),
        "pipeline_to_floor_ratio": round(pipeline / floor, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure_pipeline(), indent=2))
