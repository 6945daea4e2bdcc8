"""online_hall in ``make demo``: the hall pushing signed events to the bus's webhook endpoint.

The script, played by ``HallNotifier`` (the hall's notifier, ``adapters.online_hall.simulator``)
in a background thread from ``START_AT_S`` on:

- six 行政许可决定 events (one of a natural person, one with a BOM, upper-case keys and numeric
  codes, one open-ended 长期) and five 电子送达回执 events, a 已签收 receipt arriving before the
  已查阅 one of the same document (consumers order by ``status_at``);
- a resend of a stored licence (answered ``duplicate``) and three concurrent copies of a receipt
  (quirk Q9): neither makes a second canonical message;
- three bad pushes, each dead-lettered once: a forged signature (401, ``bad_signature``), a body
  cut off mid-JSON (422, ``malformed_json``) and a USCC with a wrong check character (422,
  ``uscc_check``).

Failed attempts are resent byte-identical on the first steps of the hall's schedule, shrunk a
thousandfold (60 ms, 300 ms, 0.9 s, 3.6 s).

The bus's webhook endpoint is where ``bind(url)`` says; until the demo runner binds it, the
endpoint of ``$EBUS_DEMO_WEBHOOK_URL`` or the default webhook settings
(``http://127.0.0.1:8080``) is used. When nothing answers there, the script stops after the
first event and ``check`` says so.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping

from adapters.online_hall.simulator import (
    RESEND_SCHEDULE_S,
    Answer,
    HallNotifier,
    Push,
    build_push,
    delivery_event,
    license_event,
    malformed,
)
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["DEMO", "START_AT_S", "OnlineHallDemo"]

START_AT_S = 1.0
DEFAULT_URL = "http://127.0.0.1:8080"
_SIGNED, _READ = "3", "2"


def _good_pushes() -> list[Push]:
    """The events the bus must take in, each once."""
    licences = [
        build_push(license_event(1)),
        build_push(license_event(2, natural_person=True)),
        build_push(license_event(3, xklb=1, sqrlx=1), bom=True, upper_keys=True),
        build_push(license_event(4, yxqz="长期")),
        build_push(license_event(5, jdrq="1709602200000")),
        build_push(license_event(6)),
    ]
    receipts = [
        build_push(delivery_event(1, status="1")),
        build_push(delivery_event(1, status=_SIGNED)),  # before the 已查阅 one (out of order)
        build_push(delivery_event(1, status=_READ)),
        build_push(delivery_event(2, status="4", sdqd="02")),
        build_push(delivery_event(3, status="1", sdqd=1)),
    ]
    return licences + receipts


class OnlineHallDemo:
    """The hall's notifier and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.good = _good_pushes()
        self.problems: list[str] = []
        self._url: str | None = None
        self._notes: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._stop = threading.Event()

    @property
    def settings(self) -> Mapping[str, object]:
        """Nothing beyond ``demo_config`` (the README's test secret): the hall calls the bus."""
        return {}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The three bad pushes, one dead letter each."""
        return {"bad_signature": 1, "malformed_json": 1, "uscc_check": 1}

    def bind(self, url: str) -> None:
        """Push to the bus's webhook endpoint at ``url`` (``http://127.0.0.1:PORT``)."""
        self._url = url

    def intro(self) -> list[str]:
        """What the hall will do."""
        return [
            f"网上办事大厅 pushing {len(self.good)} signed events (6 licences, 5 delivery "
            "receipts, one out of order), a resend, 3 concurrent copies, and 3 bad pushes "
            "(forged signature → 401; cut-off JSON and a bad USCC → 422)"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Start the script when due; hand over what it has narrated since."""
        if self._thread is None and elapsed_s >= START_AT_S:
            url = self._url or os.environ.get("EBUS_DEMO_WEBHOOK_URL") or DEFAULT_URL
            self._thread = threading.Thread(
                target=self._play, args=(url,), name="online_hall demo", daemon=True
            )
            self._thread.start()
        notes = []
        while not self._notes.empty():
            notes.append(self._notes.get_nowait())
        return notes

    def _expect(self, what: str, answer: Answer, status: int, msg: str | None = None) -> None:
        body = answer.json() if answer.status is not None else None
        got = body.get("msg") if isinstance(body, dict) else None
        if answer.status != status or (msg is not None and got != msg):
            shown = answer.status if answer.status is not None else answer.error
            self.problems.append(f"online_hall: {what}: got {shown} {got or ''}, expected {status}")

    def _play(self, url: str) -> None:
        notifier = HallNotifier(url, schedule_s=RESEND_SCHEDULE_S[:4], time_scale=0.001)
        try:
            attempts = notifier.deliver(self.good[0])
            first = attempts[-1]
            if first.status is None:
                self.problems.append(f"online_hall: no webhook endpoint answers at {url}")
                return
            # a slow first answer makes the hall resend; the resend is rightly a "duplicate"
            self._expect("first licence", first, 200, "accepted" if len(attempts) == 1 else None)
            for push in self.good[1:]:
                if self._stop.is_set():
                    return
                self._expect(f"event {push.event_id}", notifier.deliver(push)[-1], 200)
            self._notes.put(f"online_hall: {len(self.good)} events pushed and answered 200")
            self._resends(notifier)
            self._bad(notifier)
        finally:
            self._done.set()

    def _resends(self, notifier: HallNotifier) -> None:
        again = notifier.send(self.good[0])
        self._expect("a resend of a stored licence", again, 200, "duplicate")
        copies = notifier.send_concurrently(self.good[6], 3)
        for answer in copies:
            self._expect("a concurrent copy", answer, 200)
        self._notes.put(
            "online_hall: a resend answered 'duplicate'; 3 concurrent copies of a receipt "
            f"answered {sorted(a.json()['msg'] for a in copies if a.json())}"
        )

    def _bad(self, notifier: HallNotifier) -> None:
        forged = notifier.send(build_push(license_event(7)).tampered())
        self._expect("a forged signature", forged, 401)
        cut = notifier.send(malformed(license_event(8)))
        self._expect("a cut-off body", cut, 422, "malformed JSON")
        wrong = notifier.send(build_push(license_event(9, tyshxydm="91350100MA2Y7K3F62")))
        self._expect("a bad USCC", wrong, 422, "bad USCC check character")
        self._notes.put(
            "online_hall: forged signature → 401, cut-off JSON → 422 'malformed JSON', "
            "bad USCC → 422 'bad USCC check character' (the hall puts both 422s on manual review)"
        )

    def finished(self) -> bool:
        """The whole script has been played."""
        return self._done.is_set()

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good event made exactly one canonical message; every answer was as expected."""
        problems = list(self.problems)
        if not problems and counts.mapped != len(self.good):
            problems.append(
                f"online_hall: {counts.mapped} canonical messages, expected {len(self.good)}"
            )
        return problems

    def stop(self) -> None:
        """Stop the script (it ends after the push in flight)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


DEMO = DemoSystem(system="online_hall", start=OnlineHallDemo)
