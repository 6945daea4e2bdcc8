"""The destination of the end-to-end benchmarks: the test kit's ``SinkServer``, timed.

``TimedSink`` wraps the real ``SinkServer`` (the idempotent loopback destination of the test kit)
so that it also notes, per decision number, when the record was first stored (``time.time()``,
comparable across processes). It runs either in this process (``SinkHandle.local``) or in a
process of its own (``SinkHandle.spawn``), so the HTTP server does not take the GIL from the
workers it measures.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from adapters._simulators.http import Request, Response
from adapters._testkit import SinkServer

__all__ = ["SinkHandle", "SinkReport", "TimedSink", "decision_number"]


def decision_number(decision_no: str) -> int:
    """The message number ``n`` in a test kit decision number (``榕测罚〔2025〕<n>号``)."""
    return int(decision_no.split("〕")[1].removesuffix("号"))


def _disable_nagle(sink: SinkServer) -> None:
    """Answer without the 40 ms Nagle / delayed-ACK stall of the stock ``HttpSimulator``.

    ``http.server`` writes a response's headers and body in two ``send`` calls; with Nagle on,
    the body waits for the client's delayed ACK of the headers: every call takes ~44 ms on this
    machine, whatever its size. A real HTTP server does not behave so, and the stall would
    dominate a one-record-per-call peer. ``StreamRequestHandler.disable_nagle_algorithm`` sets
    ``TCP_NODELAY`` on each accepted socket.
    """
    server = getattr(sink.server, "_server", None)  # no public handle on the http.server
    if server is not None:
        server.RequestHandlerClass.disable_nagle_algorithm = True


@dataclass
class SinkReport:
    """What the sink saw: first-store time per message number, calls and repeated keys."""

    stored_at: dict[int, float] = field(default_factory=dict)
    calls: int = 0
    duplicates: int = 0


class TimedSink:
    """A running ``SinkServer`` that also notes when each record was first stored."""

    def __init__(self, *, nodelay: bool = True) -> None:
        self.sink = SinkServer()
        if nodelay:
            _disable_nagle(self.sink)
        self._report = SinkReport()
        self._lock = threading.Condition()
        self._handle = self.sink.server.handler
        self.sink.server.handler = self._timed

    def _timed(self, request: Request) -> Response:
        response = self._handle(request)
        stored = time.time()
        records = json.loads(request.body)["records"] if request.body else []
        with self._lock:
            self._report.calls += 1
            for record in records:
                number = decision_number(record["decision_no"])
                if number in self._report.stored_at:
                    self._report.duplicates += 1
                else:
                    self._report.stored_at[number] = stored
            self._lock.notify_all()
        return response

    @property
    def url(self) -> str:
        """Where the sink listens."""
        return self.sink.url

    def stored(self) -> int:
        """How many distinct messages are stored so far."""
        with self._lock:
            return len(self._report.stored_at)

    def take(self) -> SinkReport:
        """The report so far, and a fresh one for the next run."""
        with self._lock:
            report, self._report = self._report, SinkReport()
        return report

    def wait_for(self, count: int, timeout_s: float) -> int:
        """Block until ``count`` distinct messages are stored or ``timeout_s`` passed; how many."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._report.stored_at) >= count, timeout_s)
            return len(self._report.stored_at)

    def __enter__(self) -> TimedSink:
        self.sink.__enter__()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sink.__exit__()


def _serve(conn: Connection) -> None:
    """The sink process: answer ``wait_for`` and ``take`` requests until ``None``."""
    with TimedSink() as sink:
        conn.send(sink.url)
        while (command := conn.recv()) is not None:
            if command == "take":
                conn.send(sink.take())
            else:
                count, timeout_s = command
                conn.send(sink.wait_for(count, timeout_s))


class SinkHandle:
    """A ``TimedSink`` here or in its own process, behind the same small interface."""

    def __init__(self, local: TimedSink | None, conn: Connection | None, process: Any) -> None:
        self._local = local
        self._conn = conn
        self._process = process
        self.url = local.url if local else str(self._call("url"))
        self.where = "in-process" if local else "own process"

    @classmethod
    def local(cls) -> SinkHandle:
        """A sink in this process (its HTTP thread shares the GIL with what is measured)."""
        sink = TimedSink().__enter__()
        return cls(sink, None, None)

    @classmethod
    def spawn(cls) -> SinkHandle:
        """A sink in a process of its own."""
        parent, child = mp.get_context("spawn").Pipe()
        process = mp.get_context("spawn").Process(
            target=_serve, args=(child,), daemon=True, name="bench-sink"
        )
        process.start()
        return cls(None, parent, process)

    def _call(self, command: object) -> Any:
        assert self._conn is not None
        if command != "url":
            self._conn.send(command)
        return self._conn.recv()

    def take(self) -> SinkReport:
        """The report so far, and a fresh one for the next run."""
        if self._local is not None:
            return self._local.take()
        report: SinkReport = self._call("take")
        return report

    def wait_for(self, count: int, timeout_s: float) -> None:
        """Block until ``count`` distinct messages are stored; ``TimeoutError`` otherwise.

        The caller sleeps in a blocking call meanwhile: it takes no CPU from the workers.
        """
        if self._local is not None:
            stored = self._local.wait_for(count, timeout_s)
        else:
            stored = int(self._call((count, timeout_s)))
        if stored < count:
            raise TimeoutError(f"the sink stored {stored} of {count} in {timeout_s}s")

    def close(self) -> None:
        """Stop the sink."""
        if self._local is not None:
            self._local.__exit__()
            return
        assert self._conn is not None
        self._conn.send(None)
        self._process.join(timeout=10)

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
