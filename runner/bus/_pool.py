"""A pool of connections for threads that come and go (a webhook server's request threads).

A connection is checked out for one operation and checked in after it; one that failed is
discarded instead. So the number of open connections follows the peak concurrency, not the
number of threads that ever published.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from runner.bus.api import BusError

__all__ = ["Pool"]

_C = TypeVar("_C")


class Pool(Generic[_C]):
    """Idle connections made by ``connect`` and closed by ``close``."""

    def __init__(self, connect: Callable[[], _C], close: Callable[[_C], None]) -> None:
        self._connect = connect
        self._close = close
        self._idle: list[_C] = []
        self._lock = threading.Lock()
        self.closed = False

    @contextmanager
    def connection(self) -> Iterator[_C]:
        """An idle or new connection, returned to the pool unless the block raised."""
        with self._lock:
            if self.closed:
                raise BusError("the bus is closed")
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        except BaseException:
            self._close(connection)
            raise
        with self._lock:
            if not self.closed:
                self._idle.append(connection)
                return
        self._close(connection)

    def clear(self) -> None:
        """Close the idle connections (after one failed, the others are likely dead too)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            self._close(connection)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            self._close(connection)
