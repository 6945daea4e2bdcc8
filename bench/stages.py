"""Where benchmark (a)'s time goes: the pipeline and its floor cut into stages, on the same samples.

``python -m bench.stages [--seconds S] [--json]`` times each stage alone over every inbound spec
sample (the cases of ``bench.pipeline``), in microseconds per pass over all of them:

- floor: ``parse`` (the wire bytes as what they are) and ``model`` (validate the expected
  canonical envelopes with pydantic, dump JSON);
- pipeline: ``hooks`` (the adapter's verify and prepare), ``apply`` (the compiled mapping:
  hardened decode and parse, answer checks, rules, payload validation, envelope checks) and
  ``envelope`` (a new message id, stamp and dump of each result). Inside ``apply``,
  ``parse`` is timed alone and ``rules`` is what is left once parse and the floor's own
  ``model`` stage are taken out: the mapping's own work (selectors, transforms, code tables,
  answer checks, classification). What the full pipeline costs over the sum of its timed
  stages is ``interplay``: the same work run interleaved, with colder caches and more garbage.

It then gives the ratio the pipeline would have if a stage cost nothing: the bound that no
optimisation of the other stages can pass. It answers "what would reaching 0.7 take" with a
measurement instead of a guess.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.pipeline import floor_one, pipeline_one, samples, wire_hooks
from runner.mapping.documents import parse_document, parse_xml
from runner.project import Project, load_project
from runner.stamp import new_message_id, now, stamp
from schemas import DRAFTS, DeliveryOutcome

__all__ = ["bounds", "main", "measure_stages"]


def _per_pass_us(fn: Callable[[], object], seconds: float) -> float:
    """Microseconds one call of ``fn`` takes, over ``seconds`` of repeated calls."""
    fn()  # warm
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        fn()
        count += 1
    return elapsed / count * 1e6


def _parse(mapping: Any, body: bytes, encoding: str | None) -> None:
    document = parse_document(body, mapping.fmt, encoding or mapping.encoding)
    if mapping.fmt == "xml" and mapping.unwrap is not None:
        inner = mapping.unwrap(document)
        if isinstance(inner, str) and inner.strip():
            parse_xml(inner)


def _model(expected: Any) -> None:
    for item in expected if isinstance(expected, list) else [expected]:
        model = DeliveryOutcome if "outcome" in item else DRAFTS[item["schema"]]
        model.model_validate(item).model_dump_json()


def _envelope(result: Any, received: Any) -> None:
    """The pipeline's last stage on a mapping result (as ``bench.pipeline`` runs it)."""
    if result.outcome is not None:
        result.outcome.model_dump_json()
    for draft in result.envelopes:
        stamp(draft, message_id=new_message_id(), received_at=received).model_dump_json()


def measure_stages(seconds: float = 1.0, project: Project | None = None) -> dict[str, Any]:
    """Microseconds per pass over all samples of each stage, and the bound ratios."""
    project = project or load_project()
    received = now()
    cases = []
    for name, mapping, raw, expected in samples(project):
        hooks = wire_hooks(project, mapping, raw)
        encoding = raw.meta.get("encoding")
        body = hooks()
        result = mapping.apply(body, encoding=encoding)
        cases.append((name, mapping, raw, expected, hooks, encoding, body, result))

    def each(step: Callable[..., object]) -> Callable[[], None]:
        def run() -> None:
            for case in cases:
                step(*case)

        return run

    floor_parse = each(
        lambda n, m, raw, e, h, enc, b, res: floor_one(Path(n).suffix, m, raw.body, [])
    )
    stages = {
        "floor_parse": floor_parse,
        "floor_model": each(lambda n, m, r, expected, h, enc, b, res: _model(expected)),
        "hooks": each(lambda n, m, r, e, hooks, enc, b, res: hooks()),
        "parse": each(lambda n, mapping, r, e, h, enc, body, res: _parse(mapping, body, enc)),
        "apply": each(
            lambda n, mapping, r, e, h, enc, body, res: mapping.apply(body, encoding=enc)
        ),
        "envelope": each(lambda n, m, r, e, h, enc, b, result: _envelope(result, received)),
        "pipeline": each(
            lambda n, mapping, r, e, hooks, enc, b, res: pipeline_one(mapping, hooks, enc, received)
        ),
    }
    us = {name: round(_per_pass_us(fn, seconds), 1) for name, fn in stages.items()}
    return {"samples": len(cases), "us_per_pass": us, **bounds(us)}


def bounds(us: dict[str, float]) -> dict[str, Any]:
    """The stages of the pipeline, and its ratio to the floor with each stage at zero cost."""
    floor = us["floor_parse"] + us["floor_model"]
    pipeline = us["pipeline"]
    rules = max(us["apply"] - us["parse"] - us["floor_model"], 0.0)
    parts = {
        "hooks": us["hooks"],
        "parse": us["parse"],
        "rules": rules,
        "validation (floor's model stage)": us["floor_model"],
        "envelope": us["envelope"],
    }
    parts["interplay"] = max(pipeline - sum(parts.values()), 0.0)
    left = {
        "now": pipeline,
        "hooks free": pipeline - parts["hooks"],
        "rules free": pipeline - rules,
        "hooks and rules free": pipeline - parts["hooks"] - rules,
        "hooks, rules and envelope free": pipeline - parts["hooks"] - rules - parts["envelope"],
        "only parse and validation left": parts["parse"] + us["floor_model"],
    }
    # timing noise can make stages add up to more than the pipeline: never below the floor's
    # own parse and validation, which every variant still does
    least = parts["parse"] + us["floor_model"]
    free = {name: floor / max(cost, least) for name, cost in left.items()}
    return {
        "floor_us": round(floor, 1),
        "pipeline_us": round(pipeline, 1),
        "pipeline_parts_us": {name: round(value, 1) for name, value in parts.items()},
        "ratio_if": {name: round(value, 3) for name, value in free.items()},
    }


def _table(result: dict[str, Any]) -> str:
    lines = [f"{result['samples']} samples, microseconds per pass over all of them"]
    lines.append(f"  floor     {result['floor_us']:>10.1f}")
    lines.append(f"  pipeline  {result['pipeline_us']:>10.1f}")
    for name, value in result["pipeline_parts_us"].items():
        share = value / result["pipeline_us"]
        lines.append(f"    {name:<34} {value:>10.1f}  {share:6.1%}")
    lines.append("pipeline / floor ratio")
    for name, value in result["ratio_if"].items():
        lines.append(f"  {name:<36} {value:>8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench.stages``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.stages", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per stage")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure_stages(args.seconds)
    print(json.dumps(result) if args.json else _table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
