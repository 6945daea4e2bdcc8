"""Routes that start from a canonical feed: canonical data made by one route reaches the
outbound call of another, on both buses; and the loader refuses what cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters._testkit import SinkServer, kit_registry, make_subject
from adapters._transports.http import http_connector
from runner.adapter_api import RawMessage
from runner.bus.topology import delivery_queue, inbound_queue, route_queue
from runner.engine.codec import encode_raw
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from tests.runner.engine.conftest import wait_for
from tests.services import delete_named_queues

FEED_ROUTE = """\
id: {route_id}-from-feed
description: Decisions of the kit's feed, delivered from the feed rather than from the kit.
from: {{feed: enforcement.penalty_decision.v1}}
steps:
  - filter: "source_system == '{system}'"        # a shared broker carries other tests' feeds
  - filter: "payload.fine_amount_yuan != '0.00'"
to:
  - system: {system}
    message: deliver
    retry: {{attempts: 3, initial: 200ms, max_delay: 1s}}
"""


def _feed_only(config_root: Path, route_id: str, system: str) -> None:
    """Keep the kit's inbound route but let it send to the feed only; add the feed route."""
    route = config_root / "routes" / f"{route_id}.yaml"
    text = route.read_text(encoding="utf-8")
    route.write_text(text.split("  - system:")[0], encoding="utf-8")
    (config_root / "routes" / f"{route_id}-from-feed.yaml").write_text(
        FEED_ROUTE.format(route_id=route_id, system=system), encoding="utf-8"
    )


def test_a_feed_route_delivers_what_another_route_published(
    config_root: Path, settings: Settings, sink: SinkServer, route_id: str, system: str
) -> None:
    _feed_only(config_root, route_id, system)
    project = load_project(config_root, kit_registry(http_connector(system), system))
    assert project.issues == []
    services = Services.open(project, settings)
    runtime = Runtime(services)
    try:
        runtime.prepare()
        assert len(runtime.feeds) == 1
        services.bus.publish(
            inbound_queue(system, "subject"),
            [encode_raw(system, "subject", RawMessage(make_subject(n))) for n in range(20)],
        )
        runtime.start()
        wait_for(lambda: len(sink.stored) == 20)
        for message_id in sink.stored:  # every delivery went through the feed route
            routed = [r for r in services.audit.trace(message_id) if r.kind == "routed"]
            assert [r.detail["to"] for r in routed] == [[f"{route_id}-from-feed/{system}-deliver"]]
    finally:
        runtime.shutdown()
        services.close()
        if settings.bus.startswith("amqp"):  # the feed-bound queue would collect later feeds
            feed_route = f"{route_id}-from-feed"
            delete_named_queues(
                [route_queue(feed_route), delivery_queue(feed_route, f"{system}-deliver")]
            )


@pytest.mark.parametrize(
    ("source", "to", "rule"),
    [
        ("{feed: enforcement.no_such.v1}", "- {system: SYS, message: deliver}", "unknown_feed"),
        (
            "{feed: enforcement.penalty_decision.v1}",
            "- {feed: enforcement.penalty_decision.v1}",
            "value_error",
        ),
        (
            "{feed: enforcement.penalty_decision.v1, system: SYS, message: subject}",
            "- {system: SYS, message: deliver}",
            "value_error",
        ),
        ("{feed: enforcement.case.v1}", "- {system: SYS, message: deliver}", "wrong_schema"),
    ],
)
def test_the_loader_refuses_feed_routes_that_cannot_run(
    config_root: Path, system: str, source: str, to: str, rule: str
) -> None:
    (config_root / "routes" / "bad.yaml").write_text(
        f"id: bad\nfrom: {source}\nto:\n  {to}\n".replace("SYS", system), encoding="utf-8"
    )
    project = load_project(config_root, kit_registry(None, system))
    assert [issue.code for issue in project.issues] == [rule]
    assert "bad" not in project.routes
