"""Readable validation errors that never echo the rejected value.

pydantic's own ``str(ValidationError)`` prints each input, which may be an ID number or a phone
(L3). ``describe`` gives one line per error with the field path, the rule and pydantic's
message, and nothing of the input.
"""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe", "field_path"]


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("payload", "parties", 0, "uscc")`` → ``payload.parties[0].uscc``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(message)"


def describe(error: ValidationError) -> list[str]:
    """One ``field: message [rule]`` line per error, without the offending input."""
    return [
        f"{field_path(tuple(item['loc']))}: {item['msg']} [{item['type']}]"
        for item in error.errors(include_input=False, include_url=False)
    ]
