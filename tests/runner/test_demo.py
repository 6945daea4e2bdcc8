"""``make demo`` end to end, in-process, in a fresh working directory: the simulators, the
embedded bus, the scripted traffic (bad messages, an outage), the summary and its commands."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.eco_env.demo import BACKLOG, LIVE
from runner.cli import app
from runner.demo import (
    LOG_FILE,
    STORE_URL,
    Progress,
    SystemCounts,
    discover_demo_systems,
    run_demo,
)
from runner.registry import default_registry

# The eco_env demo's fixed seed gives 58 cases and 39 decisions, 3 of them deliberately bad;
# credit_fj refuses one good decision (E2006, under credit repair) and stores the others.
GOOD_DECISIONS = 36
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")


class Demo:
    """One demo run: its exit code, what it printed and where it ran."""

    def __init__(self, code: int, text: str, workdir: Path) -> None:
        self.code = code
        self.text = text
        self.workdir = workdir

    def summary_row(self, system: str) -> dict[str, int]:
        """The summary table's row of ``system``: column → count."""
        summary = self.text.split("\nsummary after ", 1)[1]
        lines = summary.splitlines()
        header = next(line for line in lines if line.strip().startswith("system"))
        columns = header.split()[1:]
        row = next(line for line in lines if line.split()[:1] == [system])
        return dict(zip(columns, map(int, row.split()[1:]), strict=True))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    workdir = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        code = run_demo(out)
    return Demo(code, out.getvalue(), workdir)


def test_the_demo_behaves_as_expected_and_exits_0(demo: Demo):
    assert demo.code == 0, demo.text[-3000:]
    assert "result: as expected" in demo.text
    assert "(settled)" in demo.text


def test_the_summary_counts_every_good_message_delivered_and_every_bad_one_dead_lettered(
    demo: Demo,
):
    eco_env, credit_fj = demo.summary_row("eco_env"), demo.summary_row("credit_fj")
    assert eco_env["mapped"] == BACKLOG + LIVE + GOOD_DECISIONS
    assert eco_env["dead-lettered"] == 3
    # credit_fj also takes the decisions and licences of the other systems' routes
    assert credit_fj["delivered"] >= GOOD_DECISIONS - 1
    assert credit_fj["dead-lettered"] == 1
    assert credit_fj["retried"] >= 1  # the outage
    for rule in ("uscc_check", "unknown_code", "id_number_check"):
        assert f"eco_env inbound {rule}: 1" in demo.text
    assert "credit_fj delivery E2006: 1" in demo.text
    assert "audit chain: " in demo.text
    assert ", intact" in demo.text
    assert "re-reads recognised as duplicates" in demo.text
    assert "'poll cycle failed' x1" in demo.text  # the answer with a DTD, refused


def test_the_printed_commands_work_on_the_demo_store(demo: Demo):
    commands = [line.strip() for line in demo.text.splitlines() if "--store" in line]
    assert all(command.endswith(f"--store {STORE_URL}") for command in commands)
    case_code = re.search(r"ebus trace (\S+) --store", demo.text)
    assert case_code is not None
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(demo.workdir)
        trace = runner.invoke(app, ["trace", case_code[1], "--store", STORE_URL])
        letters = runner.invoke(app, ["dlq", "list", "--store", STORE_URL, "--limit", "100000"])
        verify = runner.invoke(app, ["audit", "verify", "--store", STORE_URL])
    assert trace.exit_code == 0
    kinds = [line.split()[1] for line in trace.output.splitlines()]
    assert {"mapped", "delivered"} <= set(kinds)
    assert letters.exit_code == 0
    total = re.search(r"dead letters by rule \((\d+)\)", demo.text)
    assert total is not None
    assert f"{total[1]} dead letter(s) shown" in letters.output
    assert verify.exit_code == 0
    assert "intact" in verify.output


def test_no_id_number_or_phone_is_printed_or_logged(demo: Demo):
    log = (demo.workdir / LOG_FILE).read_text(encoding="utf-8")
    assert log  # the bus logged to the demo's log file
    for text in (demo.text, log):
        assert ID_NUMBER.search(text) is None
        assert MOBILE.search(text) is None


def test_every_adapter_with_a_demo_module_is_found_through_the_registry():
    found = [system.system for system in discover_demo_systems(default_registry())]
    assert found == sorted(found)
    assert {"credit_fj", "eco_env"} <= set(found)


def test_traffic_that_does_not_settle_in_time_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run_demo(out, cap_s=1.0) == 1
    text = out.getvalue()
    assert "(stopped at the cap)" in text
    assert "result: NOT as expected" in text
    assert "the traffic did not settle within" in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal_and_prints_changes_otherwise():
    counts = {"a": SystemCounts(received=1), "b": SystemCounts()}
    plain, terminal = io.StringIO(), _Terminal()
    for out in (plain, terminal):
        progress = Progress(out, ["a", "b"])
        progress.update(0.0, counts, "busy")
        progress.update(1.5, counts, "busy")  # unchanged
        counts["a"].mapped = 2
        progress.update(3.0, counts, "busy")
        counts["a"].mapped = 1
    assert "\x1b[" not in plain.getvalue()
    assert plain.getvalue().count("busy") == 2  # the unchanged state is not printed again
    # three draws of 4 lines (headings, 2 rows, status): the 2nd and 3rd move up over the last
    assert terminal.getvalue().count("\x1b[4F\x1b[J") == 2
