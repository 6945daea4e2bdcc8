"""The queues the project's routes need, and which of them keep one consumer at a time."""

from __future__ import annotations

from runner.bus.topology import delivery_queue, inbound_queue, route_queue
from runner.engine.plan import build_feed_plans, build_plans, inbound_queue_spec, topology_of
from runner.project import load_project

PROJECT = load_project()


def test_queues_on_the_way_to_an_ordered_destination_have_a_single_active_consumer():
    topology = topology_of(build_plans(PROJECT), build_feed_plans(PROJECT))
    topology.check()
    single = {q.name for q in topology.queues if q.single_active}
    # eco_env decisions go to credit_fj in order per case: their inbound and delivery queues
    assert inbound_queue("eco_env", "get_penalty_decision_response") in single
    assert delivery_queue("eco_env-penalties", "credit_fj-penalty_push") in single
    # two_laws transfer reports are ordered and come from a feed: the route's queue too
    assert route_queue("two_laws-transfers") in single
    # nothing ordered after eco_env's cases: those queues may have competing consumers
    assert inbound_queue("eco_env", "get_case_list_response") not in single


def test_a_batch_run_declares_an_inbound_queue_as_the_runtime_does():
    topology = topology_of(build_plans(PROJECT), build_feed_plans(PROJECT))
    declared = {q.name: q for q in topology.queues}
    for system, message in [("market_reg", "decisions"), ("market_reg", "cases")]:
        spec = inbound_queue_spec(PROJECT, system, message)
        assert spec == declared[spec.name]
