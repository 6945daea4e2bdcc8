"""Benchmark (d): the same workload through Celery 5, the peer a Python team would pick instead.

Per message, a chain of two tasks on the same RabbitMQ:

1. ``map_subject(raw)``: the compiled inbound mapping of the test kit on the raw bytes, stamped
   with a new message id, returned as the canonical JSON;
2. ``deliver(canonical)``: validate the envelope again, render the test kit's outbound mapping,
   frame and POST it to the same sink with the same HTTP transport, read the answer with the
   answer mapping (one record per call: a chain carries one message).

Configuration, chosen to be fair (what a team would write for "durable, don't lose messages"):
publisher confirms on (``broker_transport_options={"confirm_publish": True}``), late acks
(``task_acks_late=True``), persistent messages and durable queues (Celery's defaults), no result
backend (a chain passes results in its messages; ``task_ignore_result=True``), JSON, the default
prefetch multiplier (4), a prefork worker with 2 processes (the machine has 2 cores) started
with ``--without-gossip --without-mingle --without-heartbeat`` (no cluster chatter), logging at
WARNING. The producer is a separate process calling ``chain(...).apply_async()`` per message.

Not done by Celery, done by ebus: idempotency claims, delivered marks, the hash-chained audit
trail, dead-letter storage. The worker reads its settings from ``EBUS_BENCH_*`` variables.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery, chain

from adapters._testkit import kit_registry, write_kit_project
from adapters._transports.http import HttpTransport, http_connector
from bench.e2e import E2EConfig, Harness, run_series
from bench.machine import tree_cpu_s
from bench.rabbit import delete_queues
from bench.sink import SinkHandle
from bench.source import Publish, SourceHandle
from runner.adapter_api import CallContext
from runner.project import Project, load_project
from runner.stamp import new_message_id, now, stamp
from schemas import ENVELOPES

__all__ = ["app", "celery_settings", "measure_celery"]

_BROKER = "EBUS_BENCH_BROKER"
_QUEUE = "EBUS_BENCH_QUEUE"
_CONFIG = "EBUS_BENCH_CONFIG"
_SINK = "EBUS_BENCH_SINK"


def celery_settings(broker_url: str, queue: str) -> dict[str, Any]:
    """The Celery configuration of the peer (see the module docstring)."""
    return {
        "broker_url": broker_url,
        "broker_transport_options": {"confirm_publish": True},
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_ignore_result": True,
        "task_default_queue": queue,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 4,
        "worker_hijack_root_logger": False,
    }


app = Celery("ebus_bench_peer")
app.conf.update(
    celery_settings(
        os.environ.get(_BROKER, "amqp://guest:guest@127.0.0.1:5672//"),
        os.environ.get(_QUEUE, "ebus-bench-celery"),
    )
)


@functools.cache
def _project() -> Project:
    """The test kit project, loaded once per worker process."""
    return load_project(Path(os.environ[_CONFIG]), kit_registry(http_connector("testkit")))


@functools.cache
def _transport() -> HttpTransport:
    """One keep-alive HTTP client to the sink per worker process."""
    return HttpTransport("testkit", os.environ[_SINK])


@app.task(name="bench.map_subject")  # type: ignore[untyped-decorator]  # celery: no stubs
def map_subject(raw: str) -> str:
    """Task 1: map one raw test kit message to its canonical envelope JSON."""
    mapping = _project().inbound_mapping("testkit", "subject")
    result = mapping.apply(raw.encode("utf-8"))
    (draft,) = result.envelopes
    return stamp(draft, message_id=new_message_id(), received_at=now()).model_dump_json()


@app.task(name="bench.deliver")  # type: ignore[untyped-decorator]
def deliver(canonical: str) -> str:
    """Task 2: deliver one canonical envelope to the sink; the answer's outcome code."""
    project = _project()
    envelope = ENVELOPES["enforcement.penalty_decision.v1"].model_validate_json(canonical)
    adapter = project.registry.get("testkit")
    config = adapter.config.model_validate({"endpoint": os.environ[_SINK]})
    call = CallContext(now=now(), nonce=uuid.uuid4().hex, sequence=1)
    document = project.outbound_mapping("testkit", "deliver").render([envelope], {})
    answer = _transport().send(adapter.outgoing("deliver", document, config, call))
    result = project.inbound_mapping("testkit", "deliver_response").apply(answer.body)
    if result.outcome is None or result.outcome.outcome != "complete":
        raise RuntimeError(f"the sink did not accept the call: {answer.body[:100]!r}")
    return str(result.outcome.code)


def celery_publisher(broker_url: str, queue: str) -> tuple[Publish, Callable[[], None]]:
    """A ``Publish`` that sends one chain per message, as a Celery producer does."""
    app.conf.update(celery_settings(broker_url, queue))

    def publish(bodies: list[bytes], _first: int) -> None:
        for body in bodies:
            chain(map_subject.s(body.decode("utf-8")), deliver.s()).apply_async()

    return publish, app.close


_REPO = Path(__file__).resolve().parent.parent


@contextmanager
def _worker(env: dict[str, str], queue: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker (prefork, 2 processes) on ``queue``, stopped on exit (warm shutdown)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.celery_peer:app",
        "worker",
        "--pool=prefork",
        "--concurrency=2",
        f"--queues={queue}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
    ]
    with log.open("wb") as stream:
        worker = subprocess.Popen(command, env=env, stdout=stream, stderr=subprocess.STDOUT)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def measure_celery(broker_url: str, config: E2EConfig | None = None) -> dict[str, Any]:
    """Run the series of ``bench.e2e`` through Celery instead of the ebus runtime."""
    config = config or E2EConfig()
    queue = f"ebus-bench-celery-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="ebus-bench-celery-") as tmp:
        root = write_kit_project(Path(tmp) / "config", "celery-peer")
        log = Path(tmp) / "worker.log"
        with SinkHandle.spawn() if config.sink_process else SinkHandle.local() as sink:
            env = {**os.environ, _BROKER: broker_url, _QUEUE: queue, _CONFIG: str(root)}
            env |= {_SINK: sink.url, "PYTHONPATH": os.pathsep.join([str(_REPO), *_pythonpath()])}
            try:
                with _worker(env, queue, log) as worker:
                    source = SourceHandle(
                        functools.partial(celery_publisher, broker_url, queue), own_process=True
                    )
                    try:
                        cpu = functools.partial(tree_cpu_s, worker.pid)
                        started = time.perf_counter()
                        result = run_series(Harness(source, sink, config.timeout_s, cpu), config, 1)
                        result["wall_s"] = round(time.perf_counter() - started, 1)
                        result["worker"] = "prefork, 2 processes"
                    finally:
                        source.close()
            except (TimeoutError, AssertionError) as exc:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the Celery run failed ({exc}); worker log: {tail}") from exc
            finally:
                delete_queues(broker_url, [queue], exchanges=[queue])
    return result


def _pythonpath() -> list[str]:
    value = os.environ.get("PYTHONPATH")
    return value.split(os.pathsep) if value else []
