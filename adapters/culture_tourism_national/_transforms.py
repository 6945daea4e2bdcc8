"""The transform only culture_tourism_national's mappings need (``SPEC.transforms``); W1
业务类别 uses the shared ``code_or_default`` ("no entry or any other law" is ``99`` 其他).

- ``measure_codes``: the ``measures`` of a blacklist entry (W11): codes separated by ``;``,
  ``；``, ``,`` or ``，`` (quirk 6), trimmed, folded to half-width, upper-cased, repeats dropped;
  an absent or empty list is refused (``measures`` is required for ``A``/``U``)::

      measures: {from: measures, transform: [null_words, measure_codes, {per_item: [{codes: …}]}]}
"""

from __future__ import annotations

import re
from typing import Any

from runner.adapter_api import MessageRejected, NoParams, Transform, define_transform
from schemas.text import fold_width, normalize_text

__all__ = ["TRANSFORMS", "measure_codes"]

_SEPARATORS = re.compile(r"[;；,，]")


@define_transform("measure_codes")
def measure_codes(value: Any, _: NoParams) -> Any:
    """Split a W11 measure list on ``; ； , ，`` into half-width upper-case codes, no repeats."""
    if isinstance(value, list):
        parts = [str(v) for v in value]
    else:
        parts = _SEPARATORS.split(str(value)) if value is not None else []
    codes: list[str] = []
    for part in parts:
        code = fold_width(normalize_text(part)).upper()
        if code and code not in codes:
            codes.append(code)
    if not codes:
        raise MessageRejected("an entry that lists or updates needs its measures", rule="required")
    return codes


TRANSFORMS: tuple[Transform, ...] = (measure_codes,)
"""The transforms of ``SPEC.transforms``."""
