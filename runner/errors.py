"""The error hierarchy of the bus. Retry and dead-letter decisions look only at these types.

::

    EbusError
    ├── ConfigError            a route, mapping or setting is wrong (lint reports these)
    ├── MessageRejected        a message cannot be decoded, mapped or validated: permanent,
    │                          dead-lettered with a reason naming system, message, field, rule
    └── DeliveryError          an outbound call failed
        ├── TransientError     worth retrying (timeouts, 5xx, 429); may carry retry_after
        └── PermanentError     retrying cannot help (4xx, a refused record)

Library exceptions (httpx, zeep, kombu, lxml) are translated into these at the adapter or
transport boundary, keeping the original as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DeliveryError",
    "EbusError",
    "MessageRejected",
    "PermanentError",
    "TransientError",
]


class EbusError(Exception):
    """Base of every error the bus raises on purpose."""


class ConfigError(EbusError):
    """A route, mapping, code table or setting is invalid."""


class MessageRejected(EbusError):
    """A message was refused: it goes to the dead-letter store and the next one is processed.

    ``str()`` reads ``eco_env get_case_list_response: payload.party.uscc: <why> [rule]``; the
    reason never holds an L3/L4 value.
    """

    def __init__(
        self,
        reason: str,
        *,
        system: str = "?",
        message: str = "?",
        field: str | None = None,
        rule: str = "invalid",
        source_message_id: str | None = None,
    ) -> None:
        self.reason = reason
        self.system = system
        self.message = message
        self.field = field
        self.rule = rule
        self.source_message_id = source_message_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.system} {self.message}"
        if self.source_message_id:
            where += f" [{self.source_message_id}]"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {field}{self.reason} [{self.rule}]"

    def located(self, *, system: str, message: str) -> MessageRejected:
        """The same rejection with the system and message filled in where they were unknown."""
        if self.system == "?":
            self.system = system
        if self.message == "?":
            self.message = message
        return self


class DeliveryError(EbusError):
    """An outbound call failed."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class TransientError(DeliveryError):
    """A failure worth retrying; ``retry_after`` is the wait in seconds the peer asked for."""

    def __init__(
        self, reason: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """A failure that retrying cannot fix: dead-letter after one attempt."""
