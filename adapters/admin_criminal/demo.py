"""admin_criminal in ``make demo``: a whole 行刑衔接 (administrative-to-criminal transfer) life.

The police side (``PoliceSide``) runs on the local RabbitMQ (127.0.0.1:5672, guest/guest) under
names unique to the run, deleted when the demo stops. The peer also plays the administrative
agency: through ``bind_batch`` the platform (闽执法) publishes a case on the canonical case feed,
and through ``bind_services`` the agency's officers record their steps on the runtime's store
with the functions behind ``ebus transfers approve`` and ``ebus transfers send``. The life, each
step taken once the one before has happened (``WAIT_S`` at most for each):

1. the platform publishes eco_env's hazardous-waste case as the eco_env mapping makes it (spec
   sample ``get_case_list_response-2``: 3.6 t dumped) on the case feed;
2. the transfer core finds it over threshold rule HJ-XS338-02 (≥ 3 t) and proposes a transfer;
   the agency head approves it (Decree 310 Art. 5) and the agency sends it with the Art. 6
   documents and two evidence files (digested with SM3 and SHA-256);
3. the package reaches the police side through admin_criminal, signed with HMAC-SM3; the police
   side verifies the signature and every evidence digest;
4. the police side answers, signed, over AMQP: a 签收回执 published three times (quirk Q2: taken
   once), a 立案决定 with a forged signature (refused by the poller, ``bad_signature``), then the
   genuine 立案决定 from the old county gateway (UTF-8 BOM, CRLF, text/plain, quirk Q6): the
   transfer is ``filed``.

Alongside, one message every ``STEP_S`` seconds: the spec's two 反向移送 samples (each opens an
administrative case), a 签收回执 for a transfer the bus never made (spec sample
``receipt_signed-1``, dead-lettered ``UnknownTransfer``), a truncated body (``malformed_json``),
an unknown type (``unknown_msg_type``) and a 复议 that files without its filing number
(``required``, refused into the police side's DLQ like the other two). ``check`` verifies the
transfer's whole history, ending ``filed``.

The police side's answers are dated minutes after the transfer (the demo compresses the hours
Decree 310 allows into seconds), so that each comes after the step it answers. Without a
reachable RabbitMQ the system sits the demo out (its poller's failures are logged).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import socket
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from adapters.admin_criminal import SPEC, AdminCriminalConfig
from adapters.admin_criminal._poll import close_links
from adapters.admin_criminal.simulator import Package, PoliceSide
from runner.adapter_api import DemoSystem, SystemCounts, sm3_hex
from runner.demo_api import (
    Database,
    EvidenceFile,
    RuleSet,
    TransferPackage,
    TransferService,
    specs_dir,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "DEMO",
    "EXPECTED_HISTORY",
    "STEP_S",
    "WAIT_S",
    "AdminCriminalDemo",
    "FeedPublisher",
    "OperatorServices",
]

STEP_S = 0.4
"""Seconds between two scripted messages, and between two steps of the life."""
WAIT_S = 30.0
"""The longest the life waits for the bus (a proposal, the package, a status) before it stops."""
EXPECTED_HISTORY = ("proposed", "approved", "transferred", "received", "filed")
"""The statuses the transfer of the life goes through, in order."""
POLICE = "龙岩市公安局新罗分局"
"""The receiving organ the agency head names when approving."""
AGENCY_HEAD = "局长 林某"
"""Who approves, as ``ebus transfers approve --by`` records it (never narrated)."""
DOCUMENTS = (
    ("transfer_letter", "涉嫌犯罪案件移送书（岩新环移〔2025〕2号）"),
    ("investigation_report", "涉嫌犯罪案件情况的调查报告（岩新环调〔2025〕2号）"),
    ("items_list", "涉案物品清单（岩新环物〔2025〕2号）"),
    ("inspection_report", "危险废物鉴别报告（闽环鉴〔2025〕0316号）"),
)
"""The Decree 310 Art. 6 documents of the package, each named with its 文号."""
EVIDENCE = (
    EvidenceFile("现场勘验笔录及照片", "inspection_record", b"%PDF-1.7 inspection record"),
    EvidenceFile("危险废物属性鉴别报告", "expert_opinion", b"%PDF-1.7 expert opinion"),
)
"""The evidence files the agency holds; the police side checks the package's digests of them."""
_STRAY = {
    "transferNo": "YS-350322-2025-0009",
    "caseCode": "FJ3503222025SC3B8E11A0",
    "fromAgency": {"divisionCode": "350322"},
    "toOrgan": {"name": "仙游县公安局"},
    "suspectedOffence": "生产、销售伪劣产品罪",
}
"""A transfer the bus never made: the spoilt messages are refused before that matters."""
_RECEIPT_AFTER = dt.timedelta(minutes=10)
_FILING_AFTER = dt.timedelta(minutes=30)


class FeedPublisher(Protocol):
    """What this peer uses of the ``DemoBatch`` that ``runner.demo`` binds."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Put canonical envelope drafts on their feeds as received at ``received_at``."""
        ...


class OperatorServices(Protocol):
    """What this peer uses of the runtime's ``Services`` that ``runner.demo`` binds."""

    @property
    def db(self) -> Database:
        """The store the runtime (and so ``ebus transfers``) works on."""
        ...


@dataclass(frozen=True)
class _Until:
    """A step of the life that waits until ``condition()`` gives a value (sent back to it)."""

    what: str
    condition: Callable[[], object]


_Life = Generator["str | _Until", Any, None]


def _samples(system: str) -> Path:
    return specs_dir() / "systems" / system / "samples"


def _hazardous_case() -> dict[str, Any]:
    """eco_env's case of spec sample get_case_list_response-2, as its mapping makes it."""
    path = _samples("eco_env") / "get_case_list_response-2.expected.json"
    return dict(json.loads(path.read_bytes()))


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(microsecond=0)


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), 1.0).close()
    except OSError:
        return False
    return True


def _figures(figures: Mapping[str, str]) -> str:
    """``hazardous_waste_tonnes 3.60 ≥ 3`` for each figure of a rule hit."""
    return ", ".join(
        f"{name} {value} ≥ {figures[f'threshold_{name}']}"
        for name, value in figures.items()
        if f"threshold_{name}" in figures
    )


def _evidence_problems(package: Package) -> list[str]:
    """What of the package's evidence list does not match the files the agency holds."""
    listed = {item["name"]: item for item in package.body.get("evidence") or []}
    problems = []
    for file in EVIDENCE:
        item = listed.get(file.name)
        if item is None:
            problems.append(f"evidence '{file.name}' is not in the package")
        elif (item.get("digest"), item.get("sizeBytes")) != (sm3_hex(file.data), len(file.data)):
            problems.append(f"evidence '{file.name}': its SM3 digest or size does not match")
    return problems


class AdminCriminalDemo:
    """The police side, the agency's officers and their script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self._names = {
            "exchange": f"demo.{tag}.xx.transfer",
            "receipts_queue": f"demo.{tag}.xx.receipts.fjzf",
            "poll_interval_s": 1.0,
        }
        self.config = AdminCriminalConfig.model_validate({**SPEC.demo_config, **self._names})
        self.online = _reachable(self.config.host, self.config.port)
        self.police = PoliceSide(self.config, auto_receipt=False)
        self._played = 0
        self._script = self._build_script() if self.online else []
        self._feeds: FeedPublisher | None = None
        self._desk: TransferService | None = None
        self._life: _Life | None = None
        self._waiting: tuple[_Until, float] | None = None
        self._next_step_s = 1.0
        self._life_over = False
        self.transfer_id: str | None = None
        self.problems: list[str] = []
        if self.online:
            self.police.start()

    # --- what runner.demo binds -----------------------------------------------------------------

    def bind_batch(self, batch: FeedPublisher) -> None:
        """Take the demo's ``DemoBatch``: the platform's side of the feeds."""
        self._feeds = batch

    def bind_services(self, services: OperatorServices) -> None:
        """Take the runtime's services: the officers record their steps on its store, as
        ``ebus transfers`` does (an officer's desk evaluates no threshold rule)."""
        self._desk = TransferService(services.db, RuleSet())

    @property
    def living(self) -> bool:
        """Whether the transfer's life plays (RabbitMQ reachable, feeds and store bound)."""
        return self.online and self._feeds is not None and self._desk is not None

    # --- the script -----------------------------------------------------------------------------

    def _build_script(self) -> list[tuple[str, Callable[[], object]]]:
        """The messages sent alongside the life, one every ``STEP_S`` seconds."""
        samples = _samples("admin_criminal")
        fyjd = json.loads((samples / "reconsideration_decision-2.json").read_bytes())
        fyjd |= {"msgId": "GA350521-20250424-000999"}
        fyjd.pop("filingNo")
        police = self.police

        def sample(name: str) -> Callable[[], None]:
            return functools.partial(police.publish_sample, samples / f"{name}.json")

        return [
            (
                "a 反向移送 back to an agency (spec sample reverse_transfer-1)",
                sample("reverse_transfer-1"),
            ),
            (
                "a 反向移送 back to an agency (spec sample reverse_transfer-2)",
                sample("reverse_transfer-2"),
            ),
            (
                "a 签收回执 for YS-350322-2025-0004, a transfer the bus never made "
                "(spec sample receipt_signed-1)",
                sample("receipt_signed-1"),
            ),
            (
                "a truncated body",
                lambda: police.answer("forward_notice", _STRAY, faults=("malformed",)),
            ),
            (
                "an unknown message type",
                lambda: police.answer("filing_decision", _STRAY, faults=("unknown_type",)),
            ),
            ("a 复议 that files without its filing number", lambda: police.publish_answer(fyjd)),
        ]

    def _transfer_life(self, feeds: FeedPublisher, desk: TransferService) -> _Life:
        """The life of one transfer: yields what to narrate, or what to wait for."""
        case = _hazardous_case()
        case_code = str(case["case_code"])
        feeds.publish([case], _now())
        yield (
            f"admin_criminal: 闽执法 publishes eco_env case {case_code} on the case feed "
            "(spec sample get_case_list_response-2: 3.6 t of hazardous waste dumped)"
        )
        proposal = yield _Until(
            f"a proposal for {case_code}", lambda: desk.store.list(case_code=case_code)
        )
        transfer_id = self.transfer_id = str(proposal[0].transfer_id)
        trigger = proposal[0].record["triggered_by"]
        yield (
            f"admin_criminal: the transfer core proposes {transfer_id} "
            f"({trigger['rule_id']}: {_figures(trigger['figures'])}); a person decides"
        )
        organ = {"name": POLICE, "kind": "public_security"}
        desk.decide(transfer_id, "approved", by=AGENCY_HEAD, note="同意移送", to_organ=organ)
        yield (
            f"admin_criminal: the agency head approves {transfer_id} for {POLICE} "
            "(ebus transfers approve; Decree 310 Art. 5)"
        )
        sent_at = _now()
        agency = str(case["payload"]["agency"]["name"])
        package = TransferPackage.build(DOCUMENTS, EVIDENCE)
        desk.send_package(transfer_id, package, by=agency, at=sent_at)
        yield (
            f"admin_criminal: {agency} sends {transfer_id} (ebus transfers send): "
            f"{len(DOCUMENTS)} Art. 6 documents, {len(EVIDENCE)} evidence files with SM3 and "
            "SHA-256 digests"
        )
        received: Package = yield _Until(
            f"the package of {transfer_id} at the police side",
            lambda: self.police.package_of(transfer_id),
        )
        mismatched = _evidence_problems(received)
        self.problems += [f"admin_criminal: {problem}" for problem in mismatched]
        matched = len(EVIDENCE) - len(mismatched)
        yield (
            f"admin_criminal: the police side receives {transfer_id} on {received.routing_key}: "
            f"HMAC-SM3 signature verified, {matched} of {len(EVIDENCE)} evidence digests (SM3) "
            "match the agency's files"
        )
        answer = functools.partial(self.police.answer, package=received.body)
        answer("receipt_signed", copies=3, at=sent_at + _RECEIPT_AFTER)
        yield "admin_criminal: the police side signs for it: a 签收回执 published three times (Q2)"
        yield _Until(
            f"{transfer_id} to be received", lambda: self._status(transfer_id) == "received"
        )
        yield (
            f"admin_criminal: {transfer_id} received, once; the police decide on filing within "
            "3 days (Decree 310 Art. 8)"
        )
        answer("filing_decision", faults=("bad_signature",), at=sent_at + _FILING_AFTER)
        yield (
            f"admin_criminal: a 立案决定 for {transfer_id} with a forged signature (to be "
            "refused before anything is stored)"
        )
        answer("filing_decision", faults=("old_gateway",), at=sent_at + _FILING_AFTER)
        yield (
            f"admin_criminal: the genuine 立案决定 for {transfer_id}, from the old county "
            "gateway: BOM, CRLF, text/plain (Q6)"
        )
        yield _Until(f"{transfer_id} to be filed", lambda: self._status(transfer_id) == "filed")
        history = " → ".join(e.status for e in desk.store.events(transfer_id))
        yield (
            f"admin_criminal: {transfer_id} filed ({history}); the items are handed over "
            "within 3 days (Decree 310 Art. 12)"
        )

    def _status(self, transfer_id: str) -> str | None:
        """The transfer's status as stored (None: unknown, or no store bound)."""
        row = self._desk.store.get(transfer_id) if self._desk else None
        return None if row is None else row.status

    # --- DemoPeer -------------------------------------------------------------------------------

    @property
    def settings(self) -> Mapping[str, object]:
        """The run's unique exchange and queue names, and a short poll interval."""
        return self._names

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The bad answers by rule, and the answer for a transfer the bus never made."""
        if not self.online:
            return {}
        return {
            "bad_signature": int(self.living),
            "malformed_json": 1,
            "unknown_msg_type": 1,
            "required": 1,
            "UnknownTransfer": 1,
        }

    def intro(self) -> list[str]:
        """What the police side and the agency will do."""
        if not self.online:
            return ["RabbitMQ is not reachable at 127.0.0.1:5672: admin_criminal sits this out"]
        lines = []
        if self.living:
            lines.append(
                "a 行刑衔接 life: eco_env's hazardous-waste case over a threshold, the bus "
                "proposes a transfer, the agency approves and sends it, the police side "
                "receives it signed and answers (签收回执 x3, a forged 立案决定, the genuine one "
                "from the old gateway): filed"
            )
        lines.append(
            f"police side on RabbitMQ: {len(self._script)} more answers: 2 反向移送, one for a "
            "transfer the bus never made, a truncated body, an unknown type and a 复议 "
            "without its filing number"
        )
        return lines

    def tick(self, elapsed_s: float) -> list[str]:
        """Publish what is due; take the life's next steps once the bus has done its part."""
        notes: list[str] = []
        while self._played < len(self._script) and elapsed_s >= 1.0 + self._played * STEP_S:
            what, publish = self._script[self._played]
            publish()
            self._played += 1
            notes.append(f"admin_criminal: police side publishes {what}")
        if self._life is None:
            self._life = self._begin()
        while self._life is not None and elapsed_s >= self._next_step_s:
            note = self._step(self._life, elapsed_s)
            if note is None:
                break
            notes.append(note)
        return notes

    def _begin(self) -> _Life | None:
        """The life, unless it is over or cannot play (see ``living``)."""
        if self._life_over or not self.online or self._feeds is None or self._desk is None:
            return None
        return self._transfer_life(self._feeds, self._desk)

    def _step(self, life: _Life, elapsed_s: float) -> str | None:
        """One step of the life: a line to narrate, or None while it waits (or once over)."""
        try:
            if self._waiting is None:
                item = next(life)
            else:
                until, since = self._waiting
                value = until.condition()
                if not value:
                    if elapsed_s - since > WAIT_S:
                        return self._end(f"gave up after {WAIT_S:.0f} s waiting for {until.what}")
                    return None
                self._waiting = None
                item = life.send(value)
        except StopIteration:
            self._end(None)
            return None
        except Exception as exc:  # a step the bus refused, or the broker gone: told, not raised
            return self._end(f"the life stopped: {type(exc).__name__}: {exc}")
        if isinstance(item, _Until):
            self._waiting = (item, elapsed_s)
            return self._step(life, elapsed_s)
        self._next_step_s = elapsed_s + STEP_S
        return item

    def _end(self, failure: str | None) -> str | None:
        """Stop the life; a failure is narrated and reported by ``check``."""
        self._life, self._waiting, self._life_over = None, None, True
        if failure is None:
            return None
        self.problems.append(f"admin_criminal: {failure}")
        return f"admin_criminal: {failure}"

    def finished(self) -> bool:
        """Everything published, the life over, and every answer taken off the receipts queue."""
        if not self.online:
            return True
        life_done = self._life_over or not self.living
        return self._played == len(self._script) and life_done and self.police.depth() == 0

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good answer mapped once, the bad ones refused; the transfer went all the way
        to ``filed`` with its package verified at the police side."""
        if not self.online:
            return []
        problems = list(self.problems)
        good = 3 + 2 * self.living  # 2 反向移送 and the stray receipt; the receipt and filing
        if counts.mapped != good:
            problems.append(f"admin_criminal: {counts.mapped} answers mapped, expected {good}")
        # the truncated body, the unknown type and the 复议 without its filing number (README
        # §8: refused into the police DLQ), and the forged 立案决定 when the life plays
        refused, expected = self.police.dead_lettered(), 3 + self.living
        if refused != expected:
            problems.append(
                f"admin_criminal: {refused} answers in the police DLQ, expected {expected}"
            )
        if self.living:
            problems += self._life_problems(counts)
        return problems

    def _life_problems(self, counts: SystemCounts) -> list[str]:
        """The transfer's history, the package at the police side, the one delivery."""
        if self._desk is None or self.transfer_id is None:
            return ["admin_criminal: no transfer was proposed for the hazardous-waste case"]
        history = tuple(e.status for e in self._desk.store.events(self.transfer_id))
        problems = []
        if history != EXPECTED_HISTORY:
            problems.append(
                f"admin_criminal: {self.transfer_id} went {' → '.join(history)}, expected "
                f"{' → '.join(EXPECTED_HISTORY)}"
            )
        if self.police.refused:
            problems.append(
                f"admin_criminal: the police side refused packages {self.police.refused}"
            )
        if counts.delivered != 1:
            problems.append(f"admin_criminal: {counts.delivered} packages delivered, expected 1")
        return problems

    def stop(self) -> None:
        """Close the bus's links and remove the run's exchange and queues."""
        close_links()
        if self.online:
            self.police.stop()


DEMO = DemoSystem(system="admin_criminal", start=AdminCriminalDemo)
