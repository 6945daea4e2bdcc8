"""joint_punishment in ``make demo``: dishonest-debtor checks of case parties, measure feedback.

The simulator (``JointPunishmentPlatform`` served by ``HttpSimulator``) holds a short list of
失信被执行人 and answers the OAuth2 token endpoint, dishonest checks and measure feedback as
README §2-§4 say, on the README's test credentials (the adapter's ``demo_config``), at most 20
calls a second per client (HTTP 429 ``42901`` above: the bus waits ``Retry-After``).

What reaches it:

- ``routes/joint_punishment-dishonest-checks.yaml`` checks every party of every open case on
  ``enforcement.case.v1`` (the route step ``enrich``): the cases of every system of the demo;
- at ``CASE_AT_S`` a 生态环境 agency working in 闽执法 opens a case against a listed mining
  company and its legal representative, whom the court lists under his 15-digit id number
  (quirk Q6), and the platform publishes it (``bind_batch``: the demo's ``DemoBatch``): both
  checks must come back dishonest;
- once both checks are answered, the agency applies the measures (措施反馈): the platform
  publishes them (``routes/joint_punishment-feedback.yaml``) and the system stores them; a
  市场监管 agency reports at the same time a measure of the ecology field (CJ061) for another
  debtor, which the system refuses (``40005``): dead-lettered once.

Without a ``DemoBatch`` the peer only answers the checks the other systems' cases bring. Every
``NEWS_EVERY_S`` seconds it tells what it received (subjects checked and listed, queries,
feedbacks, calls rate-limited), only ever counts. At the end it checks that each feedback the
bus delivered is stored once and that nothing was refused but the planned feedback (rate
limiting is not a refusal).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from adapters._simulators.http import HttpSimulator, Request, Response
from adapters.joint_punishment.simulator import CourtCase, Debtor, JointPunishmentPlatform
from runner.adapter_api import DemoSystem, SystemCounts
from schemas.case_code import make_case_code
from schemas.identifiers import check_resident_id
from schemas.timeutil import SHANGHAI

__all__ = [
    "CASE_AT_S",
    "DEBTORS",
    "DEMO",
    "FeedPublisher",
    "JointPunishmentDemo",
    "measure_feedback",
    "measure_feedbacks",
    "platform_case",
]

CASE_AT_S = 1.0
NEWS_EVERY_S = 5.0
PLATFORM = "platform"
_QUERY, _FEEDBACK, _TOKEN = "/api/v1/dishonest/query", "/api/v1/feedback", "/oauth/token"
_TRANSIENT = frozenset({"42901", "50000", "50301", "40101", "40102"})
"""Answers the bus retries (README §5.2): not a refusal."""

_MINE = Debtor(
    name="龙岩市新罗区金龙矿业有限公司",
    uscc="91350802MA31L6T256",
    fddbr="邱永福",
    cases=(
        CourtCase("龙岩市新罗区人民法院", "(2022)闽0802执3318号", "2022-11-03"),
        CourtCase("龙岩市中级人民法院", "(2023)闽08执恢45号", "2023-09-20"),
    ),
    measures=("CJ061", "CJ032", "CJ011"),
)
_REPRESENTATIVE = Debtor(
    name="邱永福",
    subject_type="4",
    id_type="111",
    id_number="350802790312153",
    cases=(CourtCase("龙岩市新罗区人民法院", "(2023)闽0802执1207号", "2023-05-16"),),
    measures=("CJ001", "CJ031"),
)
_BUILDER = Debtor(
    name="福州恒达建材贸易有限公司",
    uscc="91350104MA2XT0QJ33",
    fddbr="郑国平",
    cases=(CourtCase("福州市仓山区人民法院", "(2024)闽0104执1287号", "2024-09-12"),),
    measures=("CJ001", "CJ011", "CJ012", "CJ031"),
)
DEBTORS: tuple[Debtor, ...] = (_MINE, _REPRESENTATIVE, _BUILDER)
"""The subjects on the list of 失信被执行人 (see the module docstring)."""

_ECOLOGY = {"name": "龙岩市生态环境局", "uscc": "11350800MB1H1352XT", "division_code": "350800",
            "domain": "HJ"}  # fmt: skip
_MARKET = {"name": "福州市仓山区市场监督管理局", "uscc": "11350104MB0F22310F",
           "division_code": "350104", "domain": "SC"}  # fmt: skip


class FeedPublisher(Protocol):
    """What this peer uses of the ``DemoBatch`` that ``runner.demo`` binds."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Put canonical envelope drafts on their feeds as received at ``received_at``."""
        ...


def _party(debtor: Debtor, address: str, division: str) -> dict[str, Any]:
    """The canonical party of a listed debtor (an id number in its 18-digit form)."""
    natural = debtor.subject_type == "4"
    return {
        "kind": "natural_person" if natural else "legal_person",
        "name": debtor.name,
        "uscc": None if natural else debtor.uscc,
        "id_type": "resident_id" if natural else None,
        "id_number": debtor.key if natural else None,
        "legal_representative": None if natural else debtor.fddbr,
        "address": address,
        "division_code": division,
    }


def platform_case(at: dt.datetime) -> dict[str, Any]:
    """The case the ecology agency opens on 闽执法 against the mining company and its
    legal representative (a canonical draft)."""
    case_no = f"HJZF-350800-{at:%Y}-0031"
    case_code = make_case_code(
        division_code="350800", year=at.year, domain="HJ", source_system=PLATFORM,
        source_case_no=case_no,
    )  # fmt: skip
    payload = {
        "case_code": case_code,
        "source_system": PLATFORM,
        "source_case_no": case_no,
        "title": f"{_MINE.name}未批先建尾矿库案",
        "domain": "HJ",
        "agency": _ECOLOGY,
        "parties": [
            _party(_MINE, "福建省龙岩市新罗区雁石镇", "350802"),
            _party(_REPRESENTATIVE, "福建省龙岩市新罗区西陂街道", "350802"),
        ],
        "case_source": "inspection",
        "procedure": "general",
        "status": "investigating",
        "registered_at": (at - dt.timedelta(hours=2)).isoformat(timespec="seconds"),
        "closed_at": None,
        "violation_type": "未批先建",
        "facts": "当事人尾矿库扩建项目环境影响评价文件未经批准，擅自开工建设。",
        "legal_basis": [{"law_name": "中华人民共和国环境影响评价法", "article": "第二十五条"}],
        "involved_amount_yuan": "0.00",
        "officers": [
            {"name": "林志坚", "certificate_no": "35080018021"},
            {"name": "吴秀兰", "certificate_no": "35080019007"},
        ],
    }
    return {
        "schema": "enforcement.case.v1",
        "source_system": PLATFORM,
        "source_message_id": f"{case_no}:{at:%Y%m%d%H%M%S}",
        "case_code": case_code,
        "classification": "L3",
        "payload": payload,
    }


def measure_feedback(
    debtor: Debtor, agency: Mapping[str, str], codes: Sequence[str], at: dt.datetime
) -> dict[str, Any]:
    """The platform's 措施反馈: ``agency`` applied ``codes`` to ``debtor`` (a canonical draft)."""
    applied = [
        {"code": code, "status": "applied", "applied_at": at.isoformat(timespec="seconds"),
         "note": "已按联合惩戒备忘录要求落实"}
        for code in codes
    ]  # fmt: skip
    cases = [
        {"court": c.zxfy, "case_no": c.ah, "published_at": f"{c.fbrq}T00:00:00+08:00"}
        for c in debtor.cases
    ]
    payload = {
        "party": _party(debtor, "福建省", str(agency["division_code"])),
        "is_dishonest": True,
        "cases": cases,
        "measures": list(dict.fromkeys(debtor.measures)),
        "checked_at": (at - dt.timedelta(minutes=5)).isoformat(timespec="seconds"),
        "agency": dict(agency),
        "applied_measures": applied,
    }
    return {
        "schema": "enforcement.dishonest_check.v1",
        "source_system": PLATFORM,
        "source_message_id": f"MZF-CJFK-{at:%Y%m%d%H%M%S}-{debtor.key[-6:]}",
        "case_code": None,
        "classification": "L2",
        "payload": copy.deepcopy(payload),
    }


def measure_feedbacks(at: dt.datetime) -> list[dict[str, Any]]:
    """What the platform publishes once the company is found dishonest: the ecology agency's
    measures (stored), and a 市场监管 agency's CJ061 (a measure of the ecology field, 40005)."""
    return [
        measure_feedback(_MINE, _ECOLOGY, ("CJ061", "CJ032"), at),
        measure_feedback(_BUILDER, _MARKET, ("CJ061",), at),
    ]


class JointPunishmentDemo:
    """The running system, its script and what it received (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        # No nightly sync window (Q9): a demo run at 01:00-01:30 would wait out half an hour
        # of 50301 answers (the bus retries them; tests/adapters/joint_punishment cover it).
        self.platform = JointPunishmentPlatform(sync_window=None)
        for debtor in DEBTORS:
            self.platform.add_debtor(debtor)
        self.received: Counter[str] = Counter()
        """Calls answered, by kind (token, query, feedback)."""
        self.subjects: Counter[str] = Counter()
        """Subjects checked, by outcome (listed, not listed, refused)."""
        self.codes: Counter[str] = Counter()
        """Business codes of the query and feedback answers."""
        self.answered: set[str] = set()
        """USCCs and id numbers whose check was answered."""
        self._feeds: FeedPublisher | None = None
        self._case_sent = False
        self._feedback_sent = False
        self._seen = (0, 0)
        self._news_at = 0.0
        self._lock = threading.Lock()
        self.server = HttpSimulator(self._handle)
        self.server.start()

    def _handle(self, request: Request) -> Response:
        """The system's answer, noted by kind, code and subject."""
        answer = self.platform.handle(request)
        kind = {_TOKEN: "token", _QUERY: "query", _FEEDBACK: "feedback"}.get(request.path, "?")
        document = _json(answer.body)
        with self._lock:
            self.received[kind] += 1
            if kind != "token" and isinstance(document, dict) and "code" in document:
                self.codes[f"{kind} {document['code']}"] += 1
            if kind == "query" and isinstance(document, dict):
                self._note_subjects(document)
        return answer

    def _note_subjects(self, document: Mapping[str, Any]) -> None:
        for result in document.get("results") or []:
            if result.get("errCode"):
                self.subjects["refused"] += 1
                continue
            self.subjects["listed" if result.get("isDishonest") == "1" else "not listed"] += 1
            key = result.get("uscc") or _id_number(result.get("idNumber"))
            if key:
                self.answered.add(key)

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's URL (client id and test secret come from ``demo_config``)."""
        return {"endpoint": self.server.url}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The feedback with a measure of another field (when the script plays)."""
        return {"40005": 1} if self._feeds is not None else {}

    def bind_batch(self, batch: FeedPublisher) -> None:
        """Take the demo's ``DemoBatch``: the platform's side of the feeds."""
        self._feeds = batch

    def intro(self) -> list[str]:
        """What the system holds and what will come."""
        script = (
            f"; at {CASE_AT_S:.0f} s a case against a listed company and its listed legal "
            "representative (15-digit id at the court), then the measures applied (措施反馈) "
            "and a measure of the wrong field (40005)"
            if self._feeds is not None
            else ""
        )
        return [
            f"联合惩戒 API (OAuth2, JSON) listing {len(DEBTORS)} debtors, checking every party "
            f"of every open case (20 calls/s, then HTTP 429){script}"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Publish the case, then the feedback once the company's check is answered; narrate."""
        notes: list[str] = []
        feeds = self._feeds
        if feeds is not None and not self._case_sent and elapsed_s >= CASE_AT_S:
            self._case_sent = True
            feeds.publish([platform_case(_now())], _now())
            notes.append(
                "joint_punishment: 龙岩市生态环境局 opened a case on 闽执法 against a listed "
                "company and its legal representative"
            )
        if feeds is not None and not self._feedback_sent and self._listed(_MINE, _REPRESENTATIVE):
            self._feedback_sent = True
            at = _now()
            feeds.publish(measure_feedbacks(at), at)
            notes.append(
                "joint_punishment: both found dishonest; measures applied and reported "
                "(and a 市场监管 agency reports CJ061, a measure of the ecology field)"
            )
        return notes + self._news(elapsed_s)

    def _listed(self, *debtors: Debtor) -> bool:
        with self._lock:
            return all(d.key in self.answered for d in debtors)

    def _news(self, elapsed_s: float) -> list[str]:
        """Every ``NEWS_EVERY_S`` seconds, when something new came: what was checked so far."""
        if elapsed_s < self._news_at:
            return []
        with self._lock:
            seen = (sum(self.received.values()), sum(self.subjects.values()))
            line = (
                f"joint_punishment: so far {self.subjects['listed']} of "
                f"{sum(self.subjects.values())} subjects checked are listed; "
                f"{self.received['query']} queries, {self.received['feedback']} feedbacks, "
                f"{self.codes['query 42901'] + self.codes['feedback 42901']} rate-limited (429)"
            )
        if seen == self._seen:
            return []
        self._seen, self._news_at = seen, elapsed_s + NEWS_EVERY_S
        return [line]

    def finished(self) -> bool:
        """Nothing scripted (no DemoBatch), or both feedbacks answered."""
        if self._feeds is None:
            return True
        with self._lock:
            answered = sum(n for code, n in self.codes.items() if code.startswith("feedback "))
        return self._feedback_sent and answered - self._transient("feedback") >= 2

    def _transient(self, kind: str) -> int:
        with self._lock:
            return sum(self.codes[f"{kind} {code}"] for code in _TRANSIENT)

    def check(self, counts: SystemCounts) -> list[str]:
        """Each delivered feedback stored once; nothing refused but the planned feedback."""
        problems = []
        if len(self.platform.feedbacks) != counts.delivered:
            problems.append(
                f"joint_punishment: {len(self.platform.feedbacks)} feedbacks stored, the bus "
                f"delivered {counts.delivered}"
            )
        planned = {"feedback 40005": 1} if self._feeds is not None else {}
        with self._lock:
            refused = {
                code: n - planned.get(code, 0)
                for code, n in self.codes.items()
                if not code.endswith(" 0") and code.split()[1] not in _TRANSIENT
            }
        refused = {code: n for code, n in refused.items() if n}
        if refused:
            problems.append(f"joint_punishment: calls refused: {refused}")
        if self._feeds is not None and not self._listed(_MINE, _REPRESENTATIVE):
            problems.append("joint_punishment: the platform's case parties were not checked")
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(microsecond=0)


def _id_number(number: Any) -> str | None:
    """An id number in its 18-digit form (the court may hold 15 digits, Q6), None if not one."""
    try:
        return check_resident_id(str(number)) if number else None
    except ValueError:
        return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


DEMO = DemoSystem(system="joint_punishment", start=JointPunishmentDemo)
