"""Children for the supervisor tests: module-level, so a spawned process can import them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from runner.engine.processes import Share


def note_and_wait(directory: Path, share: Share, stop: threading.Event) -> None:
    """Write ``<index>-<pid>.started`` in ``directory``, wait for ``stop``, then write
    ``<index>-<pid>.stopped``."""
    name = f"{share.index}-{os.getpid()}"
    (directory / f"{name}.started").write_text(str(share.count))
    stop.wait()
    (directory / f"{name}.stopped").write_text("")
