"""market_reg in ``make demo``: three nights of the 案件办理系统's export, some of it bad.

The script, on the simulator (``MarketRegSimulator``, a real drop directory the bus reads
through ``file://``; the import runs as ``SPEC.poll`` with ``watch`` on, every
``POLL_INTERVAL_S`` seconds, as there is no batch scheduler in the demo):

- at 0 s night 1: 6 cases (one written twice on consecutive lines: the exporter's join
  duplication, one message) and 4 decisions, one against a natural person (L3);
- at 2 s night 2: 5 new cases, a case of night 1 again (the overlapping export window:
  recognised as a duplicate), a case with status ``09`` (``unknown_code``) and one with a
  mistyped USCC (``uscc_check``); its decisions file does not match the manifest's SHA-256:
  refused alone (``sha256_mismatch``), none of its records imported;
- at 4 s night 3 with a wrong manifest ``sign``: the whole night refused (``bad_signature``);
  at 6 s the operators re-export it (``batch`` 2): imported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from adapters.market_reg.simulator import MarketRegSimulator, case_record, decision_record
from runner.adapter_api import DemoSystem, SystemCounts
from schemas.timeutil import SHANGHAI

__all__ = ["DEMO", "EXPECTED_MAPPED", "POLL_INTERVAL_S", "MarketRegDemo"]

POLL_INTERVAL_S = 1
EXPECTED_MAPPED = 6 + 4 + 5 + 3 + 2
"""Distinct canonical messages: night 1 (6 + 4), night 2 (5 new cases), night 3 (3 + 2)."""
SETTLE_S = 3.0
_LAST_EVENT_S = 6.0


class MarketRegDemo:
    """The simulated exporter and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.exporter = MarketRegSimulator()
        today = dt.datetime.now(SHANGHAI).date()
        self.days = [(today - dt.timedelta(days=n)).strftime("%Y%m%d") for n in (3, 2, 1)]
        self._done: set[str] = set()
        self._elapsed = 0.0

    @property
    def settings(self) -> Mapping[str, object]:
        """The drop's URL; the demo imports by polling (``watch``) at a short interval."""
        return {"url": self.exporter.url, "watch": True, "poll_interval_s": POLL_INTERVAL_S}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """Two bad records, one file refused by its digest, one night refused by its sign."""
        return {"unknown_code": 1, "uscc_check": 1, "sha256_mismatch": 1, "bad_signature": 1}

    def intro(self) -> list[str]:
        """What the exporter will drop."""
        return [
            "nightly JSON Lines export with a signed manifest, imported every "
            f"{POLL_INTERVAL_S} s: 3 nights (2 bad records, a file whose SHA-256 does not "
            "match, a night with a wrong sign re-exported as batch 2, repeated records)"
        ]

    def _once(self, key: str, at: float, elapsed_s: float) -> bool:
        if key in self._done or elapsed_s < at:
            return False
        self._done.add(key)
        return True

    def tick(self, elapsed_s: float) -> list[str]:
        """Export what is due; lines to narrate."""
        self._elapsed = elapsed_s
        notes: list[str] = []
        first, second, third = self.days
        if self._once("night1", 0.0, elapsed_s):
            cases = [case_record(1), *(case_record(i) for i in range(1, 7))]
            decisions = [decision_record(i, person=i == 2) for i in range(1, 5)]
            self.exporter.export_night(first, cases, decisions)
            notes.append(
                f"market_reg: night {first} exported (6 cases, one line twice; 4 decisions)"
            )
        if self._once("night2", 2.0, elapsed_s):
            bad_uscc = case_record(13)
            good = bad_uscc["dsr"]["tyshxydm"]
            bad_uscc["dsr"]["tyshxydm"] = good[:-1] + ("1" if good[-1] == "0" else "0")
            cases = [case_record(3), *(case_record(i) for i in range(7, 12))]
            cases += [case_record(12, ajzt="09"), bad_uscc]
            decisions = [decision_record(i) for i in range(7, 10)]
            self.exporter.export_night(second, cases, decisions, fault="sha256", crlf=True)
            notes.append(
                f"market_reg: night {second} exported (CRLF) with 2 bad cases and a decisions "
                "file whose SHA-256 is not the manifest's"
            )
        if self._once("night3", 4.0, elapsed_s):
            cases = [case_record(i) for i in range(21, 24)]
            decisions = [decision_record(i) for i in range(21, 23)]
            self.exporter.export_night(third, cases, decisions, fault="bad_sign")
            notes.append(f"market_reg: night {third} exported with a wrong manifest sign")
        # only once the wrong-signed night was refused: on a slow machine both could otherwise
        # land between two polls, and the importer would only ever see batch 2
        refused = "night3" in self._done and self.exporter.report(third) is not None
        if refused and self._once("reexport", _LAST_EVENT_S, elapsed_s):
            self.exporter.reexport(third)
            notes.append(f"market_reg: night {third} re-exported by the operators (batch 2)")
        return notes

    def finished(self) -> bool:
        """Everything exported, and the bus has emptied the inbox since."""
        return (
            "reexport" in self._done
            and self._elapsed >= _LAST_EVENT_S + SETTLE_S
            and not self.exporter.files()
        )

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good record became one canonical message; each night has its report."""
        problems = []
        if counts.mapped != EXPECTED_MAPPED:
            problems.append(
                f"market_reg: {counts.mapped} records mapped, expected {EXPECTED_MAPPED}"
            )
        for day in self.days:
            report = self.exporter.report(day)
            if report is None:
                problems.append(f"market_reg: no import report for {day}")
        last = self.exporter.report(self.days[-1])
        if last is not None and last.get("batch") != 2:
            problems.append("market_reg: the re-exported night was not imported as batch 2")
        return problems

    def stop(self) -> None:
        """Remove the simulator's drop directory."""
        self.exporter.stop()


DEMO = DemoSystem(system="market_reg", start=MarketRegDemo)
