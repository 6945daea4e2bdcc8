"""End to end over loopback and the real bus: the bus polls eco_env's SOAP service, maps cases
and penalty decisions, publishes them on the canonical feeds and pushes the decisions, masked,
to 信用福建 for 双公示 — on the embedded default and on RabbitMQ."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.credit_fj.simulator import CreditFjPlatform, maintenance, serve
from adapters.eco_env._dataset import Dataset, generate_dataset
from adapters.eco_env.simulator import EcoEnvSimulator
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from tests.runner.engine.conftest import wait_for
from tests.services import AMQP_URL, delete_named_queues, require_rabbitmq, runtime_queues

CASES = 40
BEIJING = dt.timezone(dt.timedelta(hours=8))


def _confiscates_without_amount(decision: dict[str, str | None]) -> bool:
    kinds = (decision.get("PenaltyTypes") or "").split(",")
    amount = (decision.get("ConfiscatedAmount") or "").strip()
    return bool({"04", "05"} & set(kinds)) and amount in ("", "null")


def _make_natural_person(dataset: Dataset) -> None:
    """Turn one decided case into a natural person's (the generator makes organisations)."""
    case_id = next(i for i, d in dataset.decisions.items() if not _confiscates_without_amount(d))
    person = {
        "PartyType": "4",
        "PartyName": "吴某华",
        "CreditCode": None,
        "IdCardNo": "350802198507143215",
        "LegalPerson": None,
    }
    dataset.cases[case_id].update(person)
    dataset.decisions[case_id].update(person)


@pytest.fixture
def eco_env() -> Iterator[EcoEnvSimulator]:
    now = dt.datetime.now(BEIJING).replace(tzinfo=None)
    dataset = generate_dataset(
        CASES, since=now - dt.timedelta(hours=20), until=now - dt.timedelta(minutes=3), seed=2025
    )
    _make_natural_person(dataset)
    with EcoEnvSimulator(dataset=dataset) as simulator:
        yield simulator


@pytest.fixture
def credit_fj() -> Iterator[tuple[CreditFjPlatform, object]]:
    platform = CreditFjPlatform()
    with serve(platform) as server:
        yield platform, server


@pytest.fixture(
    params=[pytest.param("embedded"), pytest.param("rabbitmq", marks=pytest.mark.integration)]
)
def services(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    eco_env: EcoEnvSimulator,
    credit_fj: tuple[CreditFjPlatform, object],
) -> Iterator[Services]:
    project = load_project()
    assert project.issues == []
    queues = runtime_queues(project)
    if request.param == "rabbitmq":
        require_rabbitmq()
        delete_named_queues(queues)  # what an earlier run left must not be counted here
        bus = AMQP_URL
    else:
        bus = f"sqlite:///{tmp_path}/broker.db"
    eco = dict(project.registry.get("eco_env").demo_config)
    credit = dict(project.registry.get("credit_fj").demo_config)
    settings = Settings(
        bus=bus,
        store=f"sqlite:///{tmp_path}/store.db",
        systems={
            "eco_env": {
                **eco,
                "endpoint": eco_env.endpoint,
                "poll_interval_s": 2,
                "initial_start": (dt.datetime.now(BEIJING) - dt.timedelta(days=1)).isoformat(),
            },
            "credit_fj": {**credit, "endpoint": credit_fj[1].url},  # type: ignore[attr-defined]
        },
    )
    opened = Services.open(project, settings)
    yield opened
    opened.close()
    if request.param == "rabbitmq":
        delete_named_queues(queues)


def test_decisions_polled_from_eco_env_reach_credit_fj_masked_once_each(
    services: Services, eco_env: EcoEnvSimulator, credit_fj: tuple[CreditFjPlatform, object]
):
    platform, server = credit_fj
    decisions = list(eco_env.dataset.decisions.values())
    # 双公示 needs the amount of a confiscation (CF_NR_WFFF, README 4.1, 4.3): a decision that
    # confiscates without one is refused with a reason, never pushed half empty.
    deliverable = [d for d in decisions if not _confiscates_without_amount(d)]
    server.inject(maintenance(retry_after=1), times=2)  # type: ignore[attr-defined]
    runtime = Runtime(services)
    runtime.start()
    try:
        wait_for(
            lambda: (
                len(platform.records) == len(deliverable)
                and len(services.dead_letters.list()) == len(decisions) - len(deliverable)
            ),
            timeout=90,
        )
    except AssertionError:
        letters = services.dead_letters.list()
        raise AssertionError(
            f"{len(platform.records)} of {len(deliverable)} decisions stored at credit_fj, "
            f"{len(letters)} dead letters ({sorted({x.rule or '' for x in letters})}), "
            f"{len(decisions) - len(deliverable)} expected"
        ) from None
    finally:
        runtime.shutdown()
    assert len(platform.records) == len(deliverable)
    assert {letter.rule for letter in services.dead_letters.list()} <= {"kind_parts_value"}
    natural = [r for r in platform.records.values() if r.content["CF_XDR_LB"] == "自然人"]
    for stored in natural:
        assert "*" in stored.content["CF_XDR_MC"]
        assert stored.content["CF_XDR_ZJHM"][6:14] == "********"
    assert natural, "the generated cases include natural persons"
    assert services.audit.verify().ok
