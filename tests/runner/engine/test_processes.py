"""``ebus run --processes N``: how the queues are shared, the supervisor, and N runtimes at work."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adapters._testkit import SinkServer, make_subject
from runner.bus.topology import inbound_queue
from runner.engine.processes import Share, Supervisor
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from tests.runner.engine._children import note_and_wait
from tests.runner.engine.conftest import wait_for
from tests.runner.engine.test_runtime import _publish

ROOT = Path(__file__).resolve().parents[3]


# --- the share of each process -------------------------------------------------------------


def test_each_ordered_queue_goes_to_exactly_one_process_and_shared_queues_to_all():
    queues = ["in.a", "in.b", "deliver.x", "deliver.y", "deliver.z", "feed.f"]
    ordered = {"in.a", "deliver.x", "deliver.y", "deliver.z"}
    shares = [Share(i, 3).queues(queues, ordered) for i in range(3)]
    for name in ordered:
        assert sum(name in mine for mine in shares) == 1, name
    for name in set(queues) - ordered:
        assert all(name in mine for mine in shares), name
    # dealt in turn over the sorted ordered queues: every process gets one or two
    assert sorted(len(mine & ordered) for mine in shares) == [1, 1, 2]


def test_one_process_consumes_everything_and_runs_the_singletons():
    queues = ["in.a", "deliver.x"]
    alone = Share()
    assert alone.queues(queues, {"in.a"}) == set(queues)
    assert alone.runs_singletons
    assert not Share(1, 2).runs_singletons


@pytest.mark.parametrize(("index", "count"), [(2, 2), (-1, 2), (0, 0)])
def test_a_share_outside_its_count_is_refused(index: int, count: int):
    with pytest.raises(ValueError, match="process index"):
        Share(index, count)


# --- the supervisor --------------------------------------------------------------------------


def _started(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.started"))


def test_the_supervisor_starts_every_child_restarts_a_killed_one_and_stops_them_all(
    tmp_path: Path,
):
    supervisor = Supervisor(functools.partial(note_and_wait, tmp_path), 2)
    restarts: list[int] = []
    thread = threading.Thread(target=lambda: restarts.append(supervisor.run()))
    thread.start()
    try:
        wait_for(lambda: len(_started(tmp_path)) == 2, timeout=60)
        assert {name.split("-")[0] for name in _started(tmp_path)} == {"0", "1"}
        victim = int(next(n for n in _started(tmp_path) if n.startswith("1-")).split("-")[1])
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(_started(tmp_path)) == 3, timeout=60)  # child 1 again, new pid
    finally:
        supervisor.stop_event.set()
        thread.join(60)
    assert not thread.is_alive()
    assert restarts == [1]
    stopped = sorted(p.stem for p in tmp_path.glob("*.stopped"))
    assert len(stopped) == 2  # the two living children finished; the killed one could not
    assert f"1-{victim}" not in stopped
    assert supervisor.pids() == []


def test_sigterm_to_one_child_stops_only_that_child_and_it_is_started_again(tmp_path: Path):
    supervisor = Supervisor(functools.partial(note_and_wait, tmp_path), 2)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    try:
        wait_for(lambda: len(_started(tmp_path)) == 2, timeout=60)
        first = next(n for n in _started(tmp_path) if n.startswith("0-"))
        os.kill(int(first.split("-")[1]), signal.SIGTERM)
        wait_for((tmp_path / f"{first}.stopped").exists, timeout=30)  # it finished
        wait_for(lambda: len(_started(tmp_path)) == 3, timeout=60)
        assert not supervisor.stop_event.is_set()  # the others went on
    finally:
        supervisor.stop_event.set()
        thread.join(60)
    assert len(list(tmp_path.glob("*.stopped"))) == 3


def test_a_supervisor_needs_at_least_one_process():
    with pytest.raises(ValueError, match="at least 1"):
        Supervisor(functools.partial(note_and_wait, Path(".")), 0)


# --- two runtimes sharing the work -----------------------------------------------------------


def _consumed(runtime: Runtime) -> set[str]:
    threads = runtime.threads
    return {t.name.removeprefix("consume ") for t in threads if t.name.startswith("consume")}


def test_two_runtimes_share_the_queues_and_deliver_everything_once(
    services: Services, sink: SinkServer
):
    """The kit's route is ordered: its inbound and delivery queues go one to each process."""
    other = Services.open(services.project, services.settings)
    runtimes = [Runtime(services, share=Share(0, 2)), Runtime(other, share=Share(1, 2))]
    try:
        for runtime in runtimes:
            runtime.prepare()
        _publish(services, [make_subject(n) for n in range(300)])
        for runtime in runtimes:
            runtime.start()
        wait_for(lambda: len(sink.stored) == 300, timeout=60)
    finally:
        for runtime in runtimes:
            runtime.shutdown()
        other.close()
    consumed = [_consumed(r) for r in runtimes]
    assert all(len(mine) == 1 for mine in consumed)
    assert consumed[0] | consumed[1] == set(runtimes[0].inbound) | set(runtimes[0].delivery)
    (system,) = services.project.registry.ids()
    assert inbound_queue(system, "subject") in consumed[0] | consumed[1]
    assert max(sink.calls.values()) == 1
    assert services.audit.verify().ok


# --- the command -----------------------------------------------------------------------------


def test_ebus_run_with_two_processes_starts_both_and_stops_cleanly(tmp_path: Path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"bus: sqlite:///{tmp_path}/broker.db\nstore: sqlite:///{tmp_path}/store.db\npoll: false\n",
        encoding="utf-8",
    )
    ebus = str(Path(sys.executable).parent / "ebus")
    done = subprocess.run(
        [ebus, "run", "--processes", "2", "--for", "8", "-c", str(settings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count('"process started"') == 2
    assert done.stderr.count('"running"') == 2  # each child's runtime came up
    # each child paces the external systems at half their documented limits
    assert done.stderr.count('"limits_shared_by": 2') == 2
    assert "process died" not in done.stderr
