"""Pure functions of the bus: names, topic matching, topology checks, targets, delays."""

from __future__ import annotations

import pytest

from runner.bus import (
    ACK,
    Binding,
    Exchange,
    Message,
    OutMessage,
    QueueSpec,
    Requeue,
    Topology,
    delivery_queue,
    feed_binding,
    inbound_queue,
    parse_target,
    route_queue,
)
from runner.bus._amqp import delay_bucket
from runner.bus._settle import settle
from runner.bus.topology import topic_matches
from runner.errors import ConfigError


def test_queue_names_follow_the_naming_scheme() -> None:
    assert inbound_queue("eco_env", "get_penalty_decision_response") == (
        "ebus.in.eco_env.get_penalty_decision_response"
    )
    assert route_queue("eco_env-penalties") == "ebus.route.eco_env-penalties"
    assert delivery_queue("eco_env-penalties", "credit_fj") == (
        "ebus.deliver.eco_env-penalties.credit_fj"
    )


@pytest.mark.parametrize(
    "bad",
    [pytest.param("a.b", id="a dot"), pytest.param("", id="empty"), pytest.param("执法", id="cjk")],
)
def test_a_name_part_that_would_break_the_scheme_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        route_queue(bad)


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("enforcement.penalty.v1", "enforcement.penalty.v1", True),
        ("enforcement.*.v1", "enforcement.penalty.v1", True),
        ("enforcement.*", "enforcement.penalty.v1", False),
        ("enforcement.#", "enforcement.penalty.v1", True),
        ("enforcement.#", "enforcement", True),
        ("#.v1", "enforcement.penalty.v1", True),
        ("#", "anything.at.all", True),
        ("enforcement.#.v2", "enforcement.penalty.v1", False),
        ("case.*", "penalty.x", False),
    ],
)
def test_topic_patterns_match_like_rabbitmq(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


def test_an_expanded_topology_gives_each_queue_a_bound_dead_letter_queue() -> None:
    topology = Topology(queues=(QueueSpec("ebus.route.r1"), QueueSpec("x", dead_letter=False)))

    expanded = topology.expanded()

    assert {q.name for q in expanded.queues} == {"ebus.route.r1", "ebus.route.r1.dead", "x"}
    assert Binding("ebus.dlx", "ebus.route.r1.dead", "ebus.route.r1") in expanded.bindings
    assert {e.name for e in expanded.exchanges} == {"ebus.canonical", "ebus.dlx"}


def test_topologies_add_up_without_duplicates() -> None:
    one = Topology(queues=(QueueSpec("q"),), bindings=(feed_binding("f", "q"),))
    assert one + one == one


@pytest.mark.parametrize(
    "topology",
    [
        pytest.param(
            Topology(exchanges=(Exchange("e", "topic"), Exchange("e", "direct"))), id="kinds"
        ),
        pytest.param(
            Topology(queues=(QueueSpec("q"), QueueSpec("q", dead_letter=False))), id="dlq"
        ),
        pytest.param(Topology(queues=(QueueSpec("bad name"),)), id="name"),
        pytest.param(Topology(bindings=(Binding("e", "q", "a..b"),)), id="routing key"),
    ],
)
def test_a_contradictory_topology_is_refused(topology: Topology) -> None:
    with pytest.raises(ConfigError):
        topology.check()


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("ebus.route.r1", ("", "ebus.route.r1")),
        ("ebus.canonical:enforcement.penalty.v1", ("ebus.canonical", "enforcement.penalty.v1")),
    ],
)
def test_a_target_is_a_queue_or_an_exchange_and_routing_key(
    target: str, parsed: tuple[str, str]
) -> None:
    assert parse_target(target) == parsed


@pytest.mark.parametrize(
    ("delay_s", "bucket_ms"),
    [(0.01, 100), (0.1, 100), (0.3, 500), (31, 60_000), (86_400, 86_400_000)],
)
def test_a_delay_rounds_up_to_a_bucket_never_down(delay_s: float, bucket_ms: int) -> None:
    assert delay_bucket(delay_s) == bucket_ms


@pytest.mark.parametrize("delay_s", [-1, 86_401, float("nan"), float("inf")])
def test_an_impossible_delay_is_refused(delay_s: float) -> None:
    with pytest.raises(ValueError, match="delay_s"):
        delay_bucket(delay_s)


def test_an_out_message_refuses_what_no_backend_can_carry() -> None:
    with pytest.raises(TypeError, match="header 'amount'"):
        OutMessage(b"x", {"amount": 1.5})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="bytes"):
        OutMessage("text")  # type: ignore[arg-type]


def test_a_handler_must_return_dispositions() -> None:
    batch = [Message(b"x", {}, None, 1, False, "q")]
    with pytest.raises(TypeError, match="disposition"):
        settle(lambda _: ["ack"], batch)  # type: ignore[list-item,return-value,arg-type]
    with pytest.raises(ValueError, match="delay_s"):
        settle(lambda _: [Requeue(-1)], batch)
    assert settle(lambda _: [ACK], batch).acks == batch
