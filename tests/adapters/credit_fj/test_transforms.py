"""The transform credit_fj contributes (``kind_parts``)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.credit_fj.transforms import kind_parts
from runner.adapter_api import MessageRejected, Transform
from runner.mapping.transforms import validate_params


def _apply(transform: Transform, value: Any, params: Any = None) -> Any:
    return transform.fn(value, validate_params(transform, params))


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
