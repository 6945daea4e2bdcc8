"""two_laws in ``make demo``: the procuratorate's 两法衔接 platform, notices out, transfers in.

The script, on the simulator (``TwoLawsSimulator``, the signed SOAP 1.1 exchange service on
loopback, answering in GBK):

- transfer reports: ``routes/two_laws-transfers.yaml`` reports every transfer (infoType 02)
  and every later status of it (03) that the transfer workflow accepted (its own steps, and its
  deltas of the police side's answers, which come from admin_criminal in the demo). The
  platform checks and stores each as README §3 says. It is busy (``9001`` 系统繁忙) for the first
  ``BUSY_CALLS`` calls: the bus's quick retries meet it too, and the first report is sent
  again after the route's retry delay (15 to 30 s), its case held in order meanwhile. When no
  report has arrived ``REPORT_GRACE_S`` seconds into the demo, the peer stops waiting for one;
- supervision notices (检察监督通知): the platform holds ``len(NOTICES)`` notices for the two
  agencies of the demo config, one of them of a notice type outside code table TZLX (refused,
  ``unknown_code``, once), and ``len(LIVE_NOTICES)`` more are issued at ``LIVE_AT_S``; the
  next ``fetchSupervisionNotices`` answer after that also repeats the two notices before the
  agency's cursor (a replica restored from a backup, quirk Q5: dropped, not read twice). The bus
  polls notices only when a route starts from ``fetch_notices_response``: if it has not called
  ``fetchSupervisionNotices`` ``NOTICE_GRACE_S`` seconds into the demo, the peer says so, and
  neither waits for the notices nor expects their dead letter.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping

from adapters._simulators.http import Request, Response
from adapters._simulators.soap import SoapCall
from adapters.two_laws._wire import NAMESPACE
from adapters.two_laws.simulator import Notice, TwoLawsSimulator
from runner.adapter_api import DemoSystem, MessageRejected, SystemCounts, parse_xml
from schemas.timeutil import SHANGHAI

__all__ = [
    "BUSY_CALLS",
    "DEMO",
    "LIVE_AT_S",
    "LIVE_NOTICES",
    "NOTICES",
    "REPORT_GRACE_S",
    "TwoLawsDemo",
]

XIAMEN = "11350200MB1C034749"
QUANZHOU = "11350500MB0P661250"
POLL_INTERVAL_S = 2
BUSY_CALLS = 3
LIVE_AT_S = 4.0
NOTICE_GRACE_S = 8.0
REPORT_GRACE_S = 20.0
_SUBMIT = "submitCaseInfo"
_FETCH = "fetchSupervisionNotices"
_STORED = frozenset({"0", "1"})
_TRANSIENT = frozenset({"1002", "9001", "9002", "FAULT"})
"""Answers the bus retries (README §6.3): not a refusal."""
_KEYS = (f"{{{NAMESPACE}}}yslsh", f"{{{NAMESPACE}}}sfm")
"""What a report is stored under: 移送流水号 of a transfer (02/03), 身份码 of a case (01)."""

_PROCURATORATES = {
    XIAMEN: ("厦门市人民检察院", "11350200003702155C", "厦检行刑"),
    QUANZHOU: ("泉州市人民检察院", "11350500003631578B", "泉检行刑"),
}


def _notice(
    org: str, seq: int, tzlx: str, case: tuple[str, str, str], content: str, **extra: str
) -> tuple[str, Notice]:
    """A notice of ``org``'s procuratorate about ``case`` (身份码, case number, title)."""
    name, uscc, prefix = _PROCURATORATES[org]
    kind = {"01": "建", "02": "说", "03": "监"}.get(tzlx, "函")
    fields = {
        "tzbh": f"{prefix}{kind}〔{dt.datetime.now(SHANGHAI):%Y}〕{seq % 100}号",
        "tzlx": tzlx,
        "bbh": "1",
        "sfm": case[0],
        "xzajbh": case[1],
        "ajmc": case[2],
        "fwjgmc": name,
        "fwjgdm": uscc,
        "fwrq": f"{dt.datetime.now(SHANGHAI):%Y-%m-%d}",
        "jdnr": content,
        "dfqx": "",
        "mgbs": "0",
        **extra,
    }
    return org, Notice(seq=seq, fields=fields, parties=[])


NOTICES: tuple[tuple[str, Notice], ...] = (
    _notice(
        XIAMEN, 1041, "03",
        ("FJ3502002024HJF62410CE", "HJAJ-XM-2024-0102", "厦门鹭岛环保科技有限公司涉嫌污染环境案"),
        "本院已依法启动立案监督程序，请你局做好证据材料的补充与移交工作。", mgbs="1",
    ),
    _notice(
        XIAMEN, 1043, "02",
        ("", "HJAJ-XM-2023-0417", "无证电镀加工点违法排放含铬废水案"),
        "请你局在收到本通知之日起七日内书面说明不移送公安机关的理由。", dfqx="null",
    ),
    _notice(
        QUANZHOU, 2207, "01",
        ("", "SCAJ-QZ-2025-0031", "泉州某食品公司生产销售不符合安全标准的食品案"),
        "经审查，该案涉案金额已达追诉标准，建议你局依法移送公安机关。",
    ),
    _notice(
        QUANZHOU, 2208, "05",
        ("", "SCAJ-QZ-2025-0044", "晋江某鞋业公司生产销售伪劣产品案"),
        "请你局报送该案办理情况。",
    ),
)  # fmt: skip
"""The notices on the platform before the bus starts; seq 2208's type 05 is not in TZLX."""

LIVE_NOTICES: tuple[tuple[str, Notice], ...] = (
    _notice(
        XIAMEN, 1046, "01",
        ("", "SCAJ-XM-2025-0112", "厦门某贸易公司销售假冒注册商标的商品案"),
        "经审查，该案涉案金额已达追诉标准，建议你局依法移送公安机关。",
    ),
    _notice(
        QUANZHOU, 2211, "02",
        ("", "HJAJ-QZ-2025-0009", "南安某石材厂非法倾倒废渣案"),
        "请你局在收到本通知之日起七日内书面说明不移送公安机关的理由。", dfqx="2025年6月30日",
    ),
)  # fmt: skip
"""The notices issued while the demo runs."""


class _Platform(TwoLawsSimulator):
    """The exchange service, noting what it answered to every ``submitCaseInfo``."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[tuple[str, str]] = []
        """(key, result code) of every submitCaseInfo answered, in order (code ``FAULT`` for a
        SOAP Fault); the key is the report's 移送流水号 or 身份码."""
        self._reports_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer as the service does; note the key and code of a ``submitCaseInfo``."""
        answer = super().handle(request)
        if _SUBMIT in request.headers.get("soapaction", ""):
            report = (_report_key(request.body), _result_code(answer.body))
            with self._reports_lock:
                self.reports.append(report)
        return answer

    def answered(self) -> list[tuple[str, str]]:
        """A copy of ``reports``."""
        with self._reports_lock:
            return list(self.reports)


def _report_key(body: bytes) -> str:
    """The 移送流水号 (or, for a case, 身份码) of a submitCaseInfo request; ``?`` if unreadable."""
    try:
        root = parse_xml(body)
    except MessageRejected:
        return "?"
    return next((e.text or "?" for key in _KEYS for e in root.iter(key)), "?")


def _result_code(body: bytes) -> str:
    """The ``result/code`` of an answer, ``FAULT`` for a SOAP Fault or an unreadable one."""
    try:
        root = parse_xml(body, "gbk")
    except MessageRejected:
        return "FAULT"
    code = root.findtext(f".//{{{NAMESPACE}}}result/{{{NAMESPACE}}}code")
    return code.strip() if code else "FAULT"


class TwoLawsDemo:
    """The running platform and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.platform = _Platform()
        for org, notice in NOTICES:
            self.platform.add_notice(org, notice)
        self.platform.inject_soap("busy", operation=_SUBMIT, times=BUSY_CALLS)
        self._elapsed = 0.0
        self._live_sent = False
        self._polled: bool | None = None
        self._told: set[str] = set()
        self.platform.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint and a short poll interval (the account is the README's)."""
        return {"endpoint": self.platform.endpoint, "poll_interval_s": POLL_INTERVAL_S}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The notice of an unknown type, when the bus polls notices at all."""
        return {"unknown_code": 1} if self._polled else {}

    def intro(self) -> list[str]:
        """What the platform will do."""
        return [
            f"两法衔接 platform (signed SOAP, GBK): {len(NOTICES)} supervision notices for two "
            f"agencies (one of an unknown type), {len(LIVE_NOTICES)} more at {LIVE_AT_S:.0f} s, "
            "a replica replay; takes every transfer report (02/03) the workflow makes, busy "
            f"(9001) for the first {BUSY_CALLS} calls"
        ]

    def _fetches(self) -> list[SoapCall]:
        return [c for c in list(self.platform.calls) if c.operation == _FETCH]

    def tick(self, elapsed_s: float) -> list[str]:
        """Issue the live notices when due; tell what the reports and the poller did."""
        self._elapsed = elapsed_s
        notes: list[str] = []
        if not self._live_sent and elapsed_s >= LIVE_AT_S:
            self._live_sent = True
            for org, notice in LIVE_NOTICES:
                self.platform.add_notice(org, notice)
            self.platform.inject_soap("replay", operation=_FETCH)
            notes.append(
                f"two_laws: {len(LIVE_NOTICES)} more notices issued; the next page repeats "
                "older ones (a replica restored from a backup)"
            )
        if self._polled is None and self._fetches():
            self._polled = True
        if self._polled is None and elapsed_s >= NOTICE_GRACE_S:
            self._polled = False
            notes.append(
                "two_laws: the bus does not poll supervision notices (no route starts from "
                "two_laws fetch_notices_response): they stay on the platform"
            )
        return notes + self._report_news()

    def _report_news(self) -> list[str]:
        codes = [code for _key, code in self.platform.answered()]
        notes = []
        if "busy" not in self._told and codes.count("9001") >= BUSY_CALLS:
            self._told.add("busy")
            notes.append(
                f"two_laws: the first transfer report met the busy platform ({BUSY_CALLS} x "
                "9001): the bus sends it again after the route's retry delay"
            )
        stored = sum(1 for code in codes if code in _STORED)
        if stored and f"stored {stored}" not in self._told:
            self._told.add(f"stored {stored}")
            notes.append(f"two_laws: {stored} transfer report(s) stored")
        return notes

    def _reports_done(self) -> bool:
        """The busy spell met and every report's last answer a stored one, or no report at
        all ``REPORT_GRACE_S`` into the demo."""
        reports = self.platform.answered()
        if not reports:
            return self._elapsed >= REPORT_GRACE_S
        last = dict(reports)
        busy = sum(1 for _key, code in reports if code == "9001")
        return busy >= BUSY_CALLS and all(code in _STORED for code in last.values())

    def _notices_read(self) -> bool:
        """Every notice fetched: each agency polled from its last notice's ``seq`` on."""
        if self._polled is False:
            return True
        if not self._polled or not self._live_sent:
            return False
        since: dict[str, int] = {}
        for call in self._fetches():
            org = str(call.params.get("orgCode") or "")
            since[org] = max(since.get(org, 0), int(call.params.get("sinceSeq") or 0))
        last = {org: max(n.seq for n in notices) for org, notices in self.platform.notices.items()}
        return all(since.get(org, 0) >= seq for org, seq in last.items())

    def finished(self) -> bool:
        """The live notices out and read (if polled), the reports stored (see above)."""
        return self._live_sent and self._notices_read() and self._reports_done()

    def check(self, counts: SystemCounts) -> list[str]:
        """Every delivered report stored once; every good notice mapped (if polled)."""
        problems = []
        codes = [code for _key, code in self.platform.answered()]
        stored = sum(1 for code in codes if code in _STORED)
        if stored != counts.delivered:
            problems.append(
                f"two_laws: {stored} reports stored, the bus delivered {counts.delivered}"
            )
        refused = sorted({code for code in codes if code not in _STORED | _TRANSIENT})
        if refused:
            problems.append(f"two_laws: reports refused for good, codes {refused}")
        good = len(NOTICES) + len(LIVE_NOTICES) - 1
        if self._polled and counts.mapped != good:
            problems.append(f"two_laws: {counts.mapped} notices mapped, expected {good}")
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.platform.stop()


DEMO = DemoSystem(system="two_laws", start=TwoLawsDemo)
