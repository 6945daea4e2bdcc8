"""``python -m bench``: run the four benchmarks in one run, sequentially, and report.

(a) the in-process pipeline against its floor (``bench.pipeline``); (b) the runtime end to end on
RabbitMQ and (c) on the embedded broker (``bench.e2e``); (d) the same workload through Celery
(``bench.celery_peer``). (b) and (c) each measure their floor first, in the same section (so
``--only rabbitmq`` runs it too): the naive kombu relay on the same RabbitMQ, and kombu's stock
SQLAlchemy transport (``bench.floors``); the report gives ours / floor (``--no-floors`` skips
them). ``--json`` prints one JSON object (for tracking run to run), otherwise a table. Progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.celery_peer import measure_celery
from bench.e2e import E2EConfig, measure_e2e
from bench.floors import FloorConfig, kombu_sqlalchemy_floor, naive_kombu_floor
from bench.machine import busy_others, facts, load, revision
from bench.pipeline import measure_pipeline
from bench.rabbit import AMQP_URL, server_version
from bench.report import summary, table
from runner.logs import configure_logging

__all__ = ["SECTIONS", "main", "parse_args", "run"]

SECTIONS = ("pipeline", "rabbitmq", "embedded", "celery")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--n", type=int, default=E2EConfig.n, help="messages per run")
    parser.add_argument("--runs", type=int, default=E2EConfig.runs, help="runs (median)")
    parser.add_argument("--warmup", type=int, default=E2EConfig.warmup, help="warm-up messages")
    parser.add_argument("--pipeline-seconds", type=float, default=3.0, help="(a): per side")
    parser.add_argument(
        "--paced-seconds", type=float, default=E2EConfig.paced_s, help="paced latency run"
    )
    parser.add_argument("--amqp-url", default=AMQP_URL, help="the RabbitMQ to use")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only these (repeatable)"
    )
    parser.add_argument(
        "--sink-in-process", action="store_true", help="run the sink in the runtime's process"
    )
    parser.add_argument(
        "--source-in-process", action="store_true", help="publish from the runtime's process"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=E2EConfig.processes,
        help="runtime processes for (b) and (c), as `ebus run --processes`",
    )
    parser.add_argument(
        "--no-floors", action="store_true", help="skip the kombu floors of (b) and (c)"
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options of ``python -m bench``."""
    return _parser().parse_args(argv)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _with_floor(
    name: str, floor: Callable[[], dict[str, Any]] | None, measure: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``measure``'s figures, with ``floor``'s (measured right before) under ``"floor"``."""
    if floor is None:
        return measure()
    _progress(f"bench: {name} floor ...")
    started = time.perf_counter()
    figures = floor()
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    _progress(f"bench: {name} floor {figures['msgs_per_s']} msg/s in {figures['wall_s']} s")
    return {"floor": figures, **measure()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected benchmarks; the JSON-ready result."""
    sections = args.only or list(SECTIONS)
    config = E2EConfig(
        n=args.n,
        runs=args.runs,
        warmup=args.warmup,
        paced_s=args.paced_seconds,
        sink_process=not args.sink_in_process,
        source_process=not args.source_in_process,
        processes=args.processes,
    )
    started = time.perf_counter()
    amqp = {"rabbitmq", "celery"} & set(sections)
    amqp_url = args.amqp_url
    result: dict[str, Any] = {
        "machine": {**facts(), "rabbitmq": server_version(amqp_url) if amqp else None},
        "revision": revision(),
        "config": {"n": config.n, "runs": config.runs, "warmup": config.warmup},
        "amqp_url": amqp_url.rsplit("@", 1)[-1],  # no credentials in the output
        "load_before": load(),
        "busy_others_before": busy_others(),
    }
    floors = FloorConfig()
    naive_floor = None if args.no_floors else lambda: naive_kombu_floor(amqp_url, floors)
    sqlalchemy_floor = None if args.no_floors else lambda: kombu_sqlalchemy_floor(floors)
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "pipeline": lambda: measure_pipeline(args.pipeline_seconds),
        "rabbitmq": lambda: _with_floor(
            "rabbitmq", naive_floor, lambda: measure_e2e(amqp_url, config)
        ),
        "embedded": lambda: _with_floor(
            "embedded", sqlalchemy_floor, lambda: measure_e2e("embedded", config)
        ),
        "celery": lambda: measure_celery(amqp_url, config),
    }
    for name in sections:
        _progress(f"bench: {name} ... (load {load()[0]})")
        section_started = time.perf_counter()
        result[name] = {"load_before": load(), **steps[name]()}
        _progress(f"bench: {name} done in {time.perf_counter() - section_started:.0f} s")
    result["load_after"] = load()
    result["busy_others_after"] = busy_others()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return {**summary(result), **result}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    args = parse_args(argv)
    configure_logging("WARNING")  # as `ebus run` logs, less the per-batch INFO lines
    result = run(args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
