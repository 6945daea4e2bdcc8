"""``make demo``: the bus end to end on one machine, with simulated systems and live progress.

What it does, with the embedded default and no other setup:

1. wipes ``var/demo/`` and opens the embedded bus and store there (SQLite files);
2. starts the simulator of every system whose adapter has a demo module
   (``adapters/<id>/demo.py`` exporting ``DEMO = DemoSystem(...)``, found through the adapter
   registry's entry points) on a free loopback port, with the adapter's ``demo_config`` (test
   secrets) plus what the simulator says (its endpoint, short poll intervals);
3. runs the runtime in-process while each simulator plays its scripted traffic: good messages,
   a few bad ones, a destination outage;
4. shows per system, at least every second, how many messages were received, mapped,
   delivered, retried and dead-lettered (counted from the audit store);
5. stops when the traffic has settled (or after a hard cap), prints a summary and the commands
   to look further, and exits 0 when the run behaved as the simulators expected.

A system joins the demo by adding one module to its adapter package::

    # adapters/<id>/demo.py
    DEMO = DemoSystem(system="<id>", start=start)   # start() -> a DemoPeer (see below)

A peer may also have ``bind(url)`` (it pushes: where the bus listens), ``bind_batch(batch)``
(it has batch jobs: a ``DemoBatch`` to put canonical messages on the feeds and to run its jobs
through the runtime's batch path, as ``ebus batch run`` does; the scripts decide when) and
``bind_services(services)`` (it acts as an operator would: the runtime's ``Services``, e.g. its
store for the steps ``ebus transfers`` records). See ``runner.demo_api.DemoPeer``.

Nothing here names a particular system. No L3/L4 value is printed: the demo prints counts,
case codes, rules and reasons (which never repeat an ID number), masked once more on output.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import shutil
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

import structlog
from sqlalchemy import RowMapping, select

from runner.batch import BatchSettings, RunLedger, find_job, job_registry
from runner.batch.runs import RunResult, run_job
from runner.bus.topology import feed_target
from runner.demo_api import DemoPeer, DemoSystem, SystemCounts
from runner.engine.codec import encode_envelope
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.errors import ConfigError
from runner.logs import mask_personal_data
from runner.project import Project, load_project
from runner.registry import GROUP, Registry
from runner.settings import Settings, WebhookSettings
from runner.stamp import new_message_id, stamp
from runner.stores.audit import VerifyReport
from runner.stores.db import Database
from runner.stores.dead_letters import DeadLetterSummary
from schemas import parse_envelope

__all__ = [
    "BROKER_URL",
    "DEMO_DIR",
    "LOG_FILE",
    "STORE_URL",
    "AuditTally",
    "DemoBatch",
    "DemoPeer",
    "DemoSystem",
    "LogTally",
    "Progress",
    "SystemCounts",
    "discover_demo_systems",
    "main",
    "run_demo",
    "safe",
]

DEMO_DIR = Path("var/demo")
"""The demo's working directory, relative to where it runs; wiped at every start."""
STORE_URL = f"sqlite:///{DEMO_DIR}/ebus.db"
BROKER_URL = f"sqlite:///{DEMO_DIR}/ebus-broker.db"
LOG_FILE = DEMO_DIR / "ebus.log"
CAP_S = 90.0
"""The longest the traffic may take to settle; the demo stops and fails after it."""
REFRESH_S = 0.5
TICK_S = 0.1
_EBUS = ".venv/bin/ebus"
_COLUMNS = ("received", "mapped", "delivered", "retried", "dead-lettered")


# --- the contract between the demo and an adapter's demo module ---------------------------------


def discover_demo_systems(registry: Registry) -> list[DemoSystem]:
    """The ``DEMO`` of every registered adapter that has a ``demo`` module, by system id.

    The module is found next to the adapter's entry point (``adapters.eco_env:SPEC`` →
    ``adapters.eco_env.demo``); an adapter without one is simply not in the demo.
    """
    found: list[DemoSystem] = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        if point.name not in registry:
            continue
        module_name = f"{point.module}.demo"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        demo = getattr(module, "DEMO", None)
        if not isinstance(demo, DemoSystem) or demo.system != point.name:
            raise ConfigError(f"{module_name}.DEMO is not the DemoSystem of '{point.name}'")
        found.append(demo)
    return found


# --- counting from the audit store --------------------------------------------------------------


class AuditTally:
    """Counts per system, read incrementally from the audit log (only rows not seen yet).

    It also tracks which (destination, message) pairs still wait for a final outcome: a
    ``mapped`` event names the destinations a message was sent to, and ``delivered`` or
    ``dead_lettered`` closes one. ``destinations`` are the ``route/key`` names of the delivery
    workers that run (a destination not connected is not waited for).
    """

    def __init__(self, db: Database, destinations: Sequence[str]) -> None:
        self._db = db
        self._table = db.metadata.tables["ebus_audit_log"]
        self._destinations = frozenset(destinations)
        self._last_seq = 0
        self._mapped: dict[str, set[str]] = defaultdict(set)
        self._delivered: dict[str, set[str]] = defaultdict(set)
        self._open: set[tuple[str, str]] = set()
        self._closed: set[tuple[str, str]] = set()
        self.counts: dict[str, SystemCounts] = defaultdict(SystemCounts)
        self.delivered_cases: set[str] = set()
        self.retried_cases: set[str] = set()
        self.mapped_cases: set[str] = set()

    @property
    def in_flight(self) -> int:
        """Messages sent to a destination that has neither delivered nor dead-lettered them."""
        return len(self._open)

    def refresh(self) -> int:
        """Read the audit rows appended since the last call; returns how many of them moved the
        traffic on (a new message mapped, a delivery, a retry, a dead letter). Re-reads of
        pollers that find nothing new append rows too, but they move nothing."""
        c = self._table.c
        columns = (c.seq, c.kind, c.system, c.route, c.destination, c.message_id, c.case_code)
        query = select(*columns, c.detail).where(c.seq > self._last_seq).order_by(c.seq)
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        before = self._progress()
        for row in rows:
            self._count(row)
            self._last_seq = row["seq"]
        return len(rows) if self._progress() != before else 0

    def _progress(self) -> tuple[tuple[str, int, int, int, int], ...]:
        return tuple(
            (system, n.mapped, n.delivered, n.retried, n.dead_lettered)
            for system, n in sorted(self.counts.items())
        )

    def _count(self, row: RowMapping) -> None:
        kind, system = row["kind"], row["system"]
        counts = self.counts[system]
        if kind in ("received", "rejected"):
            counts.received += 1
        if kind in ("rejected", "dead_lettered"):
            counts.dead_lettered += 1
        if kind == "mapped":
            self._on_mapped(system, row)
        elif kind == "retried":
            counts.retried += 1
            self.retried_cases.add(row["case_code"] or "")
        elif kind in ("delivered", "dead_lettered"):
            self._on_final(kind, system, row)

    def _on_mapped(self, system: str, row: RowMapping) -> None:
        counts = self.counts[system]
        message_id = str(row["message_id"])
        if message_id in self._mapped[system]:
            counts.duplicates += 1
        self._mapped[system].add(message_id)
        self.mapped_cases.add(row["case_code"] or "")
        counts.mapped = len(self._mapped[system])
        for target in json.loads(row["detail"]).get("to", []):
            key = (str(target), message_id)
            if target in self._destinations and key not in self._closed:
                self._open.add(key)

    def _on_final(self, kind: str, system: str, row: RowMapping) -> None:
        key = (f"{row['route']}/{row['destination']}", str(row["message_id"]))
        self._closed.add(key)
        self._open.discard(key)
        if kind == "delivered":
            self._delivered[system].add(str(row["message_id"]))
            self.counts[system].delivered = len(self._delivered[system])
            self.delivered_cases.add(row["case_code"] or "")

    def showcase_case(self) -> str | None:
        """A case code that went end to end: mapped from a system's message and delivered,
        preferably after a retry (a case the platform put on a feed itself was never mapped)."""
        delivered = self.delivered_cases & self.mapped_cases - {""}
        retried = delivered & self.retried_cases
        return min(retried or delivered, default=None)


# --- the bus's log: to a file, with its warnings counted ----------------------------------------


class LogTally:
    """A structlog processor counting warnings and errors by (system, event)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Counter[tuple[str, str]] = Counter()
        self.last_error: dict[tuple[str, str], str] = {}

    def __call__(
        self, _logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Count the event when it is a warning or an error; pass it on unchanged."""
        if method in ("warning", "error"):
            key = (str(event.get("system", "-")), str(event.get("event", "")))
            with self._lock:
                self.events[key] += 1
                if "error" in event:
                    self.last_error[key] = str(event["error"])
        return event


@contextmanager
def _logs_to(path: Path, tally: LogTally) -> Iterator[None]:
    """Send the bus's structured log to ``path`` (JSON lines, masked) while the demo runs."""
    previous = structlog.get_config()
    with path.open("a", encoding="utf-8") as file:
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
                mask_personal_data,
                tally,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file),
            cache_logger_on_first_use=False,
        )
        try:
            yield
        finally:
            structlog.configure(**previous)


# --- live progress ------------------------------------------------------------------------------


def safe(text: str) -> str:
    """``text`` with anything that looks like an ID number or a mobile phone masked."""
    return str(mask_personal_data(None, "", {"text": text})["text"])


class Progress:
    """The live table: redrawn in place on a terminal, printed when it changes otherwise."""

    def __init__(self, out: TextIO, systems: Sequence[str]) -> None:
        self.out = out
        self.systems = list(systems)
        self.tty = out.isatty()
        self._drawn = 0
        self._last: tuple[object, ...] | None = None
        self._printed_at = -1.0
        self._width = max([len(s) for s in systems] + [6])

    def note(self, lines: Sequence[str]) -> None:
        """Narrate what just happened (above the table on a terminal)."""
        if not lines:
            return
        self._erase()
        for line in lines:
            print(f"  {safe(line)}", file=self.out)
        self._drawn = 0
        self.out.flush()

    def update(self, elapsed: float, counts: Mapping[str, SystemCounts], status: str) -> None:
        """Show the counts; off a terminal only when they changed, at most once a second."""
        rows = tuple(counts[s].row() for s in self.systems)
        if self.tty:
            self._erase()
            lines = self.table(counts)
            width = shutil.get_terminal_size().columns - 1
            lines.append(f"{elapsed:5.1f} s  {status}"[:width])
            print("\n".join(lines), file=self.out, flush=True)
            self._drawn = len(lines)
            return
        changed = (rows, status) != self._last
        if changed and elapsed - self._printed_at >= 1.0:
            self._last, self._printed_at = (rows, status), elapsed
            print(f"[{elapsed:5.1f} s] {status}", file=self.out)
            print("\n".join(self.table(counts, header=False)), file=self.out, flush=True)

    def header(self) -> str:
        """The column headings."""
        return f"  {'system':{self._width}}" + "".join(f"  {name}" for name in _COLUMNS)

    def table(self, counts: Mapping[str, SystemCounts], *, header: bool = True) -> list[str]:
        """One line per system (after the headings), each number under its heading."""
        lines = [self.header()] if header else []
        for system in self.systems:
            values = counts[system].row()
            cells = "".join(f"  {v:>{len(name)}}" for name, v in zip(_COLUMNS, values, strict=True))
            lines.append(f"  {system:{self._width}}{cells}")
        return lines

    def _erase(self) -> None:
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")


# --- one run ------------------------------------------------------------------------------------


@dataclass
class _Run:
    """The simulators of one run and where it prints."""

    out: TextIO
    project: Project
    peers: dict[str, DemoPeer] = field(default_factory=dict)
    logs: LogTally = field(default_factory=LogTally)


@dataclass
class _Live:
    """The bus of one run while it runs: services, runtime, the audit tally, how it ended."""

    services: Services
    runtime: Runtime
    tally: AuditTally
    elapsed: float = 0.0
    settled: bool = False

    @classmethod
    def open(cls, run: _Run) -> _Live:
        """Open the bus and stores of the demo settings and prepare the workers."""
        services = Services.open(run.project, _settings(run.project, run.peers))
        runtime = Runtime(services)
        try:
            runtime.prepare()
        except BaseException:
            services.close()
            raise
        if runtime.webhook is not None:  # peers that push learn where the bus listens
            _bind(run.peers, "bind", runtime.webhook.url)
        _bind(run.peers, "bind_batch", DemoBatch(services, runtime))
        _bind(run.peers, "bind_services", services)
        destinations = [worker.name for worker in runtime.delivery.values()]
        return cls(services, runtime, AuditTally(services.db, destinations))


def _bind(peers: Mapping[str, DemoPeer], hook: str, value: object) -> None:
    """Call the optional hook ``hook`` (``bind``, ``bind_batch``, ``bind_services``) with
    ``value`` on every peer that has it (``runner.demo_api.DemoPeer``)."""
    for peer in peers.values():
        bind = getattr(peer, hook, None)
        if callable(bind):
            bind(value)


class DemoBatch:
    """What a peer's ``bind_batch`` gets: the platform's side of the feeds, and job runs.

    ``run`` is ``ebus batch run`` in-process (the run ledger, the job's ``BatchContext``, the
    day archive), after waiting (10 s at most) until the archive holds what ``publish`` put
    on the feeds, so a script's upload sees the day it published.
    """

    def __init__(self, services: Services, runtime: Runtime, wait_s: float = 10.0) -> None:
        self.services = services
        self.runtime = runtime
        self.wait_s = wait_s
        self.ledger = RunLedger(services.db, lease_s=services.settings.batch.lease)
        self._published: list[str] = []

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Stamp canonical envelope drafts as received at ``received_at`` and publish each to
        its feed, as the platform does."""
        for data in envelopes:
            draft = parse_envelope(dict(data), draft=True)
            envelope = stamp(draft, message_id=new_message_id(received_at), received_at=received_at)
            self.services.bus.publish(
                feed_target(envelope.schema_name), [encode_envelope(envelope)]
            )
            if self.runtime.archive and envelope.schema_name in self.runtime.archive.schemas:
                self._published.append(envelope.message_id)  # what ``run`` waits for

    def run(self, job: str, date: dt.date) -> RunResult:
        """Run batch job ``job`` for ``date`` here, recorded in the run ledger."""
        archive = self.runtime.archive
        deadline = time.monotonic() + self.wait_s
        while archive is not None and time.monotonic() < deadline:
            if not set(self._published) - archive.store.known_among(self._published):
                break
            self.runtime.stop.wait(0.05)
        jobs = job_registry(self.services.project.registry, self.services.settings.systems)
        return run_job(self.services, self.ledger, find_job(jobs, job), date, trigger="manual")


def _fresh_directory() -> None:
    """Wipe and recreate ``var/demo`` (and nothing else)."""
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(parents=True)


def _settings(project: Project, peers: Mapping[str, DemoPeer]) -> Settings:
    """The embedded bus and store in ``var/demo``, each system at its simulator."""
    systems: dict[str, dict[str, Any]] = {}
    for system, peer in peers.items():
        base = dict(project.registry.get(system).demo_config)
        systems[system] = {**base, **peer.settings}
    return Settings(
        bus=BROKER_URL,
        store=STORE_URL,
        systems=systems,
        webhook=WebhookSettings(port=0),
        batch=BatchSettings(schedule=False),  # the scripts drive the traffic, not the clock
    )


@contextmanager
def _simulators(run: _Run, systems: Sequence[DemoSystem]) -> Iterator[None]:
    """Start every system's simulator; stop them all on exit (also when one fails to start)."""
    try:
        for system in systems:
            run.peers[system.system] = system.start()
        yield
    finally:
        for peer in run.peers.values():
            peer.stop()


def _queues(runtime: Runtime) -> list[str]:
    return [*runtime.inbound, *runtime.delivery]


def _status(run: _Run, live: _Live) -> str:
    """One line: what is still moving."""
    waiting = [system for system, peer in run.peers.items() if not peer.finished()]
    parts = [f"in flight to destinations: {live.tally.in_flight}"]
    parts.append(f"scripts still playing: {', '.join(waiting)}" if waiting else "scripts done")
    return "; ".join(parts)


def _is_settled(run: _Run, live: _Live, quiet_refreshes: int) -> bool:
    """All traffic out, nothing in flight, every queue empty, no audit row for a second."""
    return (
        quiet_refreshes >= 2
        and all(peer.finished() for peer in run.peers.values())
        and live.tally.in_flight == 0
        and all(live.services.bus.depth(queue) == 0 for queue in _queues(live.runtime))
    )


def _drive(run: _Run, live: _Live, progress: Progress, cap_s: float) -> None:
    """Play the scripts and show progress until the traffic settles or ``cap_s`` passes."""
    started = time.monotonic()
    next_refresh, quiet = 0.0, 0
    while True:
        live.elapsed = time.monotonic() - started
        for peer in run.peers.values():
            progress.note(peer.tick(live.elapsed))
        if live.elapsed >= next_refresh:
            next_refresh += REFRESH_S
            quiet = 0 if live.tally.refresh() else quiet + 1
            progress.update(live.elapsed, live.tally.counts, _status(run, live))
            live.settled = _is_settled(run, live, quiet)
            if live.settled or live.elapsed >= cap_s:
                return
        live.runtime.stop.wait(TICK_S)


def _execute(run: _Run, live: _Live, cap_s: float) -> None:
    """Run the runtime while the scripts play; stop it; read the last audit rows."""
    progress = Progress(run.out, list(run.peers))
    if not progress.tty:
        print(progress.header(), file=run.out)
    live.runtime.start()
    try:
        _drive(run, live, progress, cap_s)
    finally:
        live.runtime.shutdown()
    live.tally.refresh()


# --- the summary and the verdict ----------------------------------------------------------------


def _check_dead_letters(run: _Run, letters: Sequence[DeadLetterSummary]) -> list[str]:
    """Every dead letter has a reason and a rule, and they are the ones the scripts planned."""
    problems = [f"dead letter {d.id} has no reason" for d in letters if not d.reason.strip()]
    problems += [f"dead letter {d.id} has no rule" for d in letters if not d.rule]
    for system, peer in run.peers.items():
        actual = Counter(d.rule or "-" for d in letters if d.system == system)
        planned = peer.expected_dead_letters
        spans = {rule: n for rule, n in planned.items() if isinstance(n, range)}
        expected = Counter(
            {rule: n for rule, n in planned.items() if isinstance(n, int) and n}
            | {rule: actual[rule] for rule, span in spans.items() if actual[rule] in span}
        )
        if actual != expected:
            problems.append(
                f"{system}: dead letters by rule {dict(sorted(actual.items()))}, "
                f"expected {dict(sorted(expected.items()))}"
            )
    return problems


def _verdict(
    run: _Run, live: _Live, letters: Sequence[DeadLetterSummary], report: VerifyReport
) -> list[str]:
    """Everything that makes this run not the expected one (empty when all is well)."""
    problems: list[str] = []
    if not live.settled:
        problems.append(
            f"the traffic did not settle within {live.elapsed:.0f} s ({_status(run, live)})"
        )
    problems += [f"a worker failed: {type(e).__name__}: {e}" for e in live.runtime.errors]
    problems += _check_dead_letters(run, letters)
    for system, peer in run.peers.items():
        problems += peer.check(live.tally.counts[system])
    if not report.ok:
        problems.append(f"the audit chain is broken at seq {report.first_broken_seq}")
    return problems


def _print_counts(run: _Run, live: _Live) -> None:
    out, counts = run.out, live.tally.counts
    for line in Progress(out, list(run.peers)).table(counts):
        print(line, file=out)
    duplicates = {s: c.duplicates for s, c in counts.items() if c.duplicates}
    if duplicates:
        listed = ", ".join(f"{s} {n}" for s, n in sorted(duplicates.items()))
        print(f"  re-reads recognised as duplicates (one message id each): {listed}", file=out)
    for (system, event), count in sorted(run.logs.events.items()):
        if event != "rejected":  # those are the inbound dead letters, listed below
            error = run.logs.last_error.get((system, event), "")
            detail = f": {safe(error)[:160]}" if error else ""
            print(f"  log: {system} '{event}' x{count}{detail}", file=out)


def _print_dead_letters(out: TextIO, letters: Sequence[DeadLetterSummary]) -> None:
    groups: dict[tuple[str, str, str], list[DeadLetterSummary]] = defaultdict(list)
    for letter in letters:
        groups[(letter.system, letter.stage, letter.rule or "-")].append(letter)
    print(f"\ndead letters by rule ({len(letters)}):", file=out)
    for (system, stage, rule), group in sorted(groups.items()):
        print(f"  {system} {stage} {rule}: {len(group)}", file=out)
        print(f"      {safe(group[-1].reason)[:300]}", file=out)


def _print_audit(out: TextIO, report: VerifyReport) -> None:
    state = "intact" if report.ok else f"BROKEN at seq {report.first_broken_seq}"
    print(f"\naudit chain: {report.records_checked} records verified, {state}", file=out)
    print(f"  head seq {report.head_seq} hash {report.head_hash}", file=out)


def _print_look_further(out: TextIO, case_code: str | None) -> None:
    store = f"--store {STORE_URL}"
    if case_code:
        print(f"a case that went end to end: {case_code}", file=out)
    print("\nlook further:", file=out)
    if case_code:
        print(f"  {_EBUS} trace {case_code} {store}", file=out)
    print(f"  {_EBUS} dlq list {store}", file=out)
    print(f"  {_EBUS} audit verify {store}", file=out)
    print(f"  the bus's own log (JSON lines): {LOG_FILE}", file=out)


def _print_result(out: TextIO, problems: Sequence[str]) -> int:
    if not problems:
        print("\nresult: as expected: every good message delivered, every bad one", file=out)
        print("dead-lettered with its reason, the audit chain intact.", file=out)
        return 0
    print("\nresult: NOT as expected:", file=out)
    for problem in problems:
        print(f"  - {safe(problem)[:300]}", file=out)
    return 1


def _summarise(run: _Run, live: _Live) -> int:
    """Print the summary; return the exit code."""
    letters = live.services.dead_letters.list(status="dead", limit=100_000)
    report = live.services.audit.verify()
    how = "settled" if live.settled else "stopped at the cap"
    print(f"\nsummary after {live.elapsed:.1f} s ({how}):", file=run.out)
    _print_counts(run, live)
    _print_dead_letters(run.out, letters)
    _print_audit(run.out, report)
    _print_look_further(run.out, live.tally.showcase_case())
    return _print_result(run.out, _verdict(run, live, letters, report))


def _introduce(run: _Run) -> None:
    out = run.out
    print("enforcement-bus demo: simulated systems, the embedded bus, live traffic", file=out)
    print(f"  store {STORE_URL}, broker {BROKER_URL}, log {LOG_FILE}", file=out)
    for system, peer in run.peers.items():
        for line in peer.intro():
            print(f"  {system}: {safe(line)}", file=out)
    print(
        "  columns: received/mapped = messages from the system; delivered/retried = calls to "
        "it;\n  dead-lettered = rejected on the way in or given up on the way out\n",
        file=out,
        flush=True,
    )


def run_demo(
    out: TextIO, *, systems: Sequence[DemoSystem] | None = None, cap_s: float = CAP_S
) -> int:
    """Run the demo in the current directory, printing to ``out``; return the exit code."""
    project = load_project()
    if project.issues:
        for issue in project.issues:
            print(f"error: {issue}", file=out)
        return 1
    chosen = discover_demo_systems(project.registry) if systems is None else list(systems)
    if not chosen:
        print("error: no adapter has a demo module (adapters/<id>/demo.py)", file=out)
        return 1
    _fresh_directory()
    run = _Run(out=out, project=project)
    with _logs_to(LOG_FILE, run.logs), _simulators(run, chosen):
        live = _Live.open(run)  # first: it tells pushing peers where the bus listens
        try:
            _introduce(run)
            _execute(run, live, cap_s)
            return _summarise(run, live)
        finally:
            live.services.close()


def main() -> int:
    """``python -m runner.demo`` (``make demo``); Ctrl-C stops it cleanly (exit 130)."""
    try:
        return run_demo(sys.stdout)
    except KeyboardInterrupt:
        print("\ninterrupted: the simulators and the bus are stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the module's imported copy, not this ``__main__`` one, so that the ``DemoSystem``
    # class the adapters' demo modules import (``runner.demo``) is the one checked here.
    sys.exit(importlib.import_module("runner.demo").main())
