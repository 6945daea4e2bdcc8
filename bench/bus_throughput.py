"""Throughput and latency of a bus relay: consume -> publish with confirm -> ack.

This is the shape of a route worker: take a batch from one queue, publish it durably to the
next, acknowledge the batch. ``measure`` pre-fills a source queue with ``n`` messages, times the
relay of all of them to a destination queue, and checks that all ``n`` arrived there.

- msgs_per_s: ``n`` / the time the relay took;
- p50_ms, p99_ms: per message, from the handler receiving it to ``publish`` returning with the
  broker's confirm (the durable hop). Not included: the batch wait before the handler (at most
  5 ms batched, none naive) and the ack after it (asynchronous on RabbitMQ, one commit on the
  embedded broker).

Variants: ``batched`` (batches of 100, one confirm wait per batch, one multiple ack per batch),
``naive`` (the same bus with batches of 1: confirm per publish, ack per message: the floor),
and, for RabbitMQ, ``kombu-naive``: a plain kombu Consumer + Producer with ``confirm_publish``.

Run: ``.venv/bin/python -m bench.bus_throughput [--n 5000] [--size 1024] [URL ...]``
(default: the local RabbitMQ and an embedded broker in a temporary directory).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue

from runner.bus import ACK, Bus, Message, OutMessage, QueueSpec, Topology, open_bus
from runner.bus.api import Disposition

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"

Relay = Callable[[Bus, str, str, int, list[float]], None]


def measure(
    url: str, n: int = 5000, size: int = 1024, *, naive: bool = False, batch_size: int = 100
) -> dict[str, float]:
    """Relay ``n`` messages of ``size`` bytes through the bus at ``url``; see the module doc."""

    def relay(bus: Bus, source: str, target: str, count: int, latencies: list[float]) -> None:
        stop, relayed = threading.Event(), 0

        def handler(batch: list[Message]) -> list[Disposition]:
            nonlocal relayed
            received = time.perf_counter()
            bus.publish(target, [m.forward() for m in batch])
            latencies.extend([(time.perf_counter() - received) * 1000] * len(batch))
            relayed += len(batch)
            if relayed >= count:
                stop.set()
            return [ACK] * len(batch)

        size_ = 1 if naive else batch_size
        bus.consume(
            source, handler, batch_size=size_, batch_wait_s=0 if naive else 0.005, stop=stop
        )

    return _run(url, n, size, relay)


def measure_kombu_naive(url: str = AMQP_URL, n: int = 5000, size: int = 1024) -> dict[str, float]:
    """The same relay written the plain kombu way: confirm per publish, ack per message."""

    def relay(_: Bus, source: str, target: str, count: int, latencies: list[float]) -> None:
        exchange = Exchange("", type="direct")
        # two connections: confirm waits on a consuming connection dispatch deliveries re-entrantly
        with (
            Connection(url) as connection,
            Connection(url, transport_options={"confirm_publish": True}) as publishing,
        ):
            producer = Producer(publishing.channel(), exchange=exchange)
            relayed = 0

            def on_message(body: Any, message: Any) -> None:
                nonlocal relayed
                received = time.perf_counter()
                producer.publish(body, routing_key=target, delivery_mode=2)
                latencies.append((time.perf_counter() - received) * 1000)
                message.ack()
                relayed += 1

            queue = Queue(source, exchange, routing_key=source, no_declare=True)
            with Consumer(connection.channel(), queues=[queue], callbacks=[on_message]):
                while relayed < count:
                    connection.drain_events(timeout=10)

    return _run(url, n, size, relay)


def _run(url: str, n: int, size: int, relay: Relay) -> dict[str, float]:
    with open_bus(url) as bus, _queues(bus, url) as (source, target):
        body = b"x" * size
        for start in range(0, n, 500):
            batch = [
                OutMessage(body, message_id=f"b{i}") for i in range(start, min(n, start + 500))
            ]
            bus.publish(source, batch)
        latencies: list[float] = []
        started = time.perf_counter()
        relay(bus, source, target, n, latencies)
        elapsed = time.perf_counter() - started
        if bus.depth(target) != n:
            raise AssertionError(f"{bus.depth(target)} of {n} messages arrived")
    cuts = statistics.quantiles(latencies, n=100)
    return {"n": n, "msgs_per_s": n / elapsed, "p50_ms": cuts[49], "p99_ms": cuts[98]}


@contextmanager
def _queues(bus: Bus, url: str) -> Iterator[tuple[str, str]]:
    prefix = f"bench.{uuid.uuid4().hex[:8]}"
    source, target = f"{prefix}.source", f"{prefix}.target"
    bus.declare(Topology(queues=(QueueSpec(source), QueueSpec(target))))
    try:
        yield source, target
    finally:
        if url.startswith("amqp"):
            with Connection(url) as connection:
                channel = connection.channel()
                for queue in (source, target, f"{source}.dead", f"{target}.dead"):
                    channel.queue_delete(queue)


def main() -> None:
    """Print a table of every variant for each URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("urls", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.urls or [AMQP_URL, f"sqlite:///{tmp}/bench.db"]
        print(f"{'backend':10} {'variant':12} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for url in urls:
            runs: list[tuple[str, Callable[[], dict[str, float]]]] = [
                ("batched", lambda u=url: measure(u, args.n, args.size)),
                ("naive", lambda u=url: measure(u, args.n, args.size, naive=True)),
            ]
            if url.startswith("amqp"):
                runs.append(
                    ("kombu-naive", lambda u=url: measure_kombu_naive(u, args.n, args.size))
                )
            for variant, run in runs:
                r = run()
                backend = url.partition(":")[0]
                print(
                    f"{backend:10} {variant:12} {r['msgs_per_s']:9.0f}"
                    f" {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
