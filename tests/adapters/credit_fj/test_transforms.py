"""The transforms credit_fj contributes (candidates for the shared library)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from adapters.credit_fj.transforms import add_years, agree, index_records, kind_parts, uscc
from runner.adapter_api import MessageRejected, Transform
from runner.mapping.transforms import validate_params


def _apply(transform: Transform, value: Any, params: Any = None) -> Any:
    return transform.fn(value, validate_params(transform, params))


@pytest.mark.parametrize(
    ("value", "years", "expected"),
    [
        pytest.param(dt.date(2024, 3, 4), 1, dt.date(2025, 3, 4), id="a date"),
        pytest.param(dt.date(2024, 2, 29), 1, dt.date(2025, 2, 28), id="29 Feb in a common year"),
        pytest.param(dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29), id="29 Feb in a leap year"),
        pytest.param("2024-02-29", 1, dt.date(2025, 2, 28), id="ISO date text"),
        pytest.param("2023-12-31T20:00:00+00:00", 1, dt.date(2025, 1, 1), id="time in Beijing"),
        pytest.param(None, 1, None, id="absent stays absent"),
    ],
)
def test_add_years_keeps_month_and_day(value: Any, years: int, expected: dt.date | None):
    assert _apply(add_years, value, years) == expected


def test_add_years_refuses_what_is_not_a_date():
    with pytest.raises(MessageRejected, match="not an ISO date"):
        _apply(add_years, "2024/03/04", 1)


_PARTS = {
    "separator": "；",
    "parts": {"fine": "罚款${fine}元"},
    "alongside": {"property": {"gains": "${name}"}},
    "default": "${name}",
}


def test_kind_parts_uses_the_alongside_template_only_when_the_other_kind_is_present():
    value = {"kinds": ["property", "gains"], "names": ["没收非法财物", "没收违法所得"]}
    assert _apply(kind_parts, value, _PARTS) == "没收非法财物；没收违法所得"
    value = {"kinds": ["fine"], "names": ["罚款"], "fine": "5.00"}
    assert _apply(kind_parts, value, _PARTS) == "罚款5.00元"


def test_kind_parts_refuses_a_part_whose_value_is_missing():
    with pytest.raises(MessageRejected, match="needs fine"):
        _apply(kind_parts, {"kinds": ["fine"], "names": ["罚款"], "fine": None}, _PARTS)


def test_kind_parts_refuses_a_kind_without_a_template():
    params = {"separator": ";", "parts": {"fine": "x"}}
    with pytest.raises(MessageRejected, match="no part template"):
        _apply(kind_parts, {"kinds": ["warning"]}, params)


def _result(index: int, status: str = "accepted") -> dict[str, Any]:
    return {"index": index, "status": status, "record_id": f"R{index}", "code": None}


def test_index_records_sorts_merges_and_fills_the_unmentioned_indices():
    value = {"total": 4, "records": [[_result(2)], [_result(0, "rejected")]]}
    assert _apply(index_records, value, "retry") == [
        _result(0, "rejected"),
        {"index": 1, "status": "retry", "record_id": None, "code": None},
        _result(2),
        {"index": 3, "status": "retry", "record_id": None, "code": None},
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param({"total": 2, "records": [[_result(2)]]}, "outside 0..1", id="out of range"),
        pytest.param({"total": 2, "records": [[_result(0)], [_result(0)]]}, "twice", id="twice"),
        pytest.param({"total": None, "records": []}, "no record count", id="no total"),
        pytest.param({"total": 1, "records": [{"index": "0"}]}, "whole-number", id="bad index"),
    ],
)
def test_index_records_refuses_results_that_cannot_be_matched_to_the_call(
    value: dict[str, Any], reason: str
):
    with pytest.raises(MessageRejected, match=reason):
        _apply(index_records, value)


def test_agree_gives_the_common_value_and_refuses_a_disagreement_without_showing_it():
    assert _apply(agree, ["A", None, "A"]) == "A"
    assert _apply(agree, [None, None]) is None
    with pytest.raises(MessageRejected) as caught:
        _apply(agree, ["350427197511203154", "350427197511203155"])
    assert "3504" not in str(caught.value)


def test_uscc_folds_and_checks_a_code():
    assert _apply(uscc, "９１３５０１００ma2y7k3f61") == "91350100MA2Y7K3F61"
    with pytest.raises(MessageRejected, match="uscc"):
        _apply(uscc, "91350100MA2Y7K3F62")
