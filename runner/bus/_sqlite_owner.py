"""Lease owners of the embedded broker, alive exactly as long as their process.

A lease is not timed: a message leased to a consumer stays leased while that consumer's process
lives, however slow the handler, so a slow destination is never processed twice at once. Each
owner holds an exclusive ``flock`` on ``<db>.owners/<token>.lock``; the kernel drops it when the
process ends in any way, SIGKILL included. Whoever can take that lock knows the owner is dead and
returns its messages to their queues (as redeliveries).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path

__all__ = ["OwnerLock", "owner_is_dead"]


class OwnerLock:
    """This process's lease-owner token, kept alive by a held lock file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.token = f"{os.getpid()}-{uuid.uuid4().hex}"
        self._path = _lock_path(directory, self.token)
        self._fd: int | None = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        """Remove the lock file and drop the lock. Idempotent."""
        if self._fd is None:
            return
        self._path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def owner_is_dead(directory: Path, token: str) -> bool:
    """Whether ``token``'s process has ended (its lock file is gone or not locked)."""
    path = _lock_path(directory, token)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    return True


def _lock_path(directory: Path, token: str) -> Path:
    return directory / f"{token}.lock"
