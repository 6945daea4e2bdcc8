"""``ebus run --processes N``: the runtime's work shared by N processes on one machine.

One process is bound to one core by Python's global interpreter lock; a machine with more cores
runs several. A parent process starts N children and keeps them running; each child runs a
``Runtime`` with its ``Share``:

- a queue whose order matters (``QueueSpec.single_active``: an ordered destination and the
  queues on the way to it) is consumed by exactly one child, the queues dealt out in turn
  (sorted by name), so a case's messages are never taken by two processes at once — on the
  embedded broker too, which has no single active consumer;
- every other queue is consumed by every child (competing consumers share its load);
- what must run once per machine (pollers, the webhook endpoint, the batch scheduler, the
  transfer loops, the day archive) runs in child 0.

A child that dies is started again (after 1 s, doubling up to 30 s while it keeps dying): its
queues wait meanwhile, unacknowledged messages go back to them. SIGTERM or Ctrl-C to the parent
stops every child (each finishes its batch: the parent sends it SIGTERM) and then the parent.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final

from runner.logs import get_logger

__all__ = ["Share", "Supervisor"]

log = get_logger("ebus.processes")

RESTART_MIN_S: Final = 1.0
RESTART_MAX_S: Final = 30.0
"""A child that died is started again after 1 s, doubling up to 30 s while it keeps dying."""
STABLE_S: Final = 60.0
"""A child that ran this long before it died had been working: its restart delay starts over."""
STOP_TIMEOUT_S: Final = 30.0
"""How long a child may take to finish its batch when stopped, before it is killed."""


@dataclass(frozen=True)
class Share:
    """The part of the work one of ``count`` processes does (``index`` from 0)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"process index {self.index} is not in 0..{self.count - 1}")

    @property
    def runs_singletons(self) -> bool:
        """Whether this process runs what runs once per machine (pollers, webhook, ...)."""
        return self.index == 0

    def queues(self, queues: Iterable[str], single_active: Collection[str]) -> set[str]:
        """Which of ``queues`` this process consumes: every shared queue, and its turn of the
        ``single_active`` ones."""
        names = set(queues)
        ordered = sorted(names & set(single_active))
        mine = {name for i, name in enumerate(ordered) if i % self.count == self.index}
        return (names - set(ordered)) | mine


Child = Callable[[Share, threading.Event], None]
"""What a child runs, until the event is set: called with its share. Must be picklable (a
module-level function, or a ``functools.partial`` of one)."""


class Supervisor:
    """Starts ``count`` children running ``child`` and keeps them running until stopped."""

    def __init__(self, child: Child, count: int) -> None:
        if count < 1:
            raise ValueError("the number of processes must be at least 1")
        self._child = child
        self._count = count
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        # a threading.Event, not a multiprocessing one: setting a multiprocessing.Event waits
        # for every waiter to wake, and a waiter that was killed never does
        self._stop = threading.Event()
        self._procs: list[Any] = [None] * count
        self._started = [0.0] * count
        self._delay = [RESTART_MIN_S] * count
        self._due = [0.0] * count

    @property
    def stop_event(self) -> threading.Event:
        """Set it to stop every child and end ``run``."""
        return self._stop

    def run(self, duration_s: float | None = None) -> int:
        """Run until SIGTERM, Ctrl-C or ``duration_s``; stop the children; return how many
        times a child had to be started again."""
        main = threading.current_thread() is threading.main_thread()  # signals: main only
        previous = signal.signal(signal.SIGTERM, lambda *_: self._stop.set()) if main else None
        restarts = 0
        ends = None if duration_s is None else time.monotonic() + duration_s
        try:
            for index in range(self._count):
                self._start(index)
            while not self._stop.is_set():
                if ends is not None and time.monotonic() >= ends:
                    break
                restarts += self._watch()
                self._stop.wait(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()
            if main:
                signal.signal(signal.SIGTERM, previous)
        return restarts

    def _start(self, index: int) -> None:
        proc = self._context.Process(
            target=_child_main,
            args=(self._child, Share(index, self._count)),
            name=f"ebus-{index}",
            daemon=False,
        )
        proc.start()
        self._procs[index] = proc
        self._started[index] = time.monotonic()
        log.info("process started", process=index, pid=proc.pid, of=self._count)

    def _watch(self) -> int:
        """Start again the children that died and whose delay is over; how many were."""
        restarted = 0
        clock = time.monotonic()
        for index, proc in enumerate(self._procs):
            if proc is None or proc.is_alive() or self._stop.is_set():
                continue
            if not self._due[index]:
                if clock - self._started[index] > STABLE_S:
                    self._delay[index] = RESTART_MIN_S
                self._due[index] = clock + self._delay[index]
                log.warning(
                    "process died, starting it again",
                    process=index,
                    exit_code=proc.exitcode,
                    delay_s=self._delay[index],
                )
                self._delay[index] = min(self._delay[index] * 2, RESTART_MAX_S)
            if clock >= self._due[index]:
                self._due[index] = 0.0
                self._start(index)
                restarted += 1
        return restarted

    def pids(self) -> list[int]:
        """The process ids of the children now alive."""
        return [p.pid for p in self._procs if p is not None and p.is_alive()]

    def shutdown(self) -> None:
        """Stop every child: ask (SIGTERM: it finishes its batch), wait, then kill what is
        left."""
        self._stop.set()
        for proc in self._procs:
            if proc is not None and proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self._procs:
            if proc is not None:
                proc.join(max(deadline - time.monotonic(), 0.1))
        for index, proc in enumerate(self._procs):
            if proc is not None and proc.is_alive():
                log.warning("process did not stop in time, killing it", process=index)
                proc.kill()
                proc.join(5)


def _child_main(child: Child, share: Share) -> None:
    """A child's entry point: SIGTERM stops it (its batch finished). Ctrl-C reaches the whole
    process group, so a child ignores it: the parent stops them all. A child stopped on its
    own, not by the parent, is started again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    halt = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: halt.set())
    child(share, halt)
