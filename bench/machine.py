"""Facts about the machine a benchmark ran on, and how busy other processes kept it."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["busy_others", "facts", "load", "revision", "tree_cpu_s"]

_PROC = Path("/proc")


def facts() -> dict[str, Any]:
    """CPU count, Python, OS; the RabbitMQ version is added by the caller that connects."""
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def revision() -> dict[str, Any]:
    """The git commit of the working tree and whether it has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def _tree(root: int) -> set[int]:
    """``root`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    ticks: dict[int, tuple[str, int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                head, tail = (entry / "stat").read_text().rsplit(")", 1)
            except OSError:
                continue
            fields = tail.split()
            ticks[int(entry.name)] = (head.split("(", 1)[1], int(fields[11]) + int(fields[12]))
    return ticks


def busy_others(seconds: float = 1.0, threshold: float = 5.0) -> list[dict[str, Any]]:
    """Processes outside this bench that used more than ``threshold`` % of a CPU meanwhile.

    Sampled over ``seconds`` from ``/proc`` (an empty list where there is no ``/proc``).
    """
    if not _PROC.exists():
        return []
    hz = os.sysconf("SC_CLK_TCK")
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    own = _tree(os.getpid())
    busy = []
    for pid, (name, ticks) in after.items():
        if pid in own or pid not in before:
            continue
        percent = (ticks - before[pid][1]) / hz / seconds * 100
        if percent > threshold:
            busy.append({"pid": pid, "name": name, "cpu_percent": round(percent)})
    return sorted(busy, key=lambda p: -p["cpu_percent"])


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds used so far by process ``root`` and its live descendants."""
    tree = _tree(root)
    hz = os.sysconf("SC_CLK_TCK")
    return sum(ticks for pid, (_, ticks) in _cpu_ticks().items() if pid in tree) / hz
