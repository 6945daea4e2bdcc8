"""Benchmark (a): the in-process inbound pipeline against its floor, on the spec samples.

Floor: for each inbound wire sample, the bare work any implementation must do — parse the wire
bytes as what they are (lxml for XML, the inner document of a SOAP answer too; json for JSON;
each line of JSON Lines; CSV rows, UTF-8 or else GB18030), validate the expected canonical
envelopes with the pydantic models, dump them to JSON. Pipeline: the bus's real path — the
adapter's wire hooks where it has them (verify, prepare), the compiled mapping (decode, hardened
parse, unwrap, selectors, transforms, code tables, validation), stamping, JSON dump. Both run
the same messages in the same process, so the ratio is what the bus costs over the floor.

The samples and their transport facts (the call an answer answers, signed headers and the
replay clock, a night's manifest, a batch's package) come from ``runner.sample_facts``, the
reader the contract tests use, so every inbound sample of every adapter is measured. A sample
either path cannot run is left out of both and listed under ``skipped`` (none expected).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from runner.adapter_api import RawMessage
from runner.project import Project, load_project
from runner.sample_facts import expected_path, raw_sample, wire_samples
from runner.stamp import new_message_id, now, stamp
from schemas import DRAFTS, DeliveryOutcome

__all__ = ["floor_one", "measure_pipeline", "pipeline_one", "samples", "wire_hooks"]

Case = tuple[str, Any, RawMessage, Any]
"""(sample name, mapping, the raw message with its transport facts, expected items)."""


def samples(project: Project) -> list[Case]:
    """Every inbound wire sample with a mapping and an ``.expected.json``."""
    cases = []
    for (system, message), mapping in project.inbound.items():
        for path in wire_samples(system, message):
            expected = json.loads(expected_path(path).read_bytes())
            cases.append((f"{system}/{path.name}", mapping, raw_sample(path), expected))
    return cases


def wire_hooks(project: Project, mapping: Any, raw: RawMessage) -> Callable[[], bytes]:
    """The adapter's verify and prepare hooks on ``raw``, as the inbound worker runs them."""
    adapter = project.registry.get(mapping.system)
    if not (adapter.verify or adapter.prepare):
        return lambda: raw.body
    config = adapter.config.model_validate(dict(adapter.demo_config))
    return lambda: adapter.inbound(mapping.message, raw, config)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _text(raw: bytes) -> str:
    """Wire text: UTF-8 (a BOM dropped), else GB18030, the other encoding the specs use."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def floor_one(wire: str, mapping: Any, raw: bytes, expected: Any) -> None:
    """The floor's work on one sample: parse ``raw`` as ``wire`` says, validate and dump the
    ``expected`` canonical items."""
    if wire == ".xml":
        root = etree.fromstring(raw, _PARSER)
        if mapping.fmt == "xml" and mapping.unwrap is not None:  # data in a string: 2nd parse
            inner = mapping.unwrap(root)
            if inner:
                etree.fromstring(inner.split("?>", 1)[-1].encode(), _PARSER)
    elif wire == ".jsonl":
        for line in _text(raw).splitlines():
            if line.strip():
                json.loads(line)
    elif wire == ".csv":
        list(csv.DictReader(io.StringIO(_text(raw), newline="")))
    else:
        json.loads(raw)
    items = expected if isinstance(expected, list) else [expected]
    for item in items:
        if "outcome" in item:
            DeliveryOutcome.model_validate(item).model_dump_json()
        else:
            DRAFTS[item["schema"]].model_validate(item).model_dump_json()


def pipeline_one(
    mapping: Any, hooks: Callable[[], bytes], encoding: str | None, received: Any
) -> None:
    """The bus's work on one sample: the adapter's hooks, the mapping, stamping, dump."""
    result = mapping.apply(hooks(), encoding=encoding)
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
    for name, mapping, raw, expected in samples(project):
        encoding = raw.meta.get("encoding")
        floor_case = (Path(name).suffix, mapping, raw.body, expected)
        pipeline_case = (mapping, wire_hooks(project, mapping, raw), encoding, received)
        try:  # warm up both paths once; a sample that fails either is left out of both
            floor_one(*floor_case)
            pipeline_one(*pipeline_case)
        except Exception as exc:
            skipped.append(f"{name}: {type(exc).__name__}")
            continue
        floor_cases.append(floor_case)
        pipeline_cases.append(pipeline_case)
    if not floor_cases:
        raise RuntimeError(f"no inbound samples with mappings to measure (skipped: {skipped})")
    floor = _rate(floor_one, floor_cases, seconds)
    pipeline = _rate(pipeline_one, pipeline_cases, seconds)
    return {
        "samples": len(floor_cases),
        "skipped": skipped,
        "floor_msgs_per_s": round(floor, 1),
        "pipeline_msgs_per_s": round(pipeline, 1),
        "pipeline_to_floor_ratio": round(pipeline / floor, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure_pipeline(), indent=2))
