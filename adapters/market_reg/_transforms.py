"""The transform the market_reg mappings need that the shared library does not have.

``record_problem`` reads the marks ``prepare`` leaves on a line it could not read;
``SPEC.transforms`` lists it. Amounts as typed (``yuan_text``) and legal basis strings
(``legal_basis_list``) are shared transforms (``runner/mapping/transforms/``).
"""

from __future__ import annotations

from typing import Any

from runner.adapter_api import MessageRejected, Params, define_transform

__all__ = ["TRANSFORMS", "record_problem"]


@define_transform("record_problem")
def record_problem(value: Any, _: Params) -> Any:
    """Reject the record ``prepare`` marked as unreadable (``{reason, rule, field}``); pass
    null (a readable record)::

        vars:
          problem: {from: problem, transform: [record_problem]}
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("the record could not be read", rule="unreadable")
    raise MessageRejected(
        str(value.get("reason") or "the record could not be read"),
        field=str(value["field"]) if value.get("field") else None,
        rule=str(value.get("rule") or "unreadable"),
    )


TRANSFORMS = (record_problem,)
