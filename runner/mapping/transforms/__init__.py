"""The library of named transforms that mapping rules apply to selected values.

A transform is a function ``(value, params) -> value`` registered under a name with a pydantic
model for its parameters, so that lint can check a mapping's use of it. In YAML a transform is
its name (``wan_yuan``) or a one-key mapping with its parameters
(``{datetime: {formats: ["%Y/%m/%d %H:%M:%S"]}}``; a bare value stands for the first
parameter: ``{split: "[;；]"}``).

``None`` flows through every transform untouched (absent stays absent) except the ones that
exist to produce a value from nothing (``default``). A transform that cannot apply raises
``MessageRejected`` with its rule; the mapping adds the system, message and field.
"""

from __future__ import annotations

# isort: off
# Imported in this order so that TRANSFORMS keeps the order the transforms were defined in.
from runner.mapping.transforms import text  # noqa: F401
from runner.mapping.transforms import lists  # noqa: F401
from runner.mapping.transforms import scalars  # noqa: F401
from runner.mapping.transforms import money  # noqa: F401
from runner.mapping.transforms import dates  # noqa: F401
from runner.mapping.transforms import identifiers  # noqa: F401
from runner.mapping.transforms import checks  # noqa: F401
from runner.mapping.transforms import amounts  # noqa: F401
from runner.mapping.transforms import objects  # noqa: F401
from runner.mapping.transforms import date_arithmetic  # noqa: F401

# isort: on
from runner.mapping.transforms._base import (
    TRANSFORMS,
    NoParams,
    Params,
    Transform,
    TransformFn,
    define,
    get_transform,
    validate_params,
)

__all__ = [
    "TRANSFORMS",
    "NoParams",
    "Params",
    "Transform",
    "TransformFn",
    "define",
    "get_transform",
    "validate_params",
]
