"""The transform registry: parameter models, ``Transform``, registration and shared helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from runner.errors import MessageRejected

TransformFn = Callable[[Any, Any], Any]


class Params(BaseModel):
    """Base of transform parameter models: closed, so a misspelt parameter is a lint error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """The transform takes no parameters."""


@dataclass(frozen=True)
class Transform:
    """A registered transform: its function, its parameter model and the first parameter's name
    (what a bare value in ``{name: value}`` stands for)."""

    name: str
    fn: TransformFn
    params: type[Params]
    primary: str | None
    doc: str


TRANSFORMS: dict[str, Transform] = {}


def define(
    name: str, params: type[Params] = NoParams, primary: str | None = None
) -> Callable[[TransformFn], Transform]:
    """Make ``fn`` a transform called ``name``; an adapter lists such transforms in its spec."""

    def wrap(fn: TransformFn) -> Transform:
        return Transform(name, fn, params, primary, (fn.__doc__ or "").strip())

    return wrap


def register(
    name: str, params: type[Params] = NoParams, primary: str | None = None
) -> Callable[[TransformFn], TransformFn]:
    """Add ``fn`` to the shared library as transform ``name`` (for the modules of this
    package only)."""

    def wrap(fn: TransformFn) -> TransformFn:
        TRANSFORMS[name] = define(name, params, primary)(fn)
        return fn

    return wrap


def get_transform(name: str) -> Transform:
    """The transform called ``name``; ``KeyError`` when there is none."""
    return TRANSFORMS[name]


def _reject(reason: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, rule=rule)


def _money(convert: Callable[[Any], Decimal], value: Any) -> Decimal:
    try:
        return convert(value)
    except PydanticCustomError as exc:
        raise _reject(exc.message(), exc.type) from None


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_params(transform: Transform, raw: Any) -> Params:
    """Build the parameter model of ``transform`` from YAML (a bare value means the primary)."""
    if raw is None:
        raw = {}
    elif not isinstance(raw, dict) or (
        transform.primary
        and transform.primary not in raw
        and not set(raw) <= set(transform.params.model_fields)
    ):
        if transform.primary is None:
            raise ValueError(f"transform '{transform.name}' takes named parameters")
        raw = {transform.primary: raw}
    try:
        return transform.params.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"transform '{transform.name}' parameter {loc}: {first['msg']}") from None
