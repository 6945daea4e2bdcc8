"""Text normalisation of the canonical contract: NFC, trimmed, full-width ASCII folded.

Every canonical string is NFC-normalised Unicode with surrounding white space trimmed
(``normalize_text``); identifiers additionally have full-width ASCII letters and digits folded to
half-width (``fold_width``), because sources typed on Chinese input methods send ``９１３５…``.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Text", "fold_width", "normalize_text"]

_FULL_WIDTH_OFFSET = 0xFEE0  # U+FF01..U+FF5E are U+0021..U+007E shifted by this much
_WIDTH_TABLE = {cp: cp - _FULL_WIDTH_OFFSET for cp in range(0xFF01, 0xFF5F)}
_WIDTH_TABLE[0x3000] = 0x20  # ideographic space


def normalize_text(value: str) -> str:
    """NFC-normalise ``value`` and trim surrounding white space (including U+3000)."""
    return unicodedata.normalize("NFC", value).strip()


def fold_width(value: str) -> str:
    """Fold full-width ASCII (``ＡＢＣ１２３``) and the ideographic space to half-width."""
    return value.translate(_WIDTH_TABLE)


def _normalize_if_str(value: Any) -> Any:
    # Non-strings pass through untouched so that strict validation reports the wrong type.
    return normalize_text(value) if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_normalize_if_str)]
"""A canonical string: NFC, trimmed. Use it for every free-text field."""
