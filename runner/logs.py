"""Structured JSON logs (structlog), with L3/L4 values masked as a last line of defence.

Code logs ids, codes and counts, never payloads; should a value that looks like a resident ID
number or a mobile phone reach a log call anyway, ``mask_personal_data`` masks it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "get_logger", "mask_personal_data"]

_ID_NUMBER = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")


def _mask(text: str) -> str:
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _MOBILE.sub(r"\1****\2", text)


def mask_personal_data(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask ID numbers and mobile phones in every string value."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = _mask(value)
    return event


def _stderr_logger(*_args: Any) -> Any:
    # Looked up at each use: whoever replaced sys.stderr since (a test runner's capture, a
    # daemon's redirection) gets the lines, and a closed former stream is never written to.
    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (the current stderr by default), one event per line, ISO
    timestamps."""
    logging.basicConfig(stream=stream or sys.stderr, level=level, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            mask_personal_data,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream) if stream else _stderr_logger,
        cache_logger_on_first_use=stream is not None,
    )


def get_logger(name: str) -> Any:
    """A bound structlog logger named ``name``."""
    return structlog.get_logger(name)
