"""The bus process: every worker of the compiled routes on threads, until told to stop.

One thread per inbound queue (mapping and fan-out), one per destination queue (delivery, so a
slow destination only delays itself), one per polled system, and the day archive's when a
connected batch job reads a day (``runner.engine.archive``). ``ebus run`` starts this; run as
many processes as needed on RabbitMQ: they compete for the same queues. ``ebus run
--processes N`` runs N of them on one machine, each with its ``Share`` of the queues
(``runner.engine.processes``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from runner.adapter_api import processes_sharing_limits
from runner.batch.scheduler import BatchScheduler, batch_scheduler
from runner.bus import Handler
from runner.bus.topology import inbound_queue, route_queue
from runner.engine.archive import ArchiveWorker, archive_worker
from runner.engine.delivery import DeliveryWorker
from runner.engine.feeds import FeedRouteWorker
from runner.engine.inbound import InboundWorker
from runner.engine.lookups import LookupWorker
from runner.engine.plan import RoutePlan, build_feed_plans, build_plans, topology_of
from runner.engine.polling import Poller
from runner.engine.processes import Share
from runner.engine.services import Services
from runner.engine.webhooks import WebhookServer
from runner.logs import get_logger
from runner.transfers.worker import TransferLoops, transfer_loops

__all__ = ["Runtime"]

log = get_logger("ebus.runtime")


@dataclass
class Runtime:
    """The workers of one process over shared services."""

    services: Services
    batch_size: int = 100
    batch_wait_s: float = 0.02
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    inbound: dict[str, InboundWorker] = field(default_factory=dict)
    delivery: dict[str, DeliveryWorker] = field(default_factory=dict)
    lookups: dict[str, LookupWorker] = field(default_factory=dict)
    pollers: dict[str, Poller] = field(default_factory=dict)
    feeds: dict[str, FeedRouteWorker] = field(default_factory=dict)
    webhook: WebhookServer | None = None
    batch: BatchScheduler | None = None
    transfers: TransferLoops | None = None
    archive: ArchiveWorker | None = None
    share: Share = field(default_factory=Share)
    """This process's part when ``ebus run --processes N`` shares the work (all of it alone)."""
    _single_active: set[str] = field(default_factory=set)

    def prepare(self) -> None:
        """Compile the plans, declare the topology and build the workers (no thread yet)."""
        plans = build_plans(self.services.project)
        feed_plans = build_feed_plans(self.services.project)
        topology = topology_of(plans, feed_plans)
        self.services.bus.declare(topology)
        self._single_active = {q.name for q in topology.queues if q.single_active}
        connected = set(self.services.settings.systems)
        singletons = self.share.runs_singletons
        if singletons:
            self.batch = batch_scheduler(self.services)
            self.transfers = transfer_loops(self.services)
            self.archive = archive_worker(self.services)  # only when a connected job reads a day
        if self.archive is not None:
            self.archive.declare()
        for plan in feed_plans:
            self.feeds[route_queue(plan.route.id)] = FeedRouteWorker(self.services, plan)
            self._add_deliveries(plan, connected)
        if singletons and self.services.settings.webhook is not None:
            server = WebhookServer(self.services, routed=set(plans))
            if server.endpoints:
                self.webhook = server
            else:
                server.stop()
        for (system, message), route_plans in plans.items():
            queue = inbound_queue(system, message)
            self.inbound[queue] = InboundWorker(self.services, system, message, route_plans)
            for plan in route_plans:
                self._add_deliveries(plan, connected)
            adapter = self.services.project.registry.get(system)
            if (
                singletons
                and self.services.settings.poll
                and adapter.poll is not None
                and system in connected
                and system not in self.pollers
            ):
                interval = float(getattr(self.services.config(system), "poll_interval_s", 60))
                self.pollers[system] = Poller(self.services, system, interval)

    def _add_deliveries(self, plan: RoutePlan, connected: set[str]) -> None:
        for lookup in plan.lookups:  # an enrich step: a worker of its own, like a destination
            if lookup.spec.system in connected:
                self.lookups[lookup.queue] = LookupWorker(self.services, plan, lookup)
            else:
                log.warning("lookup system not configured: its messages wait", queue=lookup.queue)
        for destination in plan.destinations:
            if destination.queue is None:
                continue
            if destination.destination.system not in connected:
                log.warning(
                    "destination not configured: its messages wait",
                    route=plan.route.id,
                    destination=destination.key,
                )
                continue
            self.delivery[destination.queue] = DeliveryWorker(self.services, destination)

    def start(self) -> None:
        """Start every worker thread."""
        if not (self.inbound or self.delivery or self.feeds or self.lookups):
            self.prepare()
        workers: dict[str, Handler] = {
            **self.inbound,
            **self.feeds,
            **self.lookups,
            **self.delivery,
        }
        mine = self.share.queues(workers, self._single_active)
        for queue, worker in workers.items():
            if queue in mine:
                self._spawn(f"consume {queue}", self._consumer(queue, worker))
        for system, poller in self.pollers.items():
            self._spawn(f"poll {system}", self._polling(poller))
        if self.webhook is not None:
            self.webhook.start()
        if self.batch is not None:
            self._spawn("batch scheduler", functools.partial(self.batch.run, self.stop))
        for name, target in self.transfers.threads(self.stop) if self.transfers else ():
            self._spawn(name, target)
        if self.archive is not None:
            for name, target in self.archive.threads(self.stop, self.batch_size, self.batch_wait_s):
                self._spawn(name, target)
        log.info(
            "running",
            process=self.share.index,
            limits_shared_by=processes_sharing_limits(),
            consumed=len(mine),
            inbound=len(self.inbound),
            feed_routes=len(self.feeds),
            delivery=len(self.delivery),
            pollers=len(self.pollers),
        )

    def _consumer(self, queue: str, handler: Handler) -> Callable[[], None]:
        def consume() -> None:
            self.services.bus.consume(
                queue,
                handler,
                batch_size=self.batch_size,
                batch_wait_s=self.batch_wait_s,
                stop=self.stop,
            )

        return consume

    def _polling(self, poller: Poller) -> Callable[[], None]:
        return lambda: poller.run(self.stop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            while not self.stop.is_set():
                try:
                    target()
                    return
                except Exception as exc:  # a worker must not die silently: log, back off, resume
                    self.errors.append(exc)
                    with contextlib.suppress(Exception):  # not even when logging itself fails
                        log.error(
                            "worker failed, restarting",
                            worker=name,
                            error=f"{type(exc).__name__}: {str(exc)[:300]}",
                        )
                    self.stop.wait(1.0)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every worker and wait for them (unsettled messages return to their queues)."""
        self.stop.set()
        if self.webhook is not None:
            self.webhook.stop()
        for thread in self.threads:
            thread.join(timeout=timeout_s)
