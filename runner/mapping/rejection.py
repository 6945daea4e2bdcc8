"""A pydantic validation failure as the ``MessageRejected`` that names its field and rule.

Used wherever canonical data is validated: the inbound mappings and the route steps that change
an envelope (``runner.engine.plan.revalidate``)::

    try:
        payload = PAYLOADS[name].model_validate(data)
    except ValidationError as exc:
        raise validation_rejection(exc, "payload") from None
"""

from __future__ import annotations

from pydantic import ValidationError

from runner.errors import MessageRejected
from schemas import describe

__all__ = ["validation_rejection"]


def validation_rejection(error: ValidationError, prefix: str) -> MessageRejected:
    """The first validation error as a rejection naming the field and the rule.

    ``prefix`` is put before the field path (``"payload"`` gives ``payload.party.name``); an
    empty prefix leaves the path as it is. A required value that came out null (a source field
    absent) is rule ``required``, not pydantic's type error. The input itself never reaches the
    reason (it may be L3 data).
    """
    first = error.errors(include_url=False)[0]
    line = describe(error)[0]
    path, _, rest = line.partition(": ")
    reason, _, _ = rest.rpartition(" [")
    rule = str(first["type"])
    if first.get("input") is None and rule.endswith("_type"):
        rule, reason = "required", "a required value is missing"
    field_path = f"{prefix}.{path}" if prefix and path != "(message)" else (prefix or path)
    more = len(error.errors()) - 1
    if more:
        reason += f" (and {more} more error{'s' * (more > 1)})"
    return MessageRejected(reason, field=field_path, rule=rule)
