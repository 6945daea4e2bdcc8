"""The two masked views of a canonical model: the publicity view and the log view.

- ``publicity_view``: what a publicity destination (公示) receives. A natural person's name keeps
  its first character and every further character becomes ``*`` (``张三`` → ``张*``); an ID number
  keeps its first 6 and last 4 characters (``350427********3154``). Organisations, their legal
  representatives and officers are not masked.
- ``log_view``: what may appear in a log, an audit record or a dead letter. Every L3 and L4 value
  is masked: ID numbers as in publicity, phones keep their first 3 and last 4 digits, anything
  else becomes ``***``.

Both take a validated model and return canonical JSON data; the model itself is not changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from schemas.base import CanonicalModel
from schemas.classes import DataClass, declared_class

__all__ = ["log_view", "mask_id_number", "mask_person_name", "mask_phone", "publicity_view"]

MASK = "***"


def mask_person_name(name: str) -> str:
    """``欧阳娜娜`` → ``欧***``: the first character, then one ``*`` per further character."""
    return name[:1] + "*" * (len(name) - 1)


def mask_id_number(number: str) -> str:
    """``350427197511203154`` → ``350427********3154``; short numbers are masked whole."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """``13705912468`` → ``137****2468``; short numbers are masked whole."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


_Masker = Callable[[BaseModel, str, Any, DataClass], Any]


def _masked(model: BaseModel, dumped: dict[str, Any], mask: _Masker) -> dict[str, Any]:
    level_of = model.field_class if isinstance(model, CanonicalModel) else None
    out = dict(dumped)
    for name, field in type(model).model_fields.items():
        key = field.serialization_alias or field.alias or name
        if key not in dumped:
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out[key] = _masked(value, dumped[key], mask)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            out[key] = [_masked(v, d, mask) for v, d in zip(value, dumped[key], strict=True)]
        elif dumped[key] is not None:
            level = level_of(name) if level_of else declared_class(type(model), name)
            out[key] = mask(model, name, dumped[key], level)
    return out


def _is_natural_person(model: BaseModel) -> bool:
    return getattr(model, "kind", None) == "natural_person" and hasattr(model, "id_number")


def _publicity_mask(model: BaseModel, name: str, value: Any, _level: DataClass) -> Any:
    if _is_natural_person(model) and isinstance(value, str):
        if name == "name":
            return mask_person_name(value)
        if name == "id_number":
            return mask_id_number(value)
    return value


def _log_mask(_model: BaseModel, name: str, value: Any, level: DataClass) -> Any:
    if level not in ("L3", "L4"):
        return value
    if not isinstance(value, str):
        return MASK
    if name == "id_number":
        return mask_id_number(value)
    if name == "phone":
        return mask_phone(value)
    return MASK


def publicity_view(model: BaseModel) -> dict[str, Any]:
    """Canonical JSON data of ``model`` with natural persons masked for publicity (公示)."""
    return _masked(model, model.model_dump(mode="json"), _publicity_mask)


def log_view(model: BaseModel) -> dict[str, Any]:
    """Canonical JSON data of ``model`` with every L3 and L4 value masked, safe to log."""
    return _masked(model, model.model_dump(mode="json"), _log_mask)
