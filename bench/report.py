"""The figures of a bench run: flat keys to track run to run, targets, and a readable table."""

from __future__ import annotations

from typing import Any

__all__ = ["TARGETS", "summary", "table"]

TARGETS = {
    "pipeline_to_floor_ratio": 0.7,
    "e2e_rabbitmq_msgs_per_s": 3000.0,
    "e2e_embedded_msgs_per_s": 1000.0,
}
"""The issue's targets: (a) ratio to the floor, (b) RabbitMQ msg/s, (c) embedded msg/s."""

_E2E = {"rabbitmq": "e2e_rabbitmq", "embedded": "e2e_embedded", "celery": "celery"}


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The flat keys: every figure to track, ``None`` for a section that did not run."""
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
    ours, celery = flat["e2e_rabbitmq_msgs_per_s"], flat["celery_msgs_per_s"]
    flat["rabbitmq_to_celery_ratio"] = round(ours / celery, 2) if ours and celery else None
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
    lines += [
        "",
        f"ebus on RabbitMQ / Celery: {_fmt(result['rabbitmq_to_celery_ratio'], 2)}",
        "p50/p99: flat-out runs (mostly queueing behind the backlog); paced: at half the "
        "measured rate, the time through the system.",
    ]
    return "\n".join(lines)
