"""Running one system's demo peer in the real demo (``run_demo`` with that system alone), for
the adapters' ``test_demo.py`` files."""

from __future__ import annotations

import io

import pytest

from runner.demo import run_demo
from runner.demo_api import DemoSystem

__all__ = ["run_alone", "summary_row"]


def run_alone(
    system: DemoSystem, tmp_path_factory: pytest.TempPathFactory, cap_s: float
) -> tuple[int, str]:
    """Run the demo with ``system`` alone in a fresh directory: its exit code and its text."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("demo"))
        code = run_demo(out, systems=[system], cap_s=cap_s)
    return code, out.getvalue()


def summary_row(text: str, system: str) -> list[int]:
    """The counts of ``system`` in the summary table (received, mapped, delivered, ...)."""
    summary = text.split("\nsummary after ", 1)[1]
    row = next(line for line in summary.splitlines() if line.split()[:1] == [system])
    return [int(cell) for cell in row.split()[1:]]
