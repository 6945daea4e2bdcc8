"""Benchmarks (b) and (c): the real runtime end to end, on RabbitMQ or on the embedded broker.

The runtime (``Runtime`` over ``Services``, the test kit registry, the project written by
``write_kit_project``, stores in SQLite in a temporary directory) runs its inbound worker (map,
claim the message id, stamp, publish to the canonical feed and the delivery queue, audit) and
its delivery worker (render, POST batches of 100 to the sink, mark delivered, audit). A source
publishes raw test kit messages to the inbound queue; the sink notes when each is stored.

- throughput: ``n`` / (first publish → last store), the median of ``runs`` runs, after a
  warm-up; the source publishes flat out, so the latencies of these runs are mostly time spent
  waiting in the queue behind the backlog (they grow with ``n``);
- paced latency: then the source publishes at ``paced_fraction`` of that median throughput for
  ``paced_s`` seconds, below capacity, so the latency is the time one message takes through the
  system (the batching waits included), not the time it queued.

Every message is persistent and confirmed by the broker before it is acknowledged upstream.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters._testkit import kit_registry, write_kit_project
from adapters._transports.http import http_connector
from bench.rabbit import delete_queues
from bench.sink import SinkHandle
from bench.source import Plan, SourceHandle, bus_publisher
from bench.stats import RunResult, median_run, run_result
from runner.bus.topology import dead_letter_queue, delivery_queue, inbound_queue
from runner.engine.processes import Share, Supervisor
from runner.engine.runtime import Runtime
from runner.engine.serve import run_share
from runner.engine.services import Services
from runner.logs import configure_logging
from runner.project import load_project
from runner.settings import Settings

__all__ = ["E2EConfig", "Harness", "measure_e2e", "own_cpu_s", "run_series"]

RUN_STRIDE = 1_000_000
"""Run ``k`` publishes message numbers from ``k * RUN_STRIDE``: every run is new to the stores."""


@dataclass(frozen=True)
class E2EConfig:
    """The workload and the harness of one end-to-end series."""

    n: int = 10_000
    runs: int = 3
    warmup: int = 1_000
    paced_fraction: float = 0.5
    paced_s: float = 3.0
    sink_process: bool = True
    source_process: bool = True
    timeout_s: float = 120.0
    processes: int = 2
    """Runtime processes (``ebus run --processes``), one per core of the issue's 2-core
    machine; 1 runs the runtime in this process (its CPU then includes the harness's)."""


def own_cpu_s() -> float:
    """User + system CPU seconds of this process (the runtime's threads live here)."""
    times = os.times()
    return times.user + times.system


class Harness:
    """A source and a sink around a system under test; runs plans and times them.

    ``cpu_s`` tells the CPU seconds the system under test used so far (for CPU per message).
    """

    def __init__(
        self,
        source: SourceHandle,
        sink: SinkHandle,
        timeout_s: float,
        cpu_s: Callable[[], float] = own_cpu_s,
    ) -> None:
        self.source = source
        self.sink = sink
        self.timeout_s = timeout_s
        self.cpu_s = cpu_s

    def run(self, plan: Plan) -> RunResult:
        """Publish ``plan``, wait until the sink stored all of it, and time it."""
        self.sink.take()
        cpu = self.cpu_s()
        self.source.start(plan)
        batches = self.source.result(self.timeout_s)
        self.sink.wait_for(plan.n, self.timeout_s)
        return run_result(batches, self.sink.take(), self.cpu_s() - cpu)


def run_series(harness: Harness, config: E2EConfig, batch: int = 100) -> dict[str, Any]:
    """Warm up, then ``runs`` flat-out runs and one paced run; the figures as a dict.

    The source hands ``batch`` messages at a time to the bus (10 at a time when paced).
    """
    if config.warmup:
        harness.run(Plan(first=0, n=config.warmup, batch=batch))
    runs = [
        harness.run(Plan(first=(k + 1) * RUN_STRIDE, n=config.n, batch=batch))
        for k in range(config.runs)
    ]
    best = median_run(runs)
    result: dict[str, Any] = {
        "msgs_per_s": round(best.msgs_per_s, 1),
        "p50_ms": round(best.p50_ms, 1),
        "p99_ms": round(best.p99_ms, 1),
        "cpu_ms_per_msg": best.as_dict()["cpu_ms_per_msg"],
        "runs": [r.as_dict() for r in runs],
        "sink": harness.sink.where,
        "source": harness.source.where,
    }
    if config.paced_fraction > 0 and config.paced_s > 0:
        rate = round(best.msgs_per_s * config.paced_fraction, 1)
        plan = Plan(
            first=(config.runs + 1) * RUN_STRIDE,
            n=max(50, int(rate * config.paced_s)),
            batch=min(batch, 10),
            rate=rate,
        )
        result["paced"] = {"rate": rate, **harness.run(plan).as_dict()}
    return result


def _kit_services(bus_url: str, system: str, sink_url: str, workdir: Path) -> Services:
    """The services of the test kit's runtime for ``system`` (its project written already)."""
    project = load_project(workdir / "config", kit_registry(http_connector(system), system))
    if project.issues:
        raise RuntimeError(f"the test kit project has issues: {project.issues}")
    settings = Settings(
        bus=bus_url,
        store=f"sqlite:///{workdir}/store.db",
        systems={system: {"endpoint": sink_url}},
        poll=False,
    )
    return Services.open(project, settings)


def _kit_child(
    bus_url: str,
    system: str,
    sink_url: str,
    workdir: Path,
    ready: list[Any],
    share: Share,
    stop: threading.Event,
) -> None:
    """One runtime process of ``--processes N`` (``runner.engine.processes.Child``); sets
    ``ready[share.index]`` once its workers run."""
    configure_logging("WARNING")
    services = _kit_services(bus_url, system, sink_url, workdir)
    errors = run_share(services, share, stop, started=ready[share.index].set)
    if errors:
        raise RuntimeError(f"the runtime's workers failed: {errors[:3]}")


def _cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


@contextmanager
def _runtime(
    bus_url: str, system: str, sink_url: str, workdir: Path, processes: int = 1
) -> Iterator[Callable[[], float]]:
    """The runtime of test kit ``system`` (a fresh id: queues of its own), started in this
    process or in ``processes`` children; yields what tells the CPU seconds it used so far."""
    route_id = f"{system}-route"
    write_kit_project(workdir / "config", route_id, system)
    queues = [inbound_queue(system, "subject"), delivery_queue(route_id, f"{system}-deliver")]
    try:
        if processes > 1:
            ready = [multiprocessing.get_context("spawn").Event() for _ in range(processes)]
            child = functools.partial(_kit_child, bus_url, system, sink_url, workdir, ready)
            supervisor = Supervisor(child, processes)
            thread = threading.Thread(target=supervisor.run, name="supervisor", daemon=True)
            thread.start()
            try:
                for event in ready:
                    if not event.wait(120):
                        raise RuntimeError("a runtime process did not start in 120 s")
                yield lambda: _cpu_of(supervisor.pids())
            finally:
                supervisor.stop_event.set()
                thread.join(60)
        else:
            services = _kit_services(bus_url, system, sink_url, workdir)
            runtime = Runtime(services)
            try:
                runtime.prepare()
                runtime.start()
                yield own_cpu_s
            finally:
                runtime.shutdown()
                services.close()
            if runtime.errors:
                raise RuntimeError(f"the runtime's workers failed: {runtime.errors[:3]}")
    finally:
        if bus_url.startswith("amqp"):
            delete_queues(bus_url, [q for name in queues for q in (name, dead_letter_queue(name))])


def measure_e2e(bus_url: str, config: E2EConfig | None = None) -> dict[str, Any]:
    """Run the series on the bus at ``bus_url`` (``amqp://...`` or ``sqlite:///...``).

    ``bus_url`` may be ``embedded``: a fresh embedded broker in the temporary directory.
    """
    config = config or E2EConfig()
    with tempfile.TemporaryDirectory(prefix="ebus-bench-") as tmp:
        workdir = Path(tmp)
        if bus_url == "embedded":
            bus_url = f"sqlite:///{workdir}/broker.db"
        system = f"bench{uuid.uuid4().hex[:8]}"
        sink = SinkHandle.spawn() if config.sink_process else SinkHandle.local()
        try:
            with _runtime(bus_url, system, sink.url, workdir, config.processes) as cpu_s:
                source = SourceHandle(
                    functools.partial(bus_publisher, bus_url, system),
                    own_process=config.source_process,
                )
                try:
                    started = time.perf_counter()
                    harness = Harness(source, sink, config.timeout_s, cpu_s)
                    result = run_series(harness, config)
                    result["processes"] = config.processes
                    result["wall_s"] = round(time.perf_counter() - started, 1)
                finally:
                    source.close()
        finally:
            sink.close()
    return result
