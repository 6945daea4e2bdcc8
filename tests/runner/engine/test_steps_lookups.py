"""The split and enrich steps on the real bus (embedded and RabbitMQ), against the
joint_punishment simulator over loopback: the shipped route
``joint_punishment-dishonest-checks`` checks each party of a case and publishes one
``enforcement.dishonest_check.v1`` per party; while the system is down the parts wait (retried,
then held by the breaker) and are checked once it is back; a refused lookup is dead-lettered
with its reason and replays to the lookup's queue."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.joint_punishment.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    CourtCase,
    Debtor,
    JointPunishmentPlatform,
    serve,
)
from runner.bus import ACK, Bus, Disposition, Message, QueueSpec, Topology, feed_binding
from runner.bus.topology import delivery_queue, route_queue
from runner.engine.codec import encode_envelope
from runner.engine.plan import revalidate
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import REPO_ROOT, load_project
from runner.replay import replay
from runner.settings import Settings
from runner.stamp import new_message_id
from schemas.envelope import Envelope
from schemas.timeutil import SHANGHAI
from tests.runner.engine.conftest import free_port, wait_for
from tests.services import AMQP_URL, delete_named_queues

ROUTE = REPO_ROOT / "routes" / "joint_punishment-dishonest-checks.yaml"
CHECKS = "enforcement.dishonest_check.v1"
LOOKUP = "dishonest-query"
SLOW = (
    "retry: {attempts: 30, initial: 30s, max_delay: 30m}",
    "breaker: {failures: 5, cooldown: 60s}",
)
FAST = (
    "retry: {attempts: 30, initial: 100ms, max_delay: 300ms, in_process: 0}",
    "breaker: {failures: 3, cooldown: 1s}",
)
ORGANISATION = {
    "kind": "legal_person",
    "name": "福州闽江源食品有限公司",
    "uscc": "91350100MA2Y7K3F61",
    "id_type": None,
    "id_number": None,
    "legal_representative": "陈建华",
    "address": None,
    "division_code": None,
}
PERSON = {
    "kind": "natural_person",
    "name": "张小三",
    "uscc": None,
    "id_type": "resident_id",
    "id_number": "350102198806151233",
    "legal_representative": None,
    "address": "福建省福州市鼓楼区温泉街道五四路21号",
    "division_code": "350102",
}
ZHANG = Debtor(
    name="张小三",
    subject_type="4",
    id_type="111",
    id_number="350102198806151233",
    cases=(CourtCase("福州市鼓楼区人民法院", "(2023)闽0102执1234号", "2023-06-12"),),
    measures=("CJ021", "CJ031", "CJ061"),
)


@dataclass
class Bed:
    """A bus with the shipped route (under a unique id), its results queue and its stores."""

    services: Services
    runtime: Runtime
    route: str
    tag: str
    results: str

    def publish_case(self, *parties: dict[str, Any]) -> dict[str, Any]:
        """Publish a case of ``parties`` to the case feed; return its JSON."""
        case = _case(self.tag, list(parties))
        self.services.bus.publish(f"ebus.canonical:{case.schema_name}", [encode_envelope(case)])
        return case.model_dump(mode="json")

    def checks(self, count: int, timeout: float = 30.0) -> list[Message]:
        """The next ``count`` check results of this test's cases on the feed."""
        return _collect(self.services.bus, self.results, self.route, count, timeout)

    def audit(self, kind: str) -> list[Any]:
        """This route's lookup events of ``kind``."""
        table = self.services.db.metadata.tables["ebus_audit_log"]
        with self.services.db.read() as conn:
            rows = conn.execute(
                table.select().where(table.c.kind == kind, table.c.route == self.route)
            ).mappings()
            return [{**row, "detail": json.loads(row["detail"])} for row in rows]


def _case(tag: str, parties: list[dict[str, Any]]) -> Envelope[Any]:
    code = f"FJ3501002024HJ{uuid.uuid4().hex[:8].upper()}"
    at = "2024-03-05T10:15:00+08:00"
    return revalidate(
        {
            "message_id": new_message_id(),
            "schema": "enforcement.case.v1",
            "source_system": tag,
            "source_message_id": f"{tag}:{code}",
            "case_code": code,
            "causation_id": None,
            "occurred_at": at,
            "received_at": at,
            "classification": "L1",  # computed again by revalidate
            "payload": {
                "case_code": code,
                "source_system": tag,
                "source_case_no": f"HJZF-{code[-8:]}",
                "title": "超标排放案",
                "domain": "HJ",
                "agency": {
                    "name": "福州市生态环境局",
                    "uscc": "11350100MB0F22318E",
                    "division_code": "350100",
                    "domain": "HJ",
                },
                "parties": parties,
                "case_source": "inspection",
                "procedure": "general",
                "status": "registered",
                "registered_at": at,
                "closed_at": None,
                "violation_type": None,
                "facts": None,
                "legal_basis": [],
                "involved_amount_yuan": None,
                "officers": [],
            },
        }
    )


def _collect(bus: Bus, queue: str, route: str, count: int, timeout: float) -> list[Message]:
    got: list[Message] = []
    stop = threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        got.extend(m for m in batch if m.headers.get("x-ebus-route") == route)
        if len(got) >= count:
            stop.set()
        return [ACK] * len(batch)

    thread = threading.Thread(
        target=bus.consume, args=(queue, handler), kwargs={"stop": stop, "batch_wait_s": 0.02}
    )
    thread.start()
    thread.join(timeout)
    stop.set()
    thread.join(10)
    return got


def _platform() -> JointPunishmentPlatform:
    # a fixed clock by day: never inside the nightly sync (01:00-01:30) whatever the hour
    platform = JointPunishmentPlatform(
        clock=lambda: dt.datetime(2024, 3, 5, 10, 0, tzinfo=SHANGHAI)
    )
    platform.add_debtor(ZHANG)
    return platform


@pytest.fixture
def make_bed(tmp_path: Path, bus_url: str) -> Iterator[Callable[[str], Bed]]:
    """Build the bus for a joint_punishment endpoint; started, stopped and cleaned up here."""
    beds: list[Bed] = []

    def make(endpoint: str) -> Bed:
        tag = uuid.uuid4().hex[:8]
        route = f"jp-{tag}-checks"
        root = tmp_path / "config"
        (root / "routes").mkdir(parents=True)
        (root / "mappings").symlink_to(REPO_ROOT / "mappings")
        text = ROUTE.read_text(encoding="utf-8").replace(
            "id: joint_punishment-dishonest-checks", f"id: {route}"
        )
        for slow, fast in zip(SLOW, FAST, strict=True):
            assert slow in text, "the shipped route changed: update SLOW"
            text = text.replace(slow, fast)
        (root / "routes" / f"{route}.yaml").write_text(text, encoding="utf-8")
        project = load_project(root)
        assert project.issues == []
        settings = Settings(
            bus=bus_url,
            store=f"sqlite:///{tmp_path}/store.db",
            systems={
                "joint_punishment": {
                    "endpoint": endpoint,
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "read_timeout_s": 5,
                }
            },
        )
        queues = [route_queue(route), delivery_queue(route, LOOKUP), f"ebus.test.{route}"]
        if bus_url == AMQP_URL:
            delete_named_queues(queues)
        services = Services.open(project, settings)
        runtime = Runtime(services, batch_wait_s=0.01)
        runtime.prepare()
        services.bus.declare(
            Topology(queues=(QueueSpec(queues[2]),), bindings=(feed_binding(CHECKS, queues[2]),))
        )
        bed = Bed(services, runtime, route, tag, queues[2])
        beds.append(bed)
        runtime.start()
        return bed

    yield make
    for bed in beds:
        bed.runtime.shutdown()
        bed.services.close()
        if bus_url == AMQP_URL:
            delete_named_queues(
                [route_queue(bed.route), delivery_queue(bed.route, LOOKUP), bed.results]
            )


def test_each_party_of_a_case_is_checked_and_each_check_goes_to_the_feed(
    make_bed: Callable[[str], Bed],
) -> None:
    platform = _platform()
    with serve(platform) as simulator:
        bed = make_bed(simulator.url)
        case = bed.publish_case(ORGANISATION, PERSON, {**PERSON, "id_number": None, "name": "李四"})
        checks = bed.checks(2)
        queries = [r for r in simulator.requests if r.path == "/api/v1/dishonest/query"]
    views = sorted(
        (json.loads(m.body) for m in checks), key=lambda v: v["payload"]["party"]["kind"]
    )
    assert [v["payload"]["party"]["name"] for v in views] == ["福州闽江源食品有限公司", "张小三"]
    assert [v["payload"]["is_dishonest"] for v in views] == [False, True]
    assert views[1]["payload"]["measures"] == ["CJ061"]  # STHJ, scene 02 (penalty)
    assert {v["case_code"] for v in views} == {case["case_code"]}
    assert all(v["source_system"] == "joint_punishment" for v in views)
    parts = {v["causation_id"] for v in views}  # each check is caused by its own part
    assert len(parts) == 2
    assert case["message_id"] not in parts
    assert len(queries) == 2  # the party without an id number is not checked
    sent = [json.loads(q.body) for q in queries]
    assert sorted(s["subjects"][0]["subjectType"] for s in sent) == ["1", "4"]
    assert {s["requestId"] for s in sent} == parts  # requestId = the part's message id
    trace = bed.services.audit.trace(views[1]["message_id"])
    assert [r.kind for r in trace] == ["mapped", "routed"]
    assert trace[1].detail["to"] == [f"{bed.route}/feed-enforcement_dishonest_check_v1"]


def test_while_the_system_is_down_the_parts_wait_and_are_checked_once_it_is_back(
    make_bed: Callable[[str], Bed],
) -> None:
    port = free_port()
    bed = make_bed(f"http://127.0.0.1:{port}")
    bed.publish_case(ORGANISATION)
    wait_for(lambda: len(bed.audit("retried")) >= 3)  # then the breaker (3 failures) holds it
    assert bed.services.dead_letters.list() == []
    with serve(_platform(), port=port):
        checks = bed.checks(1)
    assert [json.loads(m.body)["payload"]["party"]["name"] for m in checks] == [
        "福州闽江源食品有限公司"
    ]
    retried = bed.audit("retried")
    assert all(r["detail"]["code"] in ("CONNECTION", "TIMEOUT") for r in retried), retried
    assert bed.services.dead_letters.list() == []


def test_a_refused_lookup_is_dead_lettered_with_its_reason_and_replays_to_its_queue(
    make_bed: Callable[[str], Bed],
) -> None:
    platform = _platform()
    platform.fail_next("40003")  # field/scene code refused: permanent (README §5.2)
    with serve(platform) as simulator:
        bed = make_bed(simulator.url)
        case = bed.publish_case(PERSON)
        wait_for(lambda: len(bed.services.dead_letters.list()) == 1)
        [letter] = bed.services.dead_letters.list()
        assert (letter.stage, letter.system, letter.message_type) == (
            "delivery",
            "joint_punishment",
            "dishonest_query",
        )
        assert (letter.route, letter.destination, letter.rule) == (bed.route, LOOKUP, "40003")
        assert "refused the lookup" in letter.reason
        assert "350102198806151233" not in letter.reason
        assert letter.case_code == case["case_code"]
        assert bed.checks(1, timeout=1.0) == []
        results = replay(
            bed.services.bus, bed.services.dead_letters, bed.services.audit, [letter.id]
        )
        assert [r.queue for r in results] == [delivery_queue(bed.route, LOOKUP)]
        checks = bed.checks(1)
    assert json.loads(checks[0].body)["payload"]["is_dishonest"] is True
