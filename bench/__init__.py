"""Benchmarks with their floors, run by ``python -m bench`` (``make bench``).

- ``bench.pipeline``: (a) the in-process inbound pipeline against its floor, on the spec samples;
- ``bench.e2e``: (b) and (c), the runtime end to end on RabbitMQ and on the embedded broker;
- ``bench.celery_peer``: (d) the same workload through Celery 5;
- ``bench.source``, ``bench.sink``, ``bench.stats``: the harness (publish, receive, time);
- ``bench.report``, ``bench.machine``, ``bench.rabbit``: the figures, machine facts, the broker;
- ``bench.bus_throughput``, ``bench.bus_kombu_sqlalchemy``: bus-level relay baselines.

``bench/RESULTS.md`` holds the figures, the commands that produced them and what they mean.
"""
