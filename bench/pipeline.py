"""Benchmark (a): the in-process inbound pipeline against its floor, on the spec samples.

Floor: for each inbound wire sample, the bare work any implementation must do — parse the wire
bytes (lxml for XML, json for JSON), validate the expected canonical envelope with the pydantic
model, dump it to JSON. Pipeline: the bus's real path — the compiled mapping (decode, hardened
parse, unwrap, selectors, transforms, code tables, validation), stamping, JSON dump. Both run
the same messages in the same process, so the ratio is what the bus costs over the floor.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lxml import etree

from runner.project import Project, load_project
from runner.specs import specs_dir
from runner.stamp import new_message_id, now, stamp
from schemas import DRAFTS, DeliveryOutcome

__all__ = ["measure_pipeline"]

_SIDECARS = (".expected.json", ".input.json", ".http", ".ok", ".taskxml.xml", ".amqp.json")


def _samples(project: Project) -> list[tuple[Any, bytes, Any]]:
    """(mapping, wire bytes, expected items) for every inbound sample with a mapping."""
    cases = []
    for (system, message), mapping in project.inbound.items():
        folder = specs_dir() / "systems" / system / "samples"
        for path in sorted(folder.glob(f"{message}-*")):
            if path.name.endswith(_SIDECARS):
                continue
            expected_path = path.with_name(path.name.split(".")[0] + ".expected.json")
            if expected_path.exists():
                expected = json.loads(expected_path.read_bytes())
                cases.append((mapping, path.read_bytes(), expected))
    return cases


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


def _pipeline_one(mapping: Any, raw: bytes, received: Any) -> None:
    result = mapping.apply(raw)
    if result.outcome is not None:
        result.outcome.model_dump_json()
    for draft in result.envelopes:
        stamp(draft, message_id=new_message_id(), received_at=received).model_dump_json()


def _rate(fn: Any, cases: list[tuple[Any, bytes, Any]], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for case in cases:
            fn(*case)
        count += len(cases)
    return count / (time.perf_counter() - started)


def measure_pipeline(seconds: float = 3.0, project: Project | None = None) -> dict[str, Any]:
    """Messages per second of the floor and of the pipeline, and their ratio."""
    project = project or load_project()
    cases = _samples(project)
    if not cases:
        raise RuntimeError("no inbound samples with mappings to measure")
    received = now()
    pipeline_cases = [(m, raw, received) for m, raw, _ in cases]
    for case in cases:  # warm up both paths once
        _floor_one(*case)
    for case in pipeline_cases:
        _pipeline_one(*case)
    floor = _rate(_floor_one, cases, seconds)
    pipeline = _rate(_pipeline_one, pipeline_cases, seconds)
    return {
        "samples": len(cases),
        "floor_msgs_per_s": round(floor, 1),
        "pipeline_msgs_per_s": round(pipeline, 1),
        "pipeline_to_floor_ratio": round(pipeline / floor, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure_pipeline(), indent=2))
    _ = Path
