"""The transform of the market_reg mappings: a record ``prepare`` could not read."""

from __future__ import annotations

import pytest

from adapters.market_reg._transforms import record_problem
from runner.adapter_api import MessageRejected, NoParams

NO = NoParams()


def test_a_marked_record_is_rejected_with_its_rule_and_a_readable_one_passes():
    assert record_problem.fn(None, NO) is None
    with pytest.raises(MessageRejected) as caught:
        record_problem.fn({"reason": "line 3: x", "rule": "not_an_object", "field": None}, NO)
    assert (caught.value.rule, caught.value.reason) == ("not_an_object", "line 3: x")
