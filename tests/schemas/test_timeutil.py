"""Datetimes are ISO 8601 to the second with +08:00; dates are dates, never datetimes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.timeutil import CanonicalDate, CanonicalDatetime

DATETIME = TypeAdapter(CanonicalDatetime)
DATE = TypeAdapter(CanonicalDate)
EIGHT_HOURS = dt.timedelta(hours=8)


def wire(value: Any) -> str:
    """What ``value`` becomes on the wire as a canonical datetime."""
    dumped = DATETIME.dump_python(DATETIME.validate_python(value), mode="json")
    assert isinstance(dumped, str)
    return dumped


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        pytest.param(
            "2024-03-05T10:20:00",
            "2024-03-05T10:20:00+08:00",
            id="a time without a zone is read as Shanghai time",
        ),
        pytest.param(
            "2024-03-05 10:20:00",
            "2024-03-05T10:20:00+08:00",
            id="a space instead of T is accepted",
        ),
        pytest.param(
            "2024-03-05T02:20:00Z",
            "2024-03-05T10:20:00+08:00",
            id="a UTC time is converted to +08:00",
        ),
        pytest.param(
            "2024-12-31T16:00:00+00:00",
            "2025-01-01T00:00:00+08:00",
            id="a UTC time late on new year's eve falls on new year's day",
        ),
        pytest.param(
            "2024-03-05T11:20:00+09:00",
            "2024-03-05T10:20:00+08:00",
            id="a time in another zone is converted to +08:00",
        ),
        pytest.param(
            "2024-03-05T10:20:00+08:00",
            "2024-03-05T10:20:00+08:00",
            id="a canonical time is kept as it is",
        ),
        pytest.param(
            "2024-03-05",
            "2024-03-05T00:00:00+08:00",
            id="a date only value becomes midnight in Shanghai",
        ),
        pytest.param(
            dt.date(2024, 3, 5),
            "2024-03-05T00:00:00+08:00",
            id="a date object becomes midnight in Shanghai",
        ),
        pytest.param(
            "2024-03-05T10:20:00.999999",
            "2024-03-05T10:20:00+08:00",
            id="microseconds are dropped, not rounded",
        ),
        pytest.param(
            "2024-03-05T10:20",
            "2024-03-05T10:20:00+08:00",
            id="a time without seconds gets zero seconds",
        ),
        pytest.param(
            " 2024-03-05T10:20:00 ",
            "2024-03-05T10:20:00+08:00",
            id="surrounding spaces are trimmed",
        ),
        pytest.param(
            "1988-07-01T12:00:00",
            "1988-07-01T12:00:00+08:00",
            id="a time in a historical summer time period stays +08:00",
        ),
    ],
)
def test_a_source_time_becomes_a_canonical_datetime(source: Any, canonical: str) -> None:
    assert wire(source) == canonical


def test_a_canonical_datetime_in_python_carries_the_plus_eight_offset() -> None:
    value = DATETIME.validate_python("2024-03-05T02:20:00Z")
    assert value.utcoffset() == EIGHT_HOURS
    assert value == dt.datetime(2024, 3, 5, 2, 20, tzinfo=dt.UTC)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1900, 1, 2),
        max_value=dt.datetime(2100, 12, 30),
        timezones=st.builds(
            dt.timezone,
            st.integers(min_value=-14 * 60, max_value=14 * 60).map(
                lambda minutes: dt.timedelta(minutes=minutes)
            ),
        ),
    )
)
def test_any_aware_time_keeps_its_instant_truncated_to_the_second(moment: dt.datetime) -> None:
    value = DATETIME.validate_python(moment)
    assert value.utcoffset() == EIGHT_HOURS
    assert value == moment - dt.timedelta(microseconds=moment.microsecond)
    dumped = DATETIME.dump_python(value, mode="json")
    assert dumped.endswith("+08:00")
    assert len(dumped) == len("2024-03-05T10:20:00+08:00")
    assert dt.datetime.fromisoformat(dumped) == value


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("05/03/2024 10:20", id="a day first slash date"),
        pytest.param("2024年3月5日", id="a Chinese date"),
        pytest.param("", id="an empty string"),
        pytest.param(1709605200, id="a unix timestamp"),
    ],
)
def test_a_value_that_is_not_an_iso_datetime_is_rejected(source: Any) -> None:
    with pytest.raises(ValidationError):
        DATETIME.validate_python(source)


# --- Dates --------------------------------------------------------------------------------------


def test_a_canonical_date_keeps_an_iso_date() -> None:
    value = DATE.validate_python("2024-03-05")
    assert value == dt.date(2024, 3, 5)
    assert DATE.dump_python(value, mode="json") == "2024-03-05"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("2024-03-05T10:20:00", id="an iso datetime string"),
        pytest.param("2024-03-05T00:00:00+08:00", id="a canonical datetime string at midnight"),
        pytest.param(dt.datetime(2024, 3, 5, 10, 20), id="a datetime object"),
        pytest.param("2024-02-30", id="the 30th of February"),
    ],
)
def test_a_canonical_date_refuses_a_datetime_or_an_impossible_date(source: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        DATE.validate_python(source)
    assert caught.value.errors()[0]["type"] in {"date_type", "date_format"}


def test_a_compact_date_is_not_an_iso_date() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CanonicalDate).validate_python("20240305")
