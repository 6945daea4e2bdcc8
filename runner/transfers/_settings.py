"""The ``transfers:`` key of the settings: how the transfer core counts days and how often it
looks for missed deadlines.

Kept free of runner imports other than durations, so ``runner.settings`` can import it.

Example::

    transfers:
      day_count: working            # calendar (default) | working
      holidays: [2025-10-01, 2025-10-02, 2025-10-03]   # days off (working only)
      extra_workdays: [2025-09-28]  # weekend days worked, 调休 (working only)
      watch_interval_s: 60          # look for missed deadlines every minute (30 s)
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runner.durations import Duration

__all__ = ["TransferSettings"]


class TransferSettings(BaseModel):
    """The transfer core (行刑衔接): its statutory day count and its deadline watcher."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day_count: Literal["calendar", "working"] = "calendar"
    """How the statutes' "N日" count: ``calendar`` days (domain-facts §3.1, the default) or
    ``working`` days (Monday to Friday, minus ``holidays``, plus ``extra_workdays``). A
    deadline is computed when its clock starts: a change applies to clocks started after it."""
    holidays: tuple[dt.date, ...] = ()
    """Weekdays that are not worked (public holidays); only with ``day_count: working``."""
    extra_workdays: tuple[dt.date, ...] = ()
    """Weekend days that are worked (调休); only with ``day_count: working``."""
    watch_interval_s: Duration = Field(default=30.0, gt=0, le=3600)
    """How often each ``ebus run`` looks for missed deadlines and raises their alerts (seconds,
    or a duration such as ``1m``); an alert comes at most this long after its deadline."""

    @model_validator(mode="after")
    def _days_fit_the_count(self) -> TransferSettings:
        if self.day_count == "calendar" and (self.holidays or self.extra_workdays):
            raise ValueError(
                "holidays and extra_workdays are only used with day_count: working "
                "(calendar days count every day)"
            )
        both = sorted(set(self.holidays) & set(self.extra_workdays))
        if both:
            raise ValueError(
                f"{both[0].isoformat()} is both a holiday and an extra workday: give it once"
            )
        weekend_holidays = [d for d in self.holidays if d.weekday() >= 5]
        if weekend_holidays:
            raise ValueError(
                f"holiday {weekend_holidays[0].isoformat()} is a weekend day, never worked "
                "anyway: list only weekdays off"
            )
        weekday_extras = [d for d in self.extra_workdays if d.weekday() < 5]
        if weekday_extras:
            raise ValueError(
                f"extra workday {weekday_extras[0].isoformat()} is a weekday, worked anyway: "
                "list only weekend days worked (调休)"
            )
        return self
