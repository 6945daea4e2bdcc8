"""Worker processes for the crash tests, run as
``python -m tests.runner.bus._crash_worker MODE URL QUEUE LOG BATCH_SIZE``.

- ``consume``: logs ``<message_id> <redelivered 0|1>`` for each message it processes (slowly)
  before its batch is acknowledged;
- ``publish``: publishes batches of BATCH_SIZE messages forever and logs each message id once
  ``publish`` returned (the broker confirmed it).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time

from runner.bus import ACK, Message, OutMessage, open_bus
from runner.bus.api import Disposition


def consume(url: str, queue: str, fd: int, batch_size: int) -> None:
    def process(batch: list[Message]) -> list[Disposition]:
        for message in batch:
            os.write(fd, f"{message.message_id} {int(message.redelivered)}\n".encode())
            time.sleep(0.001)  # the work; the parent kills us somewhere in here
        return [ACK] * len(batch)

    with open_bus(url) as bus:
        bus.consume(
            queue, process, batch_size=batch_size, batch_wait_s=0.01, stop=threading.Event()
        )


def publish(url: str, queue: str, fd: int, batch_size: int) -> None:
    with open_bus(url) as bus:
        for start in itertools.count(0, batch_size):
            ids = [f"p{i}" for i in range(start, start + batch_size)]
            bus.publish(queue, [OutMessage(b"y" * 256, message_id=i) for i in ids])
            os.write(fd, "".join(f"{i}\n" for i in ids).encode())


if __name__ == "__main__":
    mode, url, queue, log, batch_size = sys.argv[1:6]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    {"consume": consume, "publish": publish}[mode](url, queue, fd, int(batch_size))
