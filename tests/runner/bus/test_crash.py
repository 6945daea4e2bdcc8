"""Processes killed with SIGKILL lose nothing: confirmed publishes stay, unfinished work returns."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.bus import Bus, OutMessage

from .conftest import Names, collect, declare

ROOT = Path(__file__).resolve().parents[3]


def _run_until_killed(mode: str, args: list[str], log: Path, lines: int) -> list[str]:
    """Start a worker, SIGKILL it once ``log`` has ``lines`` lines; the lines it wrote."""
    command = [sys.executable, "-m", "tests.runner.bus._crash_worker", mode, *args]
    child = subprocess.Popen(command, cwd=ROOT)
    deadline = time.monotonic() + 20
    while not (log.exists() and log.read_bytes().count(b"\n") >= lines):
        if time.monotonic() > deadline or child.poll() is not None:
            child.kill()
            pytest.fail(f"the {mode} worker did not get to {lines} (exit code {child.poll()})")
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL, "the worker ended before it was killed"
    return [line.split()[0] for line in log.read_text().splitlines()]


def _drain(bus: Bus, queue: str, at_least: int) -> list[str]:
    got = collect(bus, queue, at_least, timeout=15)
    while bus.depth(queue):
        got += collect(bus, queue, bus.depth(queue), timeout=5)
    return [m.message_id or "" for m in got]


def test_a_consumer_killed_mid_batch_loses_nothing_and_repeats_at_most_one_batch(
    bus_url: str,
    open_test_bus: Callable[[], Bus],
    names: Names,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    total, batch_size = 1000, 50
    bus = open_test_bus()
    queue = names("crash")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"x" * 256, message_id=f"c{i}") for i in range(total)])
    bus.close()
    log = tmp_path / "processed.log"
    args = [bus_url, queue, str(log), str(batch_size)]

    before = _run_until_killed("consume", args, log, 325)  # mid-batch: batches are 50
    restarted = open_test_bus()
    got = collect(restarted, queue, total - len(set(before)), timeout=15)
    while restarted.depth(queue):
        got += collect(restarted, queue, restarted.depth(queue), timeout=5)

    processed = Counter(before) + Counter(m.message_id for m in got)
    twice = sum(count - 1 for count in processed.values())
    record_property("processed_twice", twice)
    print(f"\n{bus_url.partition(':')[0]}: killed after {len(before)}, processed twice: {twice}")
    assert len(before) < total
    assert set(processed) == {f"c{i}" for i in range(total)}
    assert twice <= batch_size
    assert all(m.redelivered for m in got if m.message_id in set(before))


def test_a_publisher_killed_mid_stream_loses_no_confirmed_message(
    bus_url: str, open_test_bus: Callable[[], Bus], names: Names, tmp_path: Path
) -> None:
    bus = open_test_bus()
    queue = names("publish-crash")
    declare(bus, queue)
    log = tmp_path / "confirmed.log"

    confirmed = _run_until_killed("publish", [bus_url, queue, str(log), "20"], log, 400)
    stored = _drain(bus, queue, len(confirmed))

    assert set(confirmed) <= set(stored)
    assert len(stored) == len(set(stored)), "a message was stored twice"
