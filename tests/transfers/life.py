"""The whole bus for the transfer life tests: the real runtime on its own RabbitMQ virtual host
and PostgreSQL schema, the police side (admin_criminal) and the procuratorate (two_laws) on
loopback, and what a test needs to drive a transfer through the wire and watch it.

Each ``running_bus()`` gets a fresh virtual host (``rabbitmqctl add_vhost``), so every exchange
and queue of the runtime (``ebus.canonical``, ``ebus.transfers``, the police side's
``xx.transfer``) is its own even on a broker other test runs share; it is deleted afterwards.

Example::

    with running_bus(eco_env=True) as bus:
        (transfer_id,) = bus.wait_for_proposals("FJ3508022025HJ68F323DF")
        bus.cli("transfers", "approve", transfer_id, "--by", "局长 林某", "--to-organ", ORGAN)
        bus.wait_status(transfer_id, "approved")
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from adapters._simulators.http import Request, Response
from adapters.admin_criminal import SPEC as ADMIN_CRIMINAL
from adapters.admin_criminal import AdminCriminalConfig
from adapters.admin_criminal._poll import close_links
from adapters.admin_criminal.simulator import Package, PoliceSide, answer_body
from adapters.drug_admin.simulator import DrugAdminSimulator
from adapters.eco_env._dataset import sample_dataset
from adapters.eco_env.simulator import EcoEnvSimulator
from adapters.two_laws import SPEC as TWO_LAWS
from adapters.two_laws.simulator import TwoLawsSimulator
from runner.bus.topology import CANONICAL_EXCHANGE, Binding, QueueSpec, Topology, feed_binding
from runner.cli import app
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from runner.transfers.service import ORIGIN, ORIGIN_HEADER, TransferService
from runner.transfers.store import TransferRow
from schemas.timeutil import SHANGHAI
from tests.runner.bus.conftest import collect
from tests.runner.stores.conftest import postgres_schema
from tests.services import AMQP_URL, require_rabbitmq

__all__ = [
    "BusUnderTest",
    "Procuratorate",
    "Report",
    "ShiftedClock",
    "rabbitmq_vhost",
    "running_bus",
]

_NAMESPACE = "{http://lfxj.fjjcy.gov.cn/exchange/v3}"
_CLI = CliRunner()


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """The AMQP URL of a new, empty virtual host on the test broker (deleted on exit)."""
    require_rabbitmq()
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        if os.environ.get("CI"):
            raise RuntimeError("rabbitmqctl is needed to give each run its own virtual host")
        pytest.skip("rabbitmqctl is not installed: no virtual host of its own for this run")
    vhost = f"ebus-test-{uuid.uuid4().hex[:10]}"

    def run(*args: str) -> None:
        subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)

    run("add_vhost", vhost)
    try:
        parts = urlsplit(AMQP_URL)
        user = parts.username or "guest"
        run("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield parts._replace(path="/" + quote(vhost, safe="")).geturl()
    finally:
        run("delete_vhost", vhost)


class ShiftedClock:
    """The wall clock moved by an offset the test sets (the transfer core's clock)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(SHANGHAI).replace(microsecond=0) + self.offset

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self.offset += delta


@dataclass(frozen=True)
class Report:
    """One ``submitCaseInfo`` the procuratorate accepted: what the platform was told."""

    info_type: str
    yslsh: str
    yszt: str
    ysfx: str
    history: tuple[str, ...]
    values: Mapping[str, str]


class Procuratorate(TwoLawsSimulator):
    """The two_laws simulator that also keeps every accepted ``submitCaseInfo`` in order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reports: list[Report] = []
        self._reports_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Serve the call, then record it when the platform accepted it (code 0 or 1)."""
        response = super().handle(request)
        if request.method == "POST" and b"submitCaseInfo>" in request.body:
            answer = etree.fromstring(response.body)
            code = answer.findtext(f".//{_NAMESPACE}code")
            if code in ("0", "1"):
                with self._reports_lock:
                    self.reports.append(_report(request.body))
        return response

    def reports_of(self, yslsh: str) -> list[Report]:
        """The accepted 02/03 reports of one transfer, in arrival order."""
        with self._reports_lock:
            return [r for r in self.reports if r.yslsh == yslsh]


def _report(body: bytes) -> Report:
    document = etree.fromstring(body)
    submit = document.find(f".//{_NAMESPACE}submitCaseInfo")
    assert submit is not None
    transfer = submit.find(f"{_NAMESPACE}transferInfo")
    if transfer is None:
        return Report(submit.findtext(f"{_NAMESPACE}infoType") or "", "", "", "", (), {})
    values = {
        etree.QName(child).localname: child.text or ""
        for child in transfer
        if isinstance(child.tag, str) and len(child) == 0
    }
    return Report(
        info_type=submit.findtext(f"{_NAMESPACE}infoType") or "",
        yslsh=values.get("yslsh", ""),
        yszt=values.get("yszt", ""),
        ysfx=values.get("ysfx", ""),
        history=tuple(
            entry.findtext(f"{_NAMESPACE}zt") or ""
            for entry in transfer.iterfind(f"{_NAMESPACE}lsjl/{_NAMESPACE}jl")
        ),
        values=values,
    )


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class BusUnderTest:
    """The running bus and its peers, with the moves a test makes on the wire."""

    services: Services
    runtime: Runtime
    police: PoliceSide
    procuratorate: Procuratorate
    store_url: str
    bus_url: str
    clock: ShiftedClock
    alerts_queue: str
    cases_queue: str
    eco_env: EcoEnvSimulator | None = None
    drug_admin: DrugAdminSimulator | None = None
    extra_runtimes: list[Runtime] = field(default_factory=list)

    # --- the transfer core, as the store has it ---------------------------------------------

    def transfers_of(self, case_code: str) -> list[TransferRow]:
        """The transfers of a case."""
        return self.runtime_service.store.list(case_code=case_code)

    @property
    def runtime_service(self) -> TransferService:
        """The ``TransferService`` of the runtime's transfer loops."""
        assert self.runtime.transfers is not None
        return self.runtime.transfers.service

    def transfer(self, transfer_id: str) -> TransferRow:
        """The transfer ``transfer_id`` as stored (it must exist)."""
        row = self.runtime_service.store.get(transfer_id)
        assert row is not None, f"no transfer {transfer_id}"
        return row

    def wait_for_proposal(self, case_code: str) -> str:
        """The number of the transfer proposed for ``case_code`` (waits for it)."""
        rows = wait_until(lambda: self.transfers_of(case_code), f"a proposal for {case_code}")
        (row,) = rows
        return str(row.transfer_id)

    def status(self, transfer_id: str) -> str | None:
        """The transfer's status now (None: unknown)."""
        row = self.runtime_service.store.get(transfer_id)
        return None if row is None else str(row.status)

    def wait_status(self, transfer_id: str, status: str, timeout: float = 60.0) -> None:
        """Wait until the transfer has reached ``status``."""
        wait_until(
            lambda: self.status(transfer_id) == status,
            f"{transfer_id} to be {status} (it is {self.status(transfer_id)})",
            timeout,
        )

    def ledger_cases(self) -> set[str]:
        """The case codes of the penalty decisions the repeat-offender ledger holds."""
        with self.services.db.read() as conn:
            rows = conn.exec_driver_sql("SELECT case_code FROM ebus_transfer_ledger").all()
        return {str(row[0]) for row in rows}

    def history(self, transfer_id: str) -> list[str]:
        """The accepted statuses of the transfer, in time order."""
        return [e.status for e in self.runtime_service.store.events(transfer_id)]

    # --- operators ---------------------------------------------------------------------------

    def cli(self, *args: str) -> Result:
        """Run ``ebus`` on the bus's store; fails the test unless it exits 0."""
        result = _CLI.invoke(app, [*args, "--store", self.store_url])
        assert result.exit_code == 0, result.output
        return result

    # --- the police side ---------------------------------------------------------------------

    def package(self, transfer_id: str) -> Package:
        """The transfer package the police side received (verified) for ``transfer_id``."""
        found = wait_until(
            lambda: [p for p in self.police.packages if p.body["transferNo"] == transfer_id],
            f"the package of {transfer_id} at the police side",
        )
        return found[0]  # type: ignore[no-any-return]

    def answer(
        self, kind: str, package: Package, at: dt.datetime, *, copies: int = 1, **changes: Any
    ) -> str:
        """The police side answers ``package`` (signed, on its receipts queue) as of ``at``;
        ``changes`` replace fields of the generated body. Returns the answer's ``msgId``."""
        msg_id = self.police.next_msg_id(package.body["fromAgency"]["divisionCode"], at)
        if kind == "reconsideration_decision":
            body = reconsideration_body(package.body, at, msg_id)
        else:
            body = answer_body(kind, package.body, at, msg_id)
        self.police.publish_answer(body | changes, copies=copies)
        return msg_id

    # --- what left the bus --------------------------------------------------------------------

    def alerts(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Alerts the transfer core published (waits for ``count``, or ``timeout``)."""
        got = collect(self.services.bus, self.alerts_queue, count, timeout=timeout)
        return [json.loads(m.body) for m in got]

    def opened_case(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next case the transfer core opened on the case feed (a reverse transfer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in collect(self.services.bus, self.cases_queue, 1, timeout=1.0):
                if message.headers.get(ORIGIN_HEADER) == ORIGIN:
                    return json.loads(message.body)  # type: ignore[no-any-return]
        raise AssertionError(f"no case opened by the transfer core within {timeout:.0f} s")

    def reports(self, transfer_id: str, count: int) -> list[Report]:
        """The procuratorate's accepted reports of a transfer (waits for ``count`` of them)."""
        return wait_until(  # type: ignore[no-any-return]
            lambda: (
                reports
                if len(reports := self.procuratorate.reports_of(transfer_id)) >= count
                else None
            ),
            f"{count} two_laws report(s) of {transfer_id} "
            f"(got {[r.yszt for r in self.procuratorate.reports_of(transfer_id)]})",
        )

    # --- a second process --------------------------------------------------------------------

    def second_runtime(self) -> Runtime:
        """Another ``ebus run`` on the same broker and store (competing workers), started."""
        services = Services.open(self.services.project, self.services.settings)
        runtime = _prepared(services, self.clock)
        self.extra_runtimes.append(runtime)
        runtime.start()
        return runtime


def _prepared(services: Services, clock: ShiftedClock) -> Runtime:
    """A runtime over ``services``, its transfer core on ``clock`` and watching every 0.2 s."""
    runtime = Runtime(services)
    runtime.prepare()
    assert runtime.transfers is not None
    runtime.transfers.service.clock = clock
    runtime.transfers.watch_every_s = 0.2
    return runtime


def reconsideration_body(
    package: Mapping[str, Any], at: dt.datetime, msg_id: str, outcome: str = "CXLA"
) -> dict[str, Any]:
    """A 复议决定 (FYJD) answering ``package`` at ``at`` (README §6.5): ``CXLA`` 撤销原决定，
    予以立案 (with a filing number) or ``WCYJD`` 维持原不予立案决定."""
    stamp = at.astimezone(SHANGHAI)
    division = package["fromAgency"]["divisionCode"]
    body: dict[str, Any] = {
        "msgType": "FYJD",
        "msgId": msg_id,
        "transferNo": package["transferNo"],
        "caseCode": package["caseCode"],
        "organ": {"name": package["toOrgan"]["name"], "code": f"{division}000000"},
        "sendTime": stamp.strftime("%Y-%m-%d %H:%M:%S"),
        "outcome": outcome,
        "requestReceivedTime": (stamp - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
        "decisionTime": (stamp - dt.timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S"),
        "noticeNo": f"公(经)复字〔{stamp:%Y}〕{int(msg_id[-3:])}号",
        "reason": "经复议，撤销原不予立案决定，予以立案。"
        if outcome == "CXLA"
        else "经复议，维持原不予立案决定。",
    }
    if outcome == "CXLA":
        body["filingNo"] = f"A{division}000000{stamp:%Y%m}{int(msg_id[-4:]) % 10000:04d}"
    return body


def _settings(
    bus_url: str,
    store_url: str,
    police: AdminCriminalConfig,
    procuratorate: Procuratorate,
    eco_env: EcoEnvSimulator | None,
    drug_admin: DrugAdminSimulator | None,
) -> Settings:
    systems: dict[str, dict[str, Any]] = {
        "admin_criminal": police.model_dump(mode="json")
        | {
            "password": police.password.get_secret_value(),
            "bus_key": police.bus_key.get_secret_value(),
            "police_key": police.police_key.get_secret_value(),
        },
        "two_laws": {**TWO_LAWS.demo_config, "endpoint": procuratorate.endpoint, "org_codes": []},
    }
    if eco_env is not None:
        systems["eco_env"] = {
            "endpoint": eco_env.endpoint,
            "user_name": "fjzf_esb",
            "secret_key": eco_env.secret_key,
            "poll_interval_s": 1,
            "initial_start": "2025-03-01T00:00:00+08:00",
        }
    if drug_admin is not None:
        systems["drug_admin"] = {
            "endpoint": drug_admin.endpoint,
            "user_name": drug_admin.user_name,
            "password": drug_admin.password,
            "poll_interval_s": 1,
            "request_spacing_s": 0,
        }
    return Settings(bus=bus_url, store=store_url, systems=systems)


@contextmanager
def running_bus(
    *,
    eco_env: bool = False,
    penalties: Sequence[dict[str, Any]] | None = None,
) -> Iterator[BusUnderTest]:
    """The runtime with admin_criminal and two_laws connected to their simulators, and with
    eco_env (the spec's sample cases) or drug_admin (``penalties``) when asked for."""
    with ExitStack() as stack:
        bus_url = stack.enter_context(rabbitmq_vhost())
        store_url = stack.enter_context(postgres_schema())
        procuratorate = Procuratorate()
        stack.enter_context(procuratorate)
        eco = EcoEnvSimulator(dataset=sample_dataset()) if eco_env else None
        if eco is not None:
            stack.enter_context(eco)
        drugs = None
        if penalties is not None:
            drugs = stack.enter_context(
                DrugAdminSimulator(penalties=list(penalties), inspections=[], min_interval_s=0)
            )
        tag = uuid.uuid4().hex[:8]
        police_config = AdminCriminalConfig.model_validate(
            {
                **ADMIN_CRIMINAL.demo_config,
                "virtual_host": unquote(urlsplit(bus_url).path.removeprefix("/")),
                "exchange": f"xx.transfer.{tag}",
                "receipts_queue": f"xx.receipts.{tag}",
                "poll_interval_s": 0.2,
                "confirm_timeout_s": 5.0,
            }
        )
        police = PoliceSide(police_config, auto_receipt=False)
        police.start()
        stack.callback(police.stop)
        stack.callback(close_links)
        settings = _settings(bus_url, store_url, police_config, procuratorate, eco, drugs)
        project = load_project()
        assert project.issues == [], project.issues
        services = Services.open(project, settings)
        stack.callback(services.close)
        alerts_queue, cases_queue = f"test.alerts.{tag}", f"test.cases.{tag}"
        services.bus.declare(
            Topology(
                queues=(QueueSpec(alerts_queue), QueueSpec(cases_queue)),
                bindings=(
                    Binding(CANONICAL_EXCHANGE, alerts_queue, "alert.#"),
                    feed_binding("enforcement.case.v1", cases_queue),
                ),
            )
        )
        clock = ShiftedClock()
        runtime = _prepared(services, clock)
        under_test = BusUnderTest(
            services,
            runtime,
            police,
            procuratorate,
            store_url,
            bus_url,
            clock,
            alerts_queue,
            cases_queue,
            eco,
            drugs,
        )
        stack.callback(_shutdown, under_test)
        runtime.start()
        yield under_test


def _shutdown(under_test: BusUnderTest) -> None:
    for extra in under_test.extra_runtimes:
        extra.shutdown()
        extra.services.close()
    under_test.runtime.shutdown()
    failures = [
        f"{type(e).__name__}: {e}"
        for r in (under_test.runtime, *under_test.extra_runtimes)
        for e in r.errors
    ]
    assert not failures, failures
