"""Where the interface specifications of the 15 systems are (``shared/specs`` beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SpecsNotFoundError", "specs_dir"]

_REPO = Path(__file__).resolve().parent.parent


class SpecsNotFoundError(FileNotFoundError):
    """The specs directory is missing: set EBUS_SPECS or check out shared/ beside the repo."""


def specs_dir() -> Path:
    """``$EBUS_SPECS``, else ``../shared/specs`` next to the repository."""
    path = Path(os.environ.get("EBUS_SPECS") or _REPO.parent / "shared" / "specs")
    if not (path / "canonical.md").is_file():
        raise SpecsNotFoundError(
            f"interface specifications not found at {path} (no canonical.md); "
            "set EBUS_SPECS to the specs directory"
        )
    return path
