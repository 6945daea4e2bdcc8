"""credit_fj in ``make demo``: the 信用福建 gateway receiving 双公示 pushes, with an outage.

The script, on the simulator (``CreditFjPlatform`` served by ``HttpSimulator`` on loopback):

- the platform checks every push as the README says (signature, batch, per-record rules);
- one record is under credit repair (信用修复): the first record of the first batch that reaches
  the platform is locked before that batch is processed, so the platform refuses it with
  ``E2006`` and the bus must dead-letter it (once) while the rest of the batch is accepted;
- at ``OUTAGE_AT_S`` the platform goes into maintenance: the next ``OUTAGE_CALLS`` requests
  get nginx's HTML 503 page with ``Retry-After: RETRY_AFTER_S`` (``HttpSimulator.inject``). The
  bus must retry and then deliver everything.

The outage is counted in requests, not seconds, so that it stays below the route's circuit
breaker (``eco_env-penalties``: 5 failed calls in a row open it for 60 s, which would stretch
the demo past its time budget): the bus makes each call up to three times in-process, so 12
requests are 4 failed calls, which at the demo's traffic last some five to ten seconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping

from adapters._simulators.http import HttpSimulator, Request, Response
from adapters.credit_fj.simulator import CreditFjPlatform, maintenance
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["DEMO", "OUTAGE_AT_S", "OUTAGE_CALLS", "RETRY_AFTER_S", "CreditFjDemo"]

OUTAGE_AT_S = 7.0
OUTAGE_CALLS = 12
RETRY_AFTER_S = 5
_PENALTIES = "/api/sgs/v2/penalties"


class CreditFjDemo:
    """The running platform and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.platform = CreditFjPlatform()
        self.server = HttpSimulator(self._handle)
        self._lock = threading.Lock()
        self._handled = 0
        self._locked: tuple[str, str] | None = None
        self._locked_told = False
        self._outage: tuple[int, int] | None = None  # (requests, handled) when it began
        self._outage_began = 0.0
        self._over_told = False
        self.server.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's URL (the app key and test secret come from ``demo_config``)."""
        return {"endpoint": self.server.url}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The record under credit repair, refused with E2006."""
        return {"E2006": 1}

    def intro(self) -> list[str]:
        """What the platform will do."""
        return [
            "信用福建 gateway taking signed 双公示 pushes: one record under credit repair "
            f"(refused, E2006); maintenance at {OUTAGE_AT_S:.0f} s for the next {OUTAGE_CALLS} "
            f"requests (HTTP 503, Retry-After: {RETRY_AFTER_S})"
        ]

    def _handle(self, request: Request) -> Response:
        """The platform's handler, locking one record of the first push it processes."""
        with self._lock:
            self._handled += 1
            if self._locked is None and request.method == "POST" and request.path == _PENALTIES:
                self._locked = _first_record_key(request.body)
                if self._locked is not None:
                    self.platform.locked.add(self._locked)
        return self.platform.handle(request)

    def _faults_taken(self) -> int:
        """How many requests got the maintenance page since the outage began."""
        if self._outage is None:
            return 0
        requests, handled = self._outage
        with self._lock:
            return (len(self.server.requests) - requests) - (self._handled - handled)

    def tick(self, elapsed_s: float) -> list[str]:
        """Start the outage when due; tell about the locked record and the end of the outage."""
        notes: list[str] = []
        if self._locked is not None and not self._locked_told:
            self._locked_told = True
            notes.append(
                f"credit_fj: decision {self._locked[0]} is under credit repair (信用修复) on the "
                "platform: it will be refused (E2006)"
            )
        if self._outage is None and elapsed_s >= OUTAGE_AT_S:
            with self._lock:
                self._outage = (len(self.server.requests), self._handled)
            self._outage_began = elapsed_s
            self.server.inject(maintenance(retry_after=RETRY_AFTER_S), times=OUTAGE_CALLS)
            notes.append(
                f"credit_fj: maintenance begins: the next {OUTAGE_CALLS} requests get HTTP 503 "
                f"with Retry-After: {RETRY_AFTER_S}"
            )
        elif not self._over_told and self._faults_taken() >= OUTAGE_CALLS:
            self._over_told = True
            lasted = elapsed_s - self._outage_began
            notes.append(f"credit_fj: maintenance over after {lasted:.0f} s: the platform answers")
        return notes

    def finished(self) -> bool:
        """The outage has begun and ended."""
        return self._outage is not None and self._faults_taken() >= OUTAGE_CALLS

    def check(self, counts: SystemCounts) -> list[str]:
        """The platform holds one record per delivered decision, and the outage was retried."""
        problems = []
        stored = len(self.platform.records)
        if stored != counts.delivered:
            problems.append(
                f"credit_fj: the platform holds {stored} records, "
                f"the bus delivered {counts.delivered} decisions"
            )
        if not counts.retried:
            problems.append("credit_fj: nothing was retried during the outage")
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


def _first_record_key(body: bytes) -> tuple[str, str] | None:
    """(文书号, 机关代码) of the first record of a push body, or None if it cannot be read."""
    try:
        record = json.loads(body)["records"][0]
        return str(record["CF_WSH"]), str(record["CF_CFJGDM"])
    except (ValueError, LookupError, TypeError):
        return None


DEMO = DemoSystem(system="credit_fj", start=CreditFjDemo)
