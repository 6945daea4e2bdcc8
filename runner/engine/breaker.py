"""A circuit breaker per destination: stop calling a system that keeps failing, for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Opens after ``failures`` transient failures in a row; after ``cooldown`` seconds one call
    is let through (half-open): its success closes the breaker, its failure opens it again."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._count = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def wait_s(self) -> float:
        """Seconds until a call may be made (0 when the breaker lets one through now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            remaining = self._opened_at + self.cooldown - self._clock()
            return max(0.0, remaining)

    @property
    def is_open(self) -> bool:
        """True while calls are held back."""
        return self.wait_s() > 0

    def success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._count = 0
            self._opened_at = None

    def failure(self) -> None:
        """A call failed transiently: count it, and open (again) when the limit is reached."""
        with self._lock:
            self._count += 1
            if self._count >= self.failures:
                self._opened_at = self._clock()
