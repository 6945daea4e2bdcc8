"""Same-run floors for benchmarks (b) and (c): what plain kombu does on this machine, right now.

The issue's targets for (b) and (c) are absolute figures for a reference machine, each given
next to what plain kombu does there. A floor measured in the same run, right before the
benchmark it goes with, turns them into ratios that mean the same on any machine:

- (b) ``naive_kombu_floor``: the naive kombu relay on the same RabbitMQ
  (``bench.bus_throughput.measure_kombu_naive``: consume -> publish with confirm -> ack, one
  message at a time), the median of ``runs`` runs of ``naive_n`` messages;
- (c) ``kombu_sqlalchemy_floor``: kombu's stock SQLAlchemy transport on SQLite
  (``bench.bus_kombu_sqlalchemy.measure``: publish ``sqlalchemy_n`` persistent messages, then
  consume and ack them), the median end-to-end rate of ``runs`` runs.

The bodies are ``BODY_BYTES`` long: the size of the test kit message the end-to-end source
publishes (``make_subject`` of a measured run's numbers). The runtime's envelope headers
(``x-ebus-*``, about 140 bytes) are not added: plain kombu has none.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters._testkit import make_subject
from bench import bus_kombu_sqlalchemy
from bench.bus_throughput import measure_kombu_naive
from bench.e2e import RUN_STRIDE

__all__ = [
    "BODY_BYTES",
    "FloorConfig",
    "kombu_sqlalchemy_floor",
    "median_floor",
    "naive_kombu_floor",
]

BODY_BYTES = len(make_subject(RUN_STRIDE))
"""The raw body of one test kit message of a measured run (168 bytes of JSON)."""


@dataclass(frozen=True)
class FloorConfig:
    """How much each floor measures: ``runs`` short runs (median) of so many messages.

    The defaults are about 4 s of work each on a machine where the naive relay does ~750 msg/s
    and the SQLAlchemy transport ~80 msg/s end to end.
    """

    runs: int = 3
    naive_n: int = 1000
    sqlalchemy_n: int = 120
    size: int = BODY_BYTES


def median_floor(kind: str, runs: Sequence[dict[str, float]], rate_key: str) -> dict[str, Any]:
    """A floor's figures: the median of the runs' ``rate_key`` as ``msgs_per_s``, and the runs."""
    if not runs:
        raise ValueError("a floor needs at least one run")
    return {
        "kind": kind,
        "msgs_per_s": round(statistics.median(r[rate_key] for r in runs), 1),
        "runs": [{key: round(value, 1) for key, value in r.items()} for r in runs],
    }


def _repeat(runs: int, measure: Callable[[], dict[str, float]]) -> list[dict[str, float]]:
    return [measure() for _ in range(runs)]


def naive_kombu_floor(amqp_url: str, config: FloorConfig | None = None) -> dict[str, Any]:
    """The floor of (b): the naive kombu relay on the RabbitMQ at ``amqp_url``."""
    config = config or FloorConfig()
    runs = _repeat(
        config.runs, lambda: measure_kombu_naive(amqp_url, n=config.naive_n, size=config.size)
    )
    return {
        **median_floor("kombu-naive", runs, "msgs_per_s"),
        "n": config.naive_n,
        "body_bytes": config.size,
    }


def kombu_sqlalchemy_floor(config: FloorConfig | None = None) -> dict[str, Any]:
    """The floor of (c): kombu's stock SQLAlchemy transport on SQLite, end to end."""
    config = config or FloorConfig()
    with warnings.catch_warnings():
        # kombu 5.7's models declare a relationship lazy="noload", which SQLAlchemy 2.1
        # deprecates; under an error filter (the tests') its mappers would fail to configure
        warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy")
        runs = _repeat(
            config.runs,
            lambda: bus_kombu_sqlalchemy.measure(n=config.sqlalchemy_n, size=config.size),
        )
    return {
        **median_floor("kombu-sqlalchemy", runs, "end_to_end_msgs_per_s"),
        "n": config.sqlalchemy_n,
        "body_bytes": config.size,
    }
