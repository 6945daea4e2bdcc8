"""The archive worker and a job's reading of it: the runtime archives the feeds a connected
job reads (only those, once each), a job reads a day back in order and is refused what it may
not or cannot read, and the outbound mapping renders a day without its bad records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters._testkit import SinkServer, kit_adapter, make_subject
from adapters._transports.http import http_connector
from runner.adapter_api import BatchJob, PermanentError, RawMessage
from runner.batch.jobs import Job
from runner.batch.runs import BatchContext
from runner.bus import OutMessage
from runner.bus.topology import dead_letter_queue, feed_target, inbound_queue
from runner.engine.archive import ArchiveWorker, archive_schemas, oldest_day
from runner.engine.codec import encode_raw
from runner.engine.polling import BusPollContext
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.errors import ConfigError
from runner.project import load_project
from runner.registry import Registry
from runner.settings import Settings
from runner.stamp import now
from runner.stores.archive import ArchiveStore
from tests.runner.engine.conftest import wait_for
from tests.services import delete_named_queues

DECISION, CASE = "enforcement.penalty_decision.v1", "enforcement.case.v1"
CULTURE = "culture_tourism_national"


def _job(archives: tuple[str, ...]) -> BatchJob:
    return BatchJob(
        name="daily",
        schedule="30 1 * * *",
        run=lambda ctx, config, date: None,
        summary="Reads the decisions of a day.",
        archives=archives,
    )


def _project(config_root: Path, system: str, archives: tuple[str, ...]) -> Any:
    adapter = dataclasses.replace(
        kit_adapter(http_connector(system), system), batch_jobs=(_job(archives),)
    )
    project = load_project(config_root, Registry([adapter]))
    assert project.issues == []
    return project


@pytest.fixture
def embedded(tmp_path: Path, sink: SinkServer, system: str) -> Settings:
    return Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={system: {"endpoint": sink.url}},
    )


@pytest.fixture
def archived(config_root: Path, embedded: Settings, system: str) -> Iterator[Services]:
    """Services over the test kit whose job reads the decision feed."""
    opened = Services.open(_project(config_root, system, (DECISION,)), embedded)
    yield opened
    opened.close()


def test_the_runtime_archives_the_feeds_a_connected_job_reads_once_each(
    archived: Services, system: str
):
    runtime = Runtime(archived)
    runtime.prepare()
    assert runtime.archive is not None
    assert runtime.archive.schemas == {DECISION}
    subjects = [encode_raw(system, "subject", RawMessage(make_subject(n))) for n in range(20)]
    archived.bus.publish(inbound_queue(system, "subject"), subjects + subjects[:5])  # resends
    store = ArchiveStore(archived.db)
    today = now().date()
    runtime.start()
    try:
        wait_for(
            lambda: (
                len(store.day([DECISION], today)) >= 20
                and archived.bus.depth(inbound_queue(system, "subject")) == 0
                and archived.bus.depth(runtime.archive.queue) == 0
            )  # the resends went through too
        )
    finally:
        runtime.shutdown()
    job = Job(system, _job((DECISION,)))
    day = BatchContext(archived, job).day_messages([DECISION], today)
    assert len(day) == len({e["message_id"] for e in day}) == 20
    assert [e["received_at"] for e in day] == sorted(e["received_at"] for e in day)
    assert {e["source_message_id"] for e in day} == {str(n) for n in range(20)}


def test_no_archive_runs_when_no_connected_job_reads_a_day(
    config_root: Path, embedded: Settings, system: str
):
    for archives, systems in [((), embedded.systems), ((DECISION,), {})]:
        settings = embedded.model_copy(update={"systems": systems})
        services = Services.open(_project(config_root, system, archives), settings)
        try:
            runtime = Runtime(services)
            runtime.prepare()
            assert runtime.archive is None
        finally:
            services.close()


def test_a_job_declaring_no_canonical_schema_is_a_config_error(
    config_root: Path, embedded: Settings, system: str
):
    services = Services.open(_project(config_root, system, ("enforcement.no_such.v1",)), embedded)
    try:
        with pytest.raises(ConfigError, match=r"daily archives 'enforcement.no_such.v1'"):
            archive_schemas(services)
    finally:
        services.close()


def _envelope(n: int, schema: str = DECISION) -> dict[str, Any]:
    return {
        "message_id": f"01HRY{n:021d}",
        "schema": schema,
        "received_at": "2024-03-05T10:00:00+08:00",
        "payload": {},
    }


def test_the_worker_stores_its_schemas_and_dead_letters_what_is_no_envelope(
    services: Services, system: str
):
    queue = f"ebus.archive.{system}"  # its own queue, even on a shared broker
    if services.settings.bus.startswith("amqp"):
        delete_named_queues([queue])
    worker = ArchiveWorker(services, [DECISION], queue=queue)
    worker.declare()
    services.bus.publish(
        queue,
        [
            OutMessage(json.dumps(_envelope(1)).encode()),
            OutMessage(b"{not json"),
            OutMessage(json.dumps({"schema": DECISION}).encode()),
            OutMessage(json.dumps(_envelope(2, CASE)).encode()),  # a wider binding's
            OutMessage(json.dumps(_envelope(3)).encode()),
        ],
    )
    stop = threading.Event()
    # the consumer only: the pruner would delete a day of 2024 at once
    threads = [
        threading.Thread(target=t) for n, t in worker.threads(stop) if n.startswith("consume")
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: services.bus.depth(dead_letter_queue(queue)) == 2)
        wait_for(lambda: len(worker.store.day([DECISION, CASE], dt.date(2024, 3, 5))) == 2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if services.settings.bus.startswith("amqp"):
            delete_named_queues([queue])
    stored = worker.store.day([DECISION, CASE], dt.date(2024, 3, 5))
    assert [e["message_id"] for e in stored] == [
        _envelope(1)["message_id"],
        _envelope(3)["message_id"],
    ]
    assert worker.store.since(DECISION) is not None


def test_the_worker_binds_its_queue_to_each_archived_feed(archived: Services):
    worker = ArchiveWorker(archived, [DECISION, CASE], queue="ebus.archive.binding")
    worker.declare()
    for schema in (DECISION, CASE, "enforcement.inspection.v1"):
        archived.bus.publish(feed_target(schema), [OutMessage(json.dumps(_envelope(9)).encode())])
    assert archived.bus.depth("ebus.archive.binding") == 2


def test_pruning_keeps_the_configured_days(archived: Services):
    worker = ArchiveWorker(archived, [DECISION])
    today = dt.date(2024, 4, 9)
    worker.store.add_many(
        [
            {**_envelope(n), "received_at": f"{today - dt.timedelta(days=days)}T10:00:00+08:00"}
            for n, days in enumerate((36, 35, 0))
        ]
    )
    assert oldest_day(today, 35) == dt.date(2024, 3, 5)
    assert worker.prune(today) == 1
    assert worker.store.known_among([_envelope(n)["message_id"] for n in range(3)]) == {
        _envelope(1)["message_id"],
        _envelope(2)["message_id"],
    }


def test_a_job_is_refused_a_day_it_did_not_declare_or_the_archive_does_not_hold(
    archived: Services, system: str
):
    job = Job(system, _job((DECISION,)))
    today = now().date()
    context = BatchContext(archived, job)
    with pytest.raises(PermanentError) as never:
        context.day_messages([DECISION], today)
    assert never.value.code == "NO_ARCHIVE"
    ArchiveStore(archived.db).begin([DECISION, CASE], now() - dt.timedelta(days=10))
    with pytest.raises(PermanentError) as undeclared:
        context.day_messages([DECISION, CASE], today)
    assert undeclared.value.code == "NOT_ARCHIVED"
    with pytest.raises(PermanentError) as expired:
        context.day_messages([DECISION], today - dt.timedelta(days=36))
    assert expired.value.code == "ARCHIVE_EXPIRED"
    with pytest.raises(PermanentError) as before:
        context.day_messages([DECISION], today - dt.timedelta(days=11))
    assert before.value.code == "BEFORE_ARCHIVE"
    assert context.day_messages([DECISION], today - dt.timedelta(days=10)) == []  # partial
    with pytest.raises(PermanentError) as poller:  # a poll cycle declares nothing
        BusPollContext(archived, system).day_messages([DECISION], today)
    assert poller.value.code == "NOT_ARCHIVED"


@pytest.fixture
def culture(tmp_path: Path) -> Iterator[Services]:
    """Services over the real project with culture_tourism_national connected."""
    project = load_project()
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={CULTURE: dict(project.registry.get(CULTURE).demo_config)},
    )
    opened = Services.open(project, settings)
    yield opened
    opened.close()


def test_a_record_the_mapping_cannot_render_is_dead_lettered_once_and_left_out(
    culture: Services, specs: Path
):
    sample = json.loads(
        (specs / "systems" / CULTURE / "samples" / "upload_daily_package-1.input.json").read_bytes()
    )
    case, decision = sample[0], sample[3]
    detention = {**decision, "message_id": "01HRY00000000000000000000D"}
    detention["payload"] = {**decision["payload"], "penalty_kinds": ["detention"]}
    elsewhere = {**case, "payload": {**case["payload"], "agency": {**case["payload"]["agency"]}}}
    elsewhere["payload"]["agency"]["division_code"] = "440106"  # not Fujian: not accepted
    context = BusPollContext(culture, CULTURE)

    for _ in range(2):  # a job renders again when it rebuilds its package
        document = context.render_document("upload_daily_package", [case, detention, elsewhere])

    records = json.loads(document)["records"]
    assert [(r["type"], r["key"]) for r in records] == [("CASE", case["payload"]["case_code"])]
    (letter,) = culture.dead_letters.list(status="dead")
    assert (letter.stage, letter.system, letter.message_type) == (
        "delivery",
        CULTURE,
        "upload_daily_package",
    )
    assert (letter.rule, letter.message_id) == ("unknown_code", detention["message_id"])
    events = [r for r in culture.audit.trace(detention["message_id"]) if r.kind == "dead_lettered"]
    assert len(events) == 1
    assert context.render_document("upload_daily_package", [elsewhere]) == b""
