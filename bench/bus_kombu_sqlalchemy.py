"""Baseline: kombu's stock SQLAlchemy transport on SQLite (publish, consume and ack N messages).

This is the number the embedded backend of ``runner.bus`` has to beat. Run::

    .venv/bin/python -m bench.bus_kombu_sqlalchemy [n] [size]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue


def measure(n: int = 2000, size: int = 1024) -> dict[str, float]:
    """Publish ``n`` persistent messages of ``size`` bytes, then consume and ack them all."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqla+sqlite:///{Path(tmp) / 'kombu.db'}"
        with Connection(url) as conn:
            # set on the transport: the stock transport passes every transport option to
            # create_engine(), which refuses ``polling_interval``
            conn.transport.polling_interval = 0.01
            exchange = Exchange("bench", type="direct", durable=True)
            queue = Queue("bench", exchange, routing_key="bench", durable=True)
            channel = conn.channel()
            queue(channel).declare()
            producer = Producer(channel, exchange=exchange, routing_key="bench")
            body = b"x" * size
            t0 = time.perf_counter()
            for _ in range(n):
                producer.publish(body, delivery_mode=2, content_type="application/octet-stream")
            t1 = time.perf_counter()
            seen = 0

            def on_message(_body: Any, message: Any) -> None:
                nonlocal seen
                message.ack()
                seen += 1

            with Consumer(channel, queues=[queue], callbacks=[on_message]):
                while seen < n:
                    conn.drain_events(timeout=5)
            t2 = time.perf_counter()
    return {
        "n": n,
        "publish_msgs_per_s": n / (t1 - t0),
        "consume_ack_msgs_per_s": n / (t2 - t1),
        "end_to_end_msgs_per_s": n / (t2 - t0),
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(measure(*args))
