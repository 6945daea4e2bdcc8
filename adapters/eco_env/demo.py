"""eco_env in ``make demo``: the SOAP service with six days of history and cases arriving live.

The script, on the simulator (``EcoEnvSimulator``, a real ASMX endpoint on loopback):

- at the start it holds ``BACKLOG`` generated cases updated during the last six days (about
  60 % decided), which the first poll cycle reads in pages of ``PAGE_SIZE``;
- three of those decisions are deliberately bad, as officers do type them: a party USCC with a
  wrong check character, a penalty kind code outside the code table, a natural person's resident
  ID number with a wrong check digit. Each must be dead-lettered with its rule, once (the
  backlog lies before the window overlap, so it is read once);
- every ``LIVE_EVERY_S`` seconds a few new cases come in (``LIVE`` in all), about 60 % with a
  decision; the poller, every ``POLL_INTERVAL_S`` seconds with a ``WINDOW_OVERLAP_S`` overlap,
  reads each of them more than once, and the bus recognises the re-reads as duplicates;
- at ``DTD_AT_S`` the next ``GetCaseList`` answer carries a DTD with an entity: the hardened
  parser refuses it, the cycle fails and the next one reads the same window again.

A window ends one minute before now (``END_LAG``: commits still in flight on the server), so a
live case is given an ``UpdateTime`` just over a minute back: the next cycle sees it at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from adapters.eco_env._dataset import Dataset, Record, generate_dataset, net_datetime
from adapters.eco_env._poll import END_LAG
from adapters.eco_env.simulator import EcoEnvSimulator
from runner.adapter_api import DemoSystem, SystemCounts
from schemas.identifiers import USCC_ALPHABET
from schemas.timeutil import SHANGHAI

__all__ = ["BACKLOG", "DEMO", "LIVE", "EcoEnvDemo"]

BACKLOG = 40
LIVE = 18
LIVE_BATCH = 3
LIVE_EVERY_S = 3.0
DTD_AT_S = 8.0
POLL_INTERVAL_S = 2
WINDOW_OVERLAP_S = 5
PAGE_SIZE = 20
SEED = 20250603
_VISIBLE = END_LAG + dt.timedelta(seconds=2)
_WINDOW_FORMAT = "%Y-%m-%d %H:%M:%S"


def _beijing_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _confiscation_amounts(dataset: Dataset) -> None:
    """Give every decision that confiscates (kinds 04, 05) the amount it confiscates.

    The generator may leave ``ConfiscatedAmount`` empty on such a decision; 信用福建 cannot
    publish a confiscation without its amount, and the demo's good decisions are good.
    """
    for decision in dataset.decisions.values():
        kinds = set(str(decision.get("PenaltyTypes") or "").split(","))
        amount = str(decision.get("ConfiscatedAmount") or "0")
        if kinds & {"04", "05"} and amount.strip() in ("", "0"):
            decision["ConfiscatedAmount"] = "1.26"


def _wrong_check_character(uscc: str) -> str:
    last = uscc[-1]
    return uscc[:-1] + next(c for c in USCC_ALPHABET if c != last)


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def _spoil(dataset: Dataset) -> dict[str, int]:
    """Make three backlog decisions bad (their cases stay good); returns rule → count."""
    spoiled: dict[str, int] = {}
    used: set[int] = set()
    for rule, party_types, change in (
        ("uscc_check", {"1", "3"}, "CreditCode"),
        ("unknown_code", {"1", "3", "4"}, "PenaltyTypes"),
        ("id_number_check", {"4"}, "IdCardNo"),
    ):
        case_id = next(
            (
                i
                for i in sorted(dataset.decisions)
                if i not in used and dataset.cases[i]["PartyType"] in party_types
            ),
            None,
        )
        if case_id is None:
            continue
        used.add(case_id)
        case, decision = dataset.cases[case_id], dataset.decisions[case_id]
        if change == "CreditCode":  # the decision's own copy of the party, mistyped
            decision["CreditCode"] = _wrong_check_character(str(case["CreditCode"]).strip())
        elif change == "PenaltyTypes":
            decision["PenaltyTypes"] = str(decision["PenaltyTypes"]) + ",21"
        else:
            decision["IdCardNo"] = _wrong_check_digit(str(case["IdCardNo"]))
        spoiled[rule] = spoiled.get(rule, 0) + 1
    return spoiled


def _split(dataset: Dataset, backlog: int) -> tuple[Dataset, list[tuple[Record, Record | None]]]:
    """The first ``backlog`` cases (by id) as the server's history; the rest to come live."""
    ids = sorted(dataset.cases)
    history = Dataset()
    for case_id in ids[:backlog]:
        history.add(dataset.cases[case_id], dataset.decisions.get(case_id))
    live = [(dataset.cases[i], dataset.decisions.get(i)) for i in ids[backlog:]]
    return history, live


class EcoEnvDemo:
    """The running simulator and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        now = _beijing_now()
        generated = generate_dataset(
            BACKLOG + LIVE,
            since=now - dt.timedelta(days=6),
            until=now - dt.timedelta(minutes=3),
            seed=SEED,
        )
        _confiscation_amounts(generated)
        history, self._live = _split(generated, BACKLOG)
        self._bad = _spoil(history)
        self._initial_start = now - dt.timedelta(days=6, hours=1)
        self._decided = len(history.decisions) + sum(1 for _, d in self._live if d is not None)
        self._history = (len(history.cases), len(history.decisions))
        self._released = 0
        self._last_update: dt.datetime | None = None
        self._dtd_sent = False
        self.simulator = EcoEnvSimulator(dataset=history)
        self.simulator.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint, a short poll interval and overlap, the first window."""
        return {
            "endpoint": self.simulator.endpoint,
            "poll_interval_s": POLL_INTERVAL_S,
            "window_overlap_s": WINDOW_OVERLAP_S,
            "page_size": PAGE_SIZE,
            "initial_start": self._initial_start.replace(tzinfo=SHANGHAI).isoformat(),
        }

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """One inbound dead letter per bad decision."""
        return dict(self._bad)

    def intro(self) -> list[str]:
        """What the service holds and what will come."""
        cases, decisions = self._history
        return [
            f"SOAP service polled every {POLL_INTERVAL_S} s: {cases} cases and {decisions} "
            f"penalty decisions of the last six days ({sum(self._bad.values())} decisions "
            f"deliberately bad); {LIVE} more cases arrive while the demo runs"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Release the live cases that are due, and the DTD answer."""
        notes: list[str] = []
        while self._released < len(self._live) and elapsed_s >= self._due(self._released):
            notes.append(self._release_batch())
        if not self._dtd_sent and elapsed_s >= DTD_AT_S:
            self._dtd_sent = True
            self.simulator.inject_soap("dtd", operation="GetCaseList")
            notes.append(
                "eco_env: the next GetCaseList answer carries a DTD with an entity "
                "(the hardened parser must refuse it)"
            )
        return notes

    def _due(self, index: int) -> float:
        return (index // LIVE_BATCH + 1) * LIVE_EVERY_S

    def _release_batch(self) -> str:
        batch = self._live[self._released : self._released + LIVE_BATCH]
        updated = _beijing_now() - _VISIBLE
        stamp = net_datetime(updated)
        for case, decision in batch:
            case["UpdateTime"] = stamp
            if decision is not None:
                decision["UpdateTime"] = stamp
            self.simulator.add_case(case, decision)
        self._released += len(batch)
        self._last_update = updated
        decided = sum(1 for _, d in batch if d is not None)
        return f"eco_env: {len(batch)} cases updated by officers ({decided} with a decision)"

    def finished(self) -> bool:
        """All live cases out, and a poll window has started after the last one."""
        if self._released < len(self._live) or self._last_update is None:
            return False
        last = self._last_update
        return any(
            dt.datetime.strptime(str(call.params.get("startTime")), _WINDOW_FORMAT) > last
            for call in list(self.simulator.calls)
            if call.operation == "GetCaseList"
        )

    def check(self, counts: SystemCounts) -> list[str]:
        """Every case and every good decision became exactly one canonical message."""
        expected = BACKLOG + LIVE + self._decided - sum(self._bad.values())
        if counts.mapped != expected:
            return [
                f"eco_env: {counts.mapped} canonical messages mapped, expected {expected} "
                f"({BACKLOG + LIVE} cases and their good decisions)"
            ]
        return []

    def stop(self) -> None:
        """Stop the simulator."""
        self.simulator.stop()


DEMO = DemoSystem(system="eco_env", start=EcoEnvDemo)
