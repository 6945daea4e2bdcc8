"""Shared by both backends: run a handler on a batch and sort the dispositions it returns."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from runner.bus.api import (
    DEAD_QUEUE_HEADER,
    DEAD_REASON_HEADER,
    RETRIES_HEADER,
    Ack,
    Handler,
    Message,
    OutMessage,
    Reject,
    Requeue,
    check_delay,
)

__all__ = ["Settlement", "dead_copy", "requeue_copy", "settle"]


@dataclass
class Settlement:
    """A batch's dispositions, grouped the way a backend applies them."""

    acks: list[Message] = field(default_factory=list)
    rejects: list[tuple[Message, str]] = field(default_factory=list)
    requeues: dict[float, list[Message]] = field(default_factory=lambda: defaultdict(list))


def settle(handler: Handler, batch: list[Message]) -> Settlement:
    """Call ``handler`` on ``batch``; a wrong result raises ``TypeError`` or ``ValueError``."""
    dispositions = handler(batch)
    if len(dispositions) != len(batch):
        raise ValueError(f"handler returned {len(dispositions)} dispositions for {len(batch)}")
    result = Settlement()
    for message, disposition in zip(batch, dispositions, strict=True):
        match disposition:
            case Ack():
                result.acks.append(message)
            case Reject(reason):
                result.rejects.append((message, reason))
            case Requeue(delay_s):
                result.requeues[check_delay(delay_s)].append(message)
            case _:
                raise TypeError(f"not a disposition: {disposition!r}")
    return result


def requeue_copy(message: Message) -> OutMessage:
    """The message to store for a ``Requeue``: its retry count goes up by one."""
    retries = message.headers.get(RETRIES_HEADER)
    return message.forward(**{RETRIES_HEADER: (retries if isinstance(retries, int) else 0) + 1})


def dead_copy(message: Message, reason: str) -> OutMessage:
    """The message to store in the dead-letter queue, with the reason and the origin queue."""
    return message.forward(**{DEAD_REASON_HEADER: reason, DEAD_QUEUE_HEADER: message.queue})
