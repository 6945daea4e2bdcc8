"""The transfer workflow: one explicit state machine table, and the clocks each step starts.

States are the status vocabulary of ``enforcement.case_transfer.v1``. A transfer's history is
checked as a whole, in ``at`` order, so that a police answer that arrives before the one it
follows (quirk Q5: a 立案决定 before its 签收回执) is placed where it belongs, and a step that
cannot follow the one before it (or be followed by the one after it) is refused::

    admin_to_criminal
      (new) ─► proposed ─► approved ─► transferred ─► received ─► filed ─► items_handed_over
                 │                         │  ▲         │   ▲       ▲
                 └► refused                │  └─ forwarded ◄┘       │
                                           └► declined ─► reconsideration_requested
                                                 │         ├► reconsideration_filed ─► items…
                                                 │         └► reconsideration_upheld
                                                 └──────────────► supervision_requested ─► filed
    criminal_to_admin
      (new) ─► transferred   (反向移送: opens an administrative case, case_source transfer_back)

Some edges exist only so that answers may arrive out of order (``transferred → filed`` when the
receipt is late, ``declined → reconsideration_filed`` when the agency's request is not recorded
yet): the bus never drops a police answer because the step before it is missing.

Each status starts and closes statutory clocks (``STARTS``, ``CLOSES``; keys of
``runner.transfers.statutes.DEADLINES``); ``replay_clocks`` derives every clock of a transfer
from its sorted history, so a late answer moves clocks exactly as an on-time one would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from runner.errors import EbusError
from runner.transfers.statutes import DEADLINES, ClockPolicy

__all__ = [
    "CLOSES",
    "INITIAL",
    "STARTS",
    "TRANSITIONS",
    "ClockState",
    "Direction",
    "IllegalTransition",
    "Step",
    "allowed_after",
    "check_history",
    "clocks_of",
    "replay_clocks",
    "starts_of",
]

Direction = Literal["admin_to_criminal", "criminal_to_admin"]

INITIAL: Final[Mapping[Direction, frozenset[str]]] = {
    # proposed: raised by a threshold rule; approved / transferred: a transfer the platform
    # started without a proposal (its package carries the approval in its history).
    "admin_to_criminal": frozenset({"proposed", "approved"}),
    "criminal_to_admin": frozenset({"transferred"}),
}
"""The statuses a new transfer may start with, per direction."""

TRANSITIONS: Final[Mapping[Direction, Mapping[str, frozenset[str]]]] = {
    "admin_to_criminal": {
        "proposed": frozenset({"approved", "refused"}),
        "refused": frozenset(),
        "approved": frozenset({"transferred"}),
        "transferred": frozenset({"received", "forwarded", "filed", "declined"}),
        "received": frozenset({"forwarded", "filed", "declined"}),
        "forwarded": frozenset({"received", "filed", "declined"}),
        "declined": frozenset(
            {
                "reconsideration_requested",
                "supervision_requested",
                "reconsideration_filed",
                "reconsideration_upheld",
            }
        ),
        "reconsideration_requested": frozenset({"reconsideration_filed", "reconsideration_upheld"}),
        "reconsideration_upheld": frozenset({"supervision_requested"}),
        "supervision_requested": frozenset({"filed"}),
        "filed": frozenset({"items_handed_over"}),
        "reconsideration_filed": frozenset({"items_handed_over"}),
        "items_handed_over": frozenset(),
    },
    "criminal_to_admin": {"transferred": frozenset()},
}
"""The one state machine: status → the statuses that may follow it, per direction."""

STARTS: Final[Mapping[str, tuple[str, ...]]] = {
    "proposed": ("approval_decision",),
    "approved": ("transfer_to_police",),
    "received": ("police_filing_review",),
    "declined": ("reconsideration_request",),
    "reconsideration_requested": ("reconsideration_decision",),
    "reconsideration_upheld": ("supervision_request",),
    "filed": ("hand_over_items",),
    "reconsideration_filed": ("hand_over_items",),
}
"""The clocks a status starts (``admin_to_criminal``; a reverse transfer starts
``admin_handling``, which has no fixed period)."""

CLOSES: Final[Mapping[str, tuple[str, ...]]] = {
    "approved": ("approval_decision",),
    "refused": ("approval_decision",),
    "transferred": ("transfer_to_police",),
    "forwarded": ("forward_to_competent_organ", "police_filing_review"),
    "filed": ("police_filing_review", "supervision_request"),
    "declined": ("police_filing_review",),
    "reconsideration_requested": ("reconsideration_request",),
    "supervision_requested": ("reconsideration_request", "supervision_request"),
    "reconsideration_filed": ("reconsideration_decision",),
    "reconsideration_upheld": ("reconsideration_decision",),
    "items_handed_over": ("hand_over_items",),
}
"""The clocks a status stops (the duty the clock measured has been done)."""


class IllegalTransition(EbusError):
    """A status change the workflow does not allow; the message names both statuses."""

    def __init__(self, transfer_id: str, previous: str | None, status: str, reason: str) -> None:
        self.transfer_id = transfer_id
        self.previous = previous
        self.status = status
        self.reason = reason
        super().__init__(f"transfer {transfer_id}: {reason}")


@dataclass(frozen=True, slots=True)
class Step:
    """One status change of a transfer, as the workflow sees it."""

    status: str
    at: dt.datetime
    deadlines: Mapping[str, dt.datetime | None] = field(default_factory=dict)


def starts_of(direction: Direction, status: str) -> tuple[str, ...]:
    """The clocks ``status`` starts in ``direction`` (a reverse transfer: ``admin_handling``)."""
    if direction == "criminal_to_admin" and status == "transferred":
        return ("admin_handling",)
    return STARTS.get(status, ())


def clocks_of(direction: Direction, status: str) -> frozenset[str]:
    """Every clock ``status`` starts or closes: the deadlines a message of that step reports."""
    return frozenset(starts_of(direction, status)) | frozenset(CLOSES.get(status, ()))


def allowed_after(direction: Direction, previous: str | None) -> frozenset[str]:
    """The statuses that may follow ``previous`` (``None``: a new transfer)."""
    if previous is None:
        return INITIAL[direction]
    return TRANSITIONS[direction].get(previous, frozenset())


def _describe(statuses: frozenset[str]) -> str:
    return ", ".join(sorted(statuses)) or "none (final status)"


def check_history(transfer_id: str, direction: Direction, statuses: Sequence[str]) -> None:
    """Raise ``IllegalTransition`` unless ``statuses`` (in time order) is a path of the table."""
    previous: str | None = None
    for status in statuses:
        allowed = allowed_after(direction, previous)
        if status not in allowed:
            where = f"from '{previous}'" if previous else "as a new transfer"
            raise IllegalTransition(
                transfer_id,
                previous,
                status,
                f"'{status}' is not allowed {where} ({direction}); allowed: {_describe(allowed)}",
            )
        previous = status


@dataclass
class ClockState:
    """One clock derived from a history: when it started, is due and was closed."""

    key: str
    instance: int
    started_at: dt.datetime | None
    due_at: dt.datetime | None
    closed_at: dt.datetime | None = None


def replay_clocks(
    direction: Direction, steps: Sequence[Step], policy: ClockPolicy
) -> list[ClockState]:
    """Every clock of a transfer, derived from its steps in time order.

    A deadline a message carries (the police side computes some from its own times, e.g. the
    forwarding deadline from ``receivedTime``) takes precedence over the computed one. A clock
    that is already open is not restarted; one that was closed starts a new instance.
    """
    found: list[ClockState] = []
    open_by_key: dict[str, ClockState] = {}
    counts: dict[str, int] = {}

    def start(key: str, at: dt.datetime | None, due: dt.datetime | None) -> None:
        if key in open_by_key:
            return
        clock = ClockState(key, counts.get(key, 0), at, due)
        counts[key] = clock.instance + 1
        open_by_key[key] = clock
        found.append(clock)

    for step in steps:
        for key, due in step.deadlines.items():
            if key in open_by_key:
                if due is not None:
                    open_by_key[key].due_at = due
            elif key not in starts_of(direction, step.status):
                # A deadline that the step reports but did not start: e.g. the forwarding
                # deadline carried (and closed) by the forward notice itself.
                start(key, None, due)
        for key in CLOSES.get(step.status, ()):
            clock = open_by_key.pop(key, None)
            if clock is not None:
                clock.closed_at = step.at
        for key in starts_of(direction, step.status):
            due = step.deadlines.get(key) or policy.due_at(DEADLINES[key], step.at)
            start(key, step.at, due)
    return found
