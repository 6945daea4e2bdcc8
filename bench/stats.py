"""Throughput and latency of one end-to-end run, from the source's batches and the sink's times."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.sink import SinkReport
from bench.source import Batch

__all__ = ["RunResult", "median_run", "run_result"]


@dataclass(frozen=True)
class RunResult:
    """One run: ``n`` messages, from the first publish to the last store."""

    n: int
    seconds: float
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    duplicates: int
    calls: int
    publish_s: float = 0.0
    cpu_ms_per_msg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready numbers."""
        return {
            "n": self.n,
            "seconds": round(self.seconds, 3),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "duplicates": self.duplicates,
            "calls": self.calls,
            "publish_s": round(self.publish_s, 3),
            "cpu_ms_per_msg": _round(self.cpu_ms_per_msg, 3),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def run_result(
    batches: Sequence[Batch], report: SinkReport, cpu_s: float | None = None
) -> RunResult:
    """Throughput (``n`` / first publish to last store) and per-message latency percentiles.

    A message's latency is the time it was first stored at the sink minus the time the batch
    holding it was handed to the bus. Every published message must have been stored.
    ``cpu_s``: the CPU time the system under test used meanwhile, if known; ``publish_s``: how
    long the source took to hand everything over (if close to ``seconds``, the source limited).
    """
    published = {b.first + i: b.at for b in batches for i in range(b.count)}
    missing = published.keys() - report.stored_at.keys()
    if missing:
        raise AssertionError(f"{len(missing)} of {len(published)} messages never reached the sink")
    latencies = [(report.stored_at[n] - at) * 1000 for n, at in published.items()]
    first = min(published.values())
    last = max(report.stored_at[n] for n in published)
    seconds = last - first
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return RunResult(
        n=len(published),
        seconds=seconds,
        msgs_per_s=len(published) / seconds,
        p50_ms=cuts[49],
        p99_ms=cuts[98],
        duplicates=report.duplicates,
        calls=report.calls,
        publish_s=max(b.at for b in batches) - first,
        cpu_ms_per_msg=None if cpu_s is None else cpu_s * 1000 / len(published),
    )


def median_run(runs: Sequence[RunResult]) -> RunResult:
    """The run with the median throughput (its own latencies go with it)."""
    ordered = sorted(runs, key=lambda r: r.msgs_per_s)
    return ordered[(len(ordered) - 1) // 2]
