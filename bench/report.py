"""The figures of a bench run: flat keys to track run to run, targets, and a readable table.

The issue states (b) and (c) as absolute rates for its reference machine, each next to what
plain kombu does there. Those rates say little on another machine, so the run also measures
plain kombu (``bench.floors``) and the report gives ours / kombu against the issue's ratio
(``RABBITMQ_TO_NAIVE_TARGET``, ``EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET``); the absolute targets
stay, as the issue requires them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET",
    "RABBITMQ_TO_NAIVE_TARGET",
    "TARGETS",
    "ratio",
    "summary",
    "table",
]

ISSUE_RABBITMQ_MSGS_PER_S = 3000.0
"""(b)'s target on the issue's machine: ebus end to end on RabbitMQ."""
ISSUE_KOMBU_NAIVE_MSGS_PER_S = 1500.0
"""What the issue's machine does with a naive kombu consume -> publish with confirm -> ack loop."""
ISSUE_EMBEDDED_MSGS_PER_S = 1000.0
"""(c)'s target on the issue's machine: ebus end to end on the embedded broker."""
ISSUE_KOMBU_SQLALCHEMY_MSGS_PER_S = 300.0
"""What the issue's machine does with kombu's stock (polling) SQLAlchemy transport."""

RABBITMQ_TO_NAIVE_TARGET = round(ISSUE_RABBITMQ_MSGS_PER_S / ISSUE_KOMBU_NAIVE_MSGS_PER_S, 2)
"""(b) as a ratio to the same run's naive kombu relay: 3,000 / 1,500 = 2.0."""
EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET = round(
    ISSUE_EMBEDDED_MSGS_PER_S / ISSUE_KOMBU_SQLALCHEMY_MSGS_PER_S, 2
)
"""(c) as a ratio to the same run's kombu SQLAlchemy transport: 1,000 / 300 = 3.33."""

TARGETS = {
    "pipeline_to_floor_ratio": 0.7,
    "e2e_rabbitmq_msgs_per_s": ISSUE_RABBITMQ_MSGS_PER_S,
    "e2e_rabbitmq_to_naive_ratio": RABBITMQ_TO_NAIVE_TARGET,
    "e2e_embedded_msgs_per_s": ISSUE_EMBEDDED_MSGS_PER_S,
    "e2e_embedded_to_kombu_sqlalchemy_ratio": EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET,
}
"""The issue's targets: (a) ratio to the floor; (b) RabbitMQ msg/s, absolute and as a ratio to
the naive kombu relay; (c) embedded msg/s, absolute and as a ratio to kombu's SQLAlchemy
transport."""

_E2E = {"rabbitmq": "e2e_rabbitmq", "embedded": "e2e_embedded", "celery": "celery"}


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def ratio(ours: float | None, floor: float | None) -> float | None:
    """``ours / floor`` to two decimals; ``None`` when either is missing or zero."""
    return round(ours / floor, 2) if ours and floor else None


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The flat keys: every figure to track, ``None`` for a section (or floor) that did not run."""
    flat: dict[str, Any] = {
        "floor_msgs_per_s": _get(result, "pipeline", "floor_msgs_per_s"),
        "pipeline_msgs_per_s": _get(result, "pipeline", "pipeline_msgs_per_s"),
        "pipeline_to_floor_ratio": _get(result, "pipeline", "pipeline_to_floor_ratio"),
    }
    for section, prefix in _E2E.items():
        flat[f"{prefix}_msgs_per_s"] = _get(result, section, "msgs_per_s")
        flat[f"{prefix}_p50_ms"] = _get(result, section, "p50_ms")
        flat[f"{prefix}_p99_ms"] = _get(result, section, "p99_ms")
        flat[f"{prefix}_paced_p50_ms"] = _get(result, section, "paced", "p50_ms")
        flat[f"{prefix}_paced_p99_ms"] = _get(result, section, "paced", "p99_ms")
        flat[f"{prefix}_cpu_ms_per_msg"] = _get(result, section, "cpu_ms_per_msg")
    flat["kombu_naive_msgs_per_s"] = _get(result, "rabbitmq", "floor", "msgs_per_s")
    flat["e2e_rabbitmq_to_naive_ratio"] = ratio(
        flat["e2e_rabbitmq_msgs_per_s"], flat["kombu_naive_msgs_per_s"]
    )
    flat["kombu_sqlalchemy_msgs_per_s"] = _get(result, "embedded", "floor", "msgs_per_s")
    flat["e2e_embedded_to_kombu_sqlalchemy_ratio"] = ratio(
        flat["e2e_embedded_msgs_per_s"], flat["kombu_sqlalchemy_msgs_per_s"]
    )
    flat["rabbitmq_to_celery_ratio"] = ratio(
        flat["e2e_rabbitmq_msgs_per_s"], flat["celery_msgs_per_s"]
    )
    flat["targets_met"] = {
        key: (flat[key] >= target if flat[key] is not None else None)
        for key, target in TARGETS.items()
    }
    return flat


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _met(flat: dict[str, Any], key: str) -> str:
    met = flat["targets_met"].get(key)
    return "" if met is None else ("met" if met else "NOT met")


_FLOORS = (
    (
        "rabbitmq",
        "(b) floor: naive kombu relay",
        "kombu_naive_msgs_per_s",
        "e2e_rabbitmq_to_naive_ratio",
    ),
    (
        "embedded",
        "(c) floor: kombu SQLAlchemy",
        "kombu_sqlalchemy_msgs_per_s",
        "e2e_embedded_to_kombu_sqlalchemy_ratio",
    ),
)


def _floor_lines(result: dict[str, Any]) -> list[str]:
    """One line per floor of (b) and (c): its rate, its workload, and ours / floor."""
    lines = []
    for section, name, rate_key, ratio_key in _FLOORS:
        floor = _get(result, section, "floor") or {}
        runs, n, size = len(floor.get("runs", [])), floor.get("n"), floor.get("body_bytes")
        workload = f"{runs} x {n} msgs of {size} B, median" if floor else "not measured"
        lines.append(
            f"{name:28} {_fmt(result[rate_key]):>6} msg/s ({workload}); ebus / floor "
            f"{_fmt(result[ratio_key], 2)} (target >= {TARGETS[ratio_key]}: "
            f"{_met(result, ratio_key) or '-'})"
        )
    return lines


def table(result: dict[str, Any]) -> str:
    """A human-readable table of a run's figures."""
    config, machine = result["config"], result["machine"]
    lines = [
        f"ebus bench: {machine['nproc']} CPUs, Python {machine['python']}, "
        f"RabbitMQ {machine['rabbitmq']}; n={config['n']} x {config['runs']} runs (median), "
        f"warm-up {config['warmup']}; load before {result['load_before']}, "
        f"after {result['load_after']}; {result['wall_s']} s",
        "",
        f"(a) floor {_fmt(result['floor_msgs_per_s'])} msg/s, pipeline "
        f"{_fmt(result['pipeline_msgs_per_s'])} msg/s, ratio "
        f"{_fmt(result['pipeline_to_floor_ratio'], 3)} (target >= 0.7: "
        f"{_met(result, 'pipeline_to_floor_ratio')})",
        "",
        f"{'':22} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'paced at':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms/msg':>10}  target",
    ]
    names = {
        "e2e_rabbitmq": "(b) ebus on RabbitMQ",
        "e2e_embedded": "(c) ebus embedded",
        "celery": "(d) Celery 5",
    }
    for section, prefix in _E2E.items():
        key = f"{prefix}_msgs_per_s"
        lines.append(
            f"{names[prefix]:22} {_fmt(result[key]):>8} {_fmt(result[f'{prefix}_p50_ms']):>8} "
            f"{_fmt(result[f'{prefix}_p99_ms']):>8} "
            f"{_fmt(_get(result, section, 'paced', 'rate')):>9} "
            f"{_fmt(result[f'{prefix}_paced_p50_ms']):>7} "
            f"{_fmt(result[f'{prefix}_paced_p99_ms']):>7} "
            f"{_fmt(result[f'{prefix}_cpu_ms_per_msg'], 2):>10}  "
            f"{_met(result, key) if key in TARGETS else ''}"
        )
    lines += ["", *_floor_lines(result)]
    lines += [
        "",
        f"ebus on RabbitMQ / Celery: {_fmt(result['rabbitmq_to_celery_ratio'], 2)}",
        "ebus runtime processes (ebus run --processes): RabbitMQ "
        f"{_fmt(_get(result, 'rabbitmq', 'processes'))}, embedded "
        f"{_fmt(_get(result, 'embedded', 'processes'))}; CPU ms/msg is theirs, all together.",
        "p50/p99: flat-out runs (mostly queueing behind the backlog); paced: at half the "
        "measured rate, the time through the system.",
    ]
    return "\n".join(lines)
