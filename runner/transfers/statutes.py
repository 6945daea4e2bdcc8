"""The statutory deadlines of Decree 310 (国务院令第310号, revised 2020-08-07) and how they count.

Each deadline has a key, the exact ``name`` and ``basis`` texts of the canonical contract, and a
period: ``3日`` (days) or ``24小时`` (hours). Days are calendar days by default: the day of the
event is not counted and the deadline is the end (23:59:59 +08:00) of the last day, so an event
on 2025-05-06 at 15:20 gives 2025-05-09T23:59:59+08:00. ``ClockPolicy(days="working")`` counts
working days instead (Monday to Friday, minus ``holidays``, plus ``extra_workdays``); the
settings' ``transfers:`` key chooses (``ClockPolicy.of``). Hours are
wall-clock: event + 24 h exactly. Every time is Asia/Shanghai (UTC+08:00, no summer time).

Example::

    policy = ClockPolicy()
    due = policy.due_at(DEADLINES["police_filing_review"], received_at)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Literal

from runner.transfers._settings import TransferSettings
from schemas.timeutil import SHANGHAI

__all__ = ["D310", "DEADLINES", "ClockPolicy", "Deadline", "deadline_by_name"]

D310: Final = "《行政执法机关移送涉嫌犯罪案件的规定》"
"""The short citation prefix of Decree 310 used in every ``basis``."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """One statutory deadline: its key, canonical texts and period (``None``: no fixed period)."""

    key: str
    name: str
    basis: str
    amount: int | None
    unit: Literal["days", "hours"] = "days"


DEADLINES: Final[dict[str, Deadline]] = {
    d.key: d
    for d in (
        Deadline(
            "approval_decision",
            "行政执法机关正职负责人自接到报告之日起3日内作出批准移送或者不批准移送的决定",
            f"{D310}第五条第一款",
            3,
        ),
        Deadline(
            "transfer_to_police",
            "批准移送后24小时内向同级公安机关移送",
            f"{D310}第五条第二款",
            24,
            "hours",
        ),
        Deadline(
            "forward_to_competent_organ",
            "不属于本机关管辖的，24小时内转送有管辖权的机关",
            f"{D310}第七条",
            24,
            "hours",
        ),
        Deadline(
            "police_filing_review",
            "公安机关审查并作出立案或不予立案决定",
            f"{D310}第八条",
            3,
        ),
        Deadline(
            "reconsideration_request",
            "行政执法机关提请复议",
            f"{D310}第九条第一款",
            3,
        ),
        Deadline(
            "reconsideration_decision",
            "公安机关作出复议决定",
            f"{D310}第九条第二款",
            3,
        ),
        Deadline(
            "supervision_request",
            "行政执法机关建议人民检察院立案监督",
            f"{D310}第九条第二款",
            3,
        ),
        Deadline(
            "hand_over_items",
            "行政执法机关移交涉案物品及有关材料",
            f"{D310}第十二条",
            3,
        ),
        Deadline(
            "admin_handling",
            "行政执法机关依法处理反向移送的案件（及时，无固定期限）",
            f"{D310}第十三条；《中华人民共和国行政处罚法》第二十七条",
            None,
        ),
    )
}
"""Every deadline the transfer core watches, by key."""

_BY_NAME = {d.name: d for d in DEADLINES.values()}


def deadline_by_name(name: str) -> Deadline | None:
    """The deadline whose canonical ``name`` is ``name`` (as messages carry it), if any."""
    return _BY_NAME.get(name)


@dataclass(frozen=True)
class ClockPolicy:
    """How day counts are computed: ``calendar`` (default) or ``working`` days.

    Decree 310 does not say whether its "3日" are working days (domain-facts §3.1: calendar days,
    configurable). ``holidays`` are extra days off and ``extra_workdays`` weekend days worked
    (调休), both only used for ``working``.
    """

    days: Literal["calendar", "working"] = "calendar"
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    extra_workdays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, settings: TransferSettings) -> ClockPolicy:
        """The policy the settings' ``transfers:`` key asks for."""
        return cls(
            days=settings.day_count,
            holidays=frozenset(settings.holidays),
            extra_workdays=frozenset(settings.extra_workdays),
        )

    def due_at(self, deadline: Deadline, event_at: dt.datetime) -> dt.datetime | None:
        """When ``deadline`` expires for an event at ``event_at``; None when it has no period."""
        if deadline.amount is None:
            return None
        local = event_at.astimezone(SHANGHAI)
        if deadline.unit == "hours":
            return local + dt.timedelta(hours=deadline.amount)
        last = self._add_days(local.date(), deadline.amount)
        return dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=SHANGHAI)

    def _add_days(self, start: dt.date, count: int) -> dt.date:
        if self.days == "calendar":
            return start + dt.timedelta(days=count)
        day = start
        while count:
            day += dt.timedelta(days=1)
            if self._is_workday(day):
                count -= 1
        return day

    def _is_workday(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays
