"""drug_admin in ``make demo``: the SOAP 1.2 service with a day of history and records arriving.

The script, on the simulator (``DrugAdminSimulator``, a real SOAP 1.2 endpoint on loopback that
checks every UsernameToken):

- at the start it holds ``BACKLOG`` generated inspections and ``BACKLOG`` penalty decisions
  updated during the last day, read by the first cycle in pages of ``PAGE_SIZE``;
- three of them are deliberately bad, as county users type them: a penalty whose party USCC
  has a wrong check character, an inspection with a conclusion code outside T4, a natural
  person's resident ID number with a wrong check digit. They lie early in the backlog, so each
  is read once and dead-lettered once with its rule;
- every ``LIVE_EVERY_S`` seconds a few new records come in (``LIVE`` in all); the inclusive
  ``SinceTime`` brings the newest record of each poll back on the next one, and the bus
  recognises the re-read as a duplicate;
- at ``DUPLICATE_AT_S`` the next inspection page repeats a record inside the page (3.0 nodes),
  and at ``BUSY_AT_S`` the service answers one ``QueryPenalties`` with ``ServiceBusy`` (E5003):
  the cycle fails as transient and the next one reads on from the committed cursor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from adapters.drug_admin._dataset import Record, generate_inspections, generate_penalties
from adapters.drug_admin.simulator import DrugAdminSimulator
from runner.adapter_api import DemoSystem, SystemCounts
from schemas.identifiers import USCC_ALPHABET
from schemas.timeutil import SHANGHAI

__all__ = ["BACKLOG", "DEMO", "LIVE", "DrugAdminDemo"]

BACKLOG = 24
LIVE = 12
LIVE_BATCH = 2
LIVE_EVERY_S = 2.5
DUPLICATE_AT_S = 4.0
BUSY_AT_S = 6.0
POLL_INTERVAL_S = 2
PAGE_SIZE = 10
SEED = 20240308


def _beijing_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _spoil(inspections: list[Record], penalties: list[Record]) -> dict[str, int]:
    """Make three early backlog records bad; returns rule → count."""
    company = next(p for p in penalties[2:] if p["PartyType"] != "4")
    code = str(company["CreditCode"])
    company["CreditCode"] = code[:-1] + next(c for c in USCC_ALPHABET if c != code[-1])
    inspections[3]["Conclusion"] = "7"
    person = next((p for p in penalties[2:] if p["PartyType"] == "4"), None)
    if person is None:
        return {"uscc_check": 1, "unknown_code": 1}
    number = str(person["IdNo"])
    person["IdNo"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    return {"uscc_check": 1, "unknown_code": 1, "id_number_check": 1}


class DrugAdminDemo:
    """The running simulator and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        now = _beijing_now()
        since, until = now - dt.timedelta(hours=20), now - dt.timedelta(minutes=30)
        inspections = generate_inspections(BACKLOG, since=since, until=until, seed=SEED)
        penalties = generate_penalties(BACKLOG, since=since, until=until, seed=SEED + 1)
        self._bad = _spoil(inspections, penalties)
        self._live = generate_inspections(
            LIVE // 2, since=until, until=now, seed=SEED + 2, start=8000
        )
        self._live += generate_penalties(
            LIVE - LIVE // 2, since=until, until=now, seed=SEED + 3, start=8000
        )
        self._initial_since = now - dt.timedelta(days=1)
        self._released = 0
        self._last_update: dict[str, str] = {}
        self._duplicate_sent = self._busy_sent = False
        self.simulator = DrugAdminSimulator(
            inspections=inspections, penalties=penalties, min_interval_s=0, max_concurrent=4
        )
        self.simulator.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint, a short poll interval, no request spacing, the first since."""
        return {
            "endpoint": self.simulator.endpoint,
            "poll_interval_s": POLL_INTERVAL_S,
            "request_spacing_s": 0,
            "page_size": PAGE_SIZE,
            "initial_since": self._initial_since.isoformat(),
        }

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """One inbound dead letter per bad record."""
        return dict(self._bad)

    def intro(self) -> list[str]:
        """What the service holds and what will come."""
        return [
            f"SOAP 1.2 service with WS-Security, polled every {POLL_INTERVAL_S} s: {BACKLOG} "
            f"inspections and {BACKLOG} penalty decisions of the last day "
            f"({sum(self._bad.values())} deliberately bad); {LIVE} more arrive while the demo runs"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Release the live records that are due and the injected faults."""
        notes: list[str] = []
        while self._released < len(self._live) and elapsed_s >= self._due(self._released):
            notes.append(self._release_batch())
        if not self._duplicate_sent and elapsed_s >= DUPLICATE_AT_S:
            self._duplicate_sent = True
            self.simulator.inject_soap("duplicate", operation="QueryInspections")
            notes.append("drug_admin: the next inspection page repeats a record (3.0 node)")
        if not self._busy_sent and elapsed_s >= BUSY_AT_S:
            self._busy_sent = True
            self.simulator.inject_soap("busy", operation="QueryPenalties")
            notes.append("drug_admin: the next QueryPenalties answers ServiceBusy (E5003)")
        return notes

    def _due(self, index: int) -> float:
        return (index // LIVE_BATCH + 1) * LIVE_EVERY_S

    def _release_batch(self) -> str:
        batch = self._live[self._released : self._released + LIVE_BATCH]
        stamp = _beijing_now()
        for record in batch:
            penalty = str(record["RecordId"]).startswith("CFJD")
            operation = "QueryPenalties" if penalty else "QueryInspections"
            record["UpdateTime"] = stamp.isoformat(sep=" " if penalty else "T")
            self.simulator.add(operation, record)
            self._last_update[operation] = stamp.isoformat()
        self._released += len(batch)
        return f"drug_admin: {len(batch)} records saved by officers"

    def finished(self) -> bool:
        """All live records out, and each query polled from its last live record's time on."""
        if self._released < len(self._live):
            return False
        since = {
            call.operation: call.params.get("SinceTime", "")
            for call in list(self.simulator.calls)
            if call.operation != "AssignJointTask"
        }
        return all(since.get(op, "") >= last for op, last in self._last_update.items())

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good record became exactly one canonical message."""
        expected = 2 * BACKLOG + LIVE - sum(self._bad.values())
        if counts.mapped != expected:
            return [
                f"drug_admin: {counts.mapped} canonical messages mapped, expected {expected} "
                f"({2 * BACKLOG + LIVE} records less the bad ones)"
            ]
        return []

    def stop(self) -> None:
        """Stop the simulator."""
        self.simulator.stop()


DEMO = DemoSystem(system="drug_admin", start=DrugAdminDemo)
