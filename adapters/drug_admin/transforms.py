"""Transforms only drug_admin's mappings need (listed in ``SPEC.transforms``).

- ``absent``: README §3's value rule for every inbound leaf — the text ``null`` in any case
  (``null``, ``NULL``, ``Null`` …) is an absent value, like an empty or white-space-only one
  (those are already absent for every mapping). Candidate for the shared ``null_words``: a
  ``case_insensitive`` parameter would cover it.
- ``non_empty``: an empty list is absent, so that ``required: true`` rejects a record whose
  repeated element must occur at least once (``IllegalBasis/Basis``, README §3.2).

Example::

    address: {from: Address, transform: [absent]}
    legal_basis: {each: IllegalBasis/Basis, fields: {...}, transform: [non_empty], required: true}
"""

from __future__ import annotations

from typing import Any

from runner.adapter_api import NoParams, Transform, define_transform

__all__ = ["TRANSFORMS", "absent", "non_empty"]


@define_transform("absent")
def absent(value: Any, _: NoParams) -> Any:
    """The text ``null`` in any case (and empty or white-space-only text) is absent."""
    if isinstance(value, str) and (not value.strip() or value.strip().lower() == "null"):
        return None
    return value


@define_transform("non_empty")
def non_empty(value: Any, _: NoParams) -> Any:
    """An empty list is absent (for ``required: true`` on a list that needs an item)."""
    if isinstance(value, list) and not value:
        return None
    return value


TRANSFORMS: tuple[Transform, ...] = (absent, non_empty)
"""The transforms of ``SPEC.transforms``."""
