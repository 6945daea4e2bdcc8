"""emergency in ``make demo``: 应急执法系统 pushing inspections and penalty decisions to the bus.

The emergency system is a sender: the simulated YJZF client (``simulator.YjzfClient``) pushes
to the bus's webhook endpoint. The script, over about ten seconds:

- 1 s: four inspections (UTF-8, GB2312-labelled GBK from client 2.x, UTF-8 with a BOM, UTF-8)
  and three penalty decisions (one against a natural person, L3): Ack code 0 each;
- 3 s: one decision resent after a lost Ack (code 1), and a new inspection pushed three times
  at once (one code 0, two code 1): no second canonical message;
- 5 s: a decision whose USCC fails its check character (code 2, ``uscc_check``);
- 6 s: a GBK body under a UTF-8 label (code 2, ``undecodable``);
- 7 s: a push signed with a wrong secret (HTTP 401 code 2, ``signature_mismatch``);
- 8 s: a push signed 15 minutes ago (HTTP 401 code 9, ``timestamp_skew``): the client re-signs
  and resends, and it is accepted.

The peer needs the bus's endpoint: ``bind(url)`` (or ``EBUS_DEMO_WEBHOOK_URL``). Without one
it says so and sits out, so a demo run without a webhook endpoint is not disturbed.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.emergency.simulator import Documents, Fault, Result, YjzfClient, undecodable
from runner.adapter_api import DemoSystem, SystemCounts
from schemas.timeutil import SHANGHAI

__all__ = ["DEMO", "GOOD", "EmergencyDemo"]

GOOD = 9
"""Distinct canonical messages the script makes: 7 good pushes, the inspection pushed three
times at once, and the re-signed one."""
_REFUSED = {"uscc_check": 1, "undecodable": 1, "signature_mismatch": 1, "timestamp_skew": 1}


@dataclass(frozen=True)
class _Step:
    at_s: float
    label: str
    run: Callable[[], list[Result]]


class EmergencyDemo:
    """The scripted YJZF client (a ``runner.demo.DemoPeer``)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ.get("EBUS_DEMO_WEBHOOK_URL") or None
        self.docs = Documents(seed=2024, now=dt.datetime.now(SHANGHAI))
        self.client = YjzfClient(self.url or "", resend_delays=(1.0, 2.0, 4.0))
        self.results: list[Result] = []
        self._steps = self._script()
        self._next = 0
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._told = False

    def bind(self, url: str) -> None:
        """Push to the bus endpoint at ``url`` (``http://127.0.0.1:PORT``)."""
        self.url = url
        self.client.url = url

    @property
    def settings(self) -> Mapping[str, object]:
        """Nothing beyond ``demo_config``: the bus is the server here."""
        return {}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The four refused pushes (none when the script did not play)."""
        return dict(_REFUSED) if self.url else {}

    def intro(self) -> list[str]:
        """What the client will push."""
        if not self.url:
            return ["emergency: no webhook endpoint in this run: the YJZF client sits out"]
        return [
            f"应急执法系统 (YJZF) client pushing to {self.url}/inbound/emergency: 4 inspections "
            "(UTF-8, GB2312-labelled GBK, BOM), 3 penalty decisions, resends, and 4 bad pushes "
            "(bad USCC, GBK under a UTF-8 label, wrong secret, stale signature)"
        ]

    def _script(self) -> list[_Step]:
        docs, client = self.docs, self.client
        good = [
            docs.inspection("utf-8"),
            docs.inspection("gb2312"),
            docs.inspection("bom"),
            docs.inspection("utf-8"),
            docs.penalty(),
            docs.penalty(natural_person=True),
            docs.penalty(),
        ]
        resent, concurrent = good[4], docs.inspection("utf-8")
        bad_uscc = _break_uscc(docs.penalty())
        return [
            _Step(1.0, "7 good pushes", lambda: [client.push(body) for body in good]),
            _Step(3.0, "a resend after a lost Ack", lambda: [client.push(resent)]),
            _Step(3.5, "3 concurrent resends", lambda: self._concurrent(concurrent)),
            _Step(5.0, "a USCC with a wrong check character", lambda: [client.push(bad_uscc)]),
            _Step(6.0, "GBK bytes under a UTF-8 label", self._undecodable),
            _Step(
                7.0,
                "a push signed with a wrong secret",
                lambda: [client.push(docs.inspection(), [Fault("wrong_secret")])],
            ),
            _Step(
                8.0,
                "a push signed 15 minutes ago",
                lambda: [client.push(docs.penalty(), [Fault("stale_timestamp", 900)])],
            ),
        ]

    def _concurrent(self, body: bytes) -> list[Result]:
        attempts = self.client.push_concurrently(body, 3)
        return [
            Result(a.msg_id, "accepted" if a.code == "0" else "duplicate", (a,)) for a in attempts
        ]

    def _undecodable(self) -> list[Result]:
        return [self.client.push(undecodable(self.docs.penalty()))]

    def _play(self, step: _Step) -> None:
        results = step.run()
        codes = ", ".join(
            "/".join(f"{a.status}:{a.code or '-'}" for a in r.attempts) for r in results
        )
        with self._lock:
            self.results += results
            self._lines.append(f"emergency: {step.label}: HTTP:Ack {codes}")

    def tick(self, elapsed_s: float) -> list[str]:
        """Start the next step when it is due (one at a time, off the demo's thread)."""
        if not self.url:
            return []
        busy = self._worker is not None and self._worker.is_alive()
        if not busy and self._next < len(self._steps) and elapsed_s >= self._steps[self._next].at_s:
            step = self._steps[self._next]
            self._next += 1
            self._worker = threading.Thread(target=self._play, args=(step,), daemon=True)
            self._worker.start()
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def finished(self) -> bool:
        """Every step played, answered and told (at once when there is no endpoint)."""
        if not self.url:
            return True
        idle = self._worker is None or not self._worker.is_alive()
        with self._lock:
            told = not self._lines
        return self._next >= len(self._steps) and idle and told

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good push made one canonical message; every bad one was refused."""
        if not self.url:
            return []
        problems = []
        if counts.mapped != GOOD:
            problems.append(f"emergency: {counts.mapped} canonical messages, expected {GOOD}")
        lost = [r.msg_id for r in self.results if r.state == "gave_up"]
        if lost:
            problems.append(f"emergency: pushes never answered: {', '.join(lost)}")
        flagged = sum(r.state == "flagged" for r in self.results)
        if flagged != 3:
            problems.append(f"emergency: {flagged} pushes flagged for manual handling, expected 3")
        return problems

    def stop(self) -> None:
        """Wait briefly for a push in flight (the client has no server to stop)."""
        if self._worker is not None:
            self._worker.join(timeout=5)


def _break_uscc(body: bytes) -> bytes:
    """``body`` with its party's USCC check character changed (README §5, Ack code 2)."""
    start = body.index(b"<TYSHXYDM>") + len(b"<TYSHXYDM>")
    last = body[start + 17 : start + 18]
    return body[: start + 17] + (b"1" if last != b"1" else b"2") + body[start + 18 :]


DEMO = DemoSystem(system="emergency", start=EmergencyDemo)
