"""health in ``make demo``: the 卫健委 case API with two days of history and officers' edits live.

The script, on the simulator (``HealthApi``, a real HTTP endpoint on loopback, 5 requests a
second per key as the gateway allows):

- at the start it holds ``BACKLOG`` cases updated during the last two days (about half with a
  penalty decision), which the first poll cycle reads in pages of ``PAGE_SIZE``;
- three of them are deliberately bad, as the old 执法文书 module writes them: a status outside
  code table T4, an organisation's USCC with a wrong check character, a licence marked affected
  without its name. Each is dead-lettered once with its rule: its version is remembered, so the
  re-reads at the inclusive high-water mark do not bring it back;
- every ``LIVE_EVERY_S`` seconds officers edit a few cases (``LIVE`` edits in all): a new case
  registered, or a registered case decided (a new version with its decision). Every edit is a
  new version: the case again, and its decision when it has one;
- at ``STALE_AT_S`` the read replica serves an older version of a decided case once (Q3), and
  a page lists one record twice: the poller ignores both, the stale one logged at INFO;
- from ``BOM_AT_S`` the answers come from the gateway cache with a UTF-8 BOM (Q7).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from adapters.health.simulator import HealthApi, now_ms, serve
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["BACKLOG", "DEMO", "LIVE", "HealthDemo"]

BACKLOG = 24
LIVE = 12
LIVE_BATCH = 3
LIVE_EVERY_S = 3.0
STALE_AT_S = 5.0
BOM_AT_S = 7.0
POLL_INTERVAL_S = 2
PAGE_SIZE = 10
_DAY_MS = 86_400_000
_BASE_ID = 1_800_000_000_000_000_000
_BAD = {3: "unknown_code", 8: "uscc_check", 13: "required"}
"""Backlog case number → the rule its deliberately bad record breaks."""


def _templates() -> tuple[dict[str, Any], ...]:
    """The spec samples' records (individual business, organisations, natural person)."""
    text = (Path(__file__).with_name("demo_records.yaml")).read_text(encoding="utf-8")
    return tuple(yaml.safe_load(text))


def _case(template: Mapping[str, Any], n: int, update_time: int) -> dict[str, Any]:
    """Case ``n``: a version 1, registered, from ``template`` with its own id and numbers."""
    record = copy.deepcopy(dict(template))
    prefix = str(record["caseNo"]).split("〔", 1)[0]
    record.update(
        id=str(1_800_000_000_000_000_000 + n),
        caseNo=f"{prefix}〔2025〕{500 + n}号",
        version=1,
        updateTime=update_time,
        registerTime=update_time - _DAY_MS,
        status="REGISTERED",
        decision=None,
    )
    return record


def _decision(template: Mapping[str, Any], n: int, decided_ms: int) -> dict[str, Any]:
    """A decision for case ``n`` shaped like the template's (or the first sample's)."""
    decision: dict[str, Any] = copy.deepcopy(template.get("decision") or _FALLBACK_DECISION)
    prefix = str(decision["decisionNo"]).split("〔", 1)[0]
    decision.update(decisionNo=f"{prefix}〔2025〕{500 + n}号", decisionTime=decided_ms)
    return decision


_FALLBACK_DECISION = next(t["decision"] for t in _templates() if t.get("decision"))


def _spoil(record: dict[str, Any], rule: str) -> None:
    if rule == "unknown_code":
        record["status"] = "ARCHIVED"
    elif rule == "uscc_check":
        uscc = str(record["party"]["creditCode"])
        record["party"]["creditCode"] = uscc[:-1] + ("A" if uscc[-1] != "A" else "B")
        record["party"]["type"] = "ORG"
    else:  # required: a licence marked affected without its name
        record["decision"] = {**record["decision"], "licenseAffected": True, "licenseName": None}


class HealthDemo:
    """The running simulator and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        templates = _templates()
        start = now_ms()
        self.api = HealthApi(per_second=5)
        self._bad = dict.fromkeys(_BAD.values(), 1)
        self._messages = 0
        for n in range(BACKLOG):
            template = templates[n % len(templates)]
            record = _case(template, n, start - 2 * _DAY_MS + n * 60_000)
            if n % 2:
                record.update(status="DECIDED")
                record["decision"] = _decision(template, n, record["updateTime"] - _DAY_MS)
            if n in _BAD:
                _spoil(record, _BAD[n])
            else:
                self._messages += 2 if record["decision"] else 1
            self.api.upsert(record)
        self._templates = templates
        self._released = 0
        self._next_id = BACKLOG
        self._stale_sent = False
        self._bom_on = False
        self._requests_at_release: int | None = None
        self.server = serve(self.api)
        self.server.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint, a short poll interval, the go-live three days back."""
        since = time.strftime(
            "%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600 - 3 * 86400)
        )
        return {
            "endpoint": self.server.url,
            "poll_interval_s": POLL_INTERVAL_S,
            "page_size": PAGE_SIZE,
            "initial_since": since,
        }

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """One inbound dead letter per bad record."""
        return dict(self._bad)

    def intro(self) -> list[str]:
        """What the API holds and what will come."""
        return [
            f"REST API polled every {POLL_INTERVAL_S} s by updateTime HWM: {BACKLOG} case "
            f"records of the last two days ({sum(self._bad.values())} deliberately bad); "
            f"{LIVE} officers' edits (new versions) arrive while the demo runs"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Release the edits that are due, the stale replica read and the BOM answers."""
        notes: list[str] = []
        while (
            self._released < LIVE and elapsed_s >= (self._released // LIVE_BATCH + 1) * LIVE_EVERY_S
        ):
            notes.append(self._release_batch())
        if not self._stale_sent and elapsed_s >= STALE_AT_S:
            self._stale_sent = True
            notes.append(self._stale())
        if not self._bom_on and elapsed_s >= BOM_AT_S:
            self._bom_on = self.api.bom = True
            notes.append("health: answers now come from the gateway cache with a UTF-8 BOM (Q7)")
        return notes

    def _release_batch(self) -> str:
        stamp = now_ms()
        decided = 0
        for _ in range(min(LIVE_BATCH, LIVE - self._released)):
            registered = [
                r
                for r in self.api.records.values()
                if r["status"] == "REGISTERED" and int(r["id"]) - _BASE_ID not in _BAD
            ]
            if self._released % 2 and registered:
                n = int(registered[0]["id"]) - _BASE_ID
                template = self._templates[n % len(self._templates)]
                decision = _decision(template, n, stamp)
                self.api.change(registered[0]["id"], stamp, status="DECIDED", decision=decision)
                self._messages += 2
                decided += 1
            else:
                n = self._next_id
                self._next_id += 1
                self.api.upsert(_case(self._templates[n % len(self._templates)], n, stamp))
                self._messages += 1
            self._released += 1
        self._requests_at_release = len(self.server.requests)
        return f"health: officers edited {LIVE_BATCH} cases ({decided} decided: case + decision)"

    def _stale(self) -> str:
        changed = [r for r in self.api.records.values() if r["version"] > 1]
        if not changed:
            return "health: no edited case yet to serve stale"
        newer = changed[0]
        older = {**copy.deepcopy(newer), "version": newer["version"] - 1}
        older.update(status="REGISTERED", decision=None)
        self.api.stale_once(older)
        self.api.duplicate_once(str(newer["id"]))
        return "health: the read replica serves an older version once, and a page repeats a record"

    def finished(self) -> bool:
        """All edits out, and a complete poll cycle has run since the last one (two cycles
        have started after it)."""
        if self._released < LIVE or self._requests_at_release is None:
            return False
        after = list(self.server.requests)[self._requests_at_release :]
        return sum(1 for r in after if r.query.get("page") == ["0"]) >= 2

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good record version became its case (and decision) exactly once."""
        if counts.mapped != self._messages:
            return [
                f"health: {counts.mapped} canonical messages mapped, expected {self._messages} "
                "(one case per forwarded version, plus its decision)"
            ]
        return []

    def stop(self) -> None:
        """Stop the simulator."""
        self.server.stop()


DEMO = DemoSystem(system="health", start=HealthDemo)
