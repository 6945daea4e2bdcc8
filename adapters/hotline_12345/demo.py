"""hotline_12345 in ``make demo``: 12345 work orders in, 签收 and 办结反馈 out.

The script, on the simulator (``Hotline12345Platform`` served by ``HttpSimulator``). The dispatch
log of the bus's subscription starts where the demo config's replay cursor points (README §9)
and holds, before the bus starts:

- ``len(BACKLOG)`` work orders dispatched to agencies connected to 闽执法, with the quirks of
  real pages: migrated orders with lower-case keys (Q1) and a 14-digit ``SLSJ`` (Q3), ``"null"``
  as text (Q2), a 12-digit ``QHDM`` (Q4), ``BLSX`` as a string (Q7), a USCC and a phone typed
  full-width (Q8), ``SQNR`` with the call-centre editor's blanks (Q10);
- the re-push of the first of them, not accepted yet (Q5): the same ``GDBH#PDXH``, a duplicate;
- an order re-dispatched to another agency (退单后改派) before the bus read it: dispatch 1 is
  answered ``2005`` when the bus accepts it (dead-lettered once), dispatch 2 is a new clue;
- two orders the bus must refuse, each dead-lettered once: a 表扬 (``SQLX`` 06, outside code
  table T1) and a target USCC with a wrong check character.

The first poll cycle reads them all; every clue goes to ``enforcement.clue.v1`` and is accepted.
At ``LIVE_AT_S`` ``len(LIVE)`` more orders are dispatched, which the next cycle reads (the poll
interval is 30 s, the README's floor), and the gateway will answer the next accept or feedback
with HTTP 429 (``Retry-After: RETRY_AFTER_S``): the bus must then hold every request with the
key for that long, and send the refused call again.

At ``FEEDBACK_AT_S`` officers record on 闽执法 the complaint checks (投诉举报核查) of three of the
work orders, and the platform publishes them on ``enforcement.inspection.v1`` (``bind_batch``:
the demo's ``DemoBatch``); ``routes/hotline_12345-feedback.yaml`` reports them back (办结反馈): a
rectification, a case opened (with its 身份码), and one whose 处理措施 an officer cut down to a
few characters — the README wants 10 to 2000, so the bus refuses to send it (dead-lettered
once). Without a ``DemoBatch`` there is no feedback.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from adapters._simulators.http import HttpSimulator, Request, Response
from adapters.hotline_12345.simulator import Hotline12345Platform, decode_cursor, rate_limited
from runner.adapter_api import DemoSystem, SystemCounts
from runner.demo_api import specs_dir
from schemas.case_code import make_case_code
from schemas.timeutil import SHANGHAI

__all__ = [
    "BACKLOG",
    "DEMO",
    "FEEDBACK_AT_S",
    "LIVE",
    "LIVE_AT_S",
    "RETRY_AFTER_S",
    "FeedPublisher",
    "Hotline12345Demo",
]

POLL_INTERVAL_S = 30.0
LIVE_AT_S = 3.0
FEEDBACK_AT_S = 5.0
RETRY_AFTER_S = 2
FIRST_SEQ = 880_412
"""The log position of the demo config's replay cursor (README §9, ``workorders_page-1``)."""
_TIME = "%Y-%m-%d %H:%M:%S"
_ACCEPT_PATH = "/api/v3/workorders/GD"
_AGENCY_FIELDS = ("CBDWBM", "CBDWMC", "CBDWTYDM", "CBDWQHDM")
_AGENCIES = {
    "SCJG": ("FJ350102-SCJG", "福州市鼓楼区市场监督管理局", "11350102MB1C45025M", "350102"),
    "STHJ": ("FJ350521-STHJ", "泉州市惠安生态环境局", "11350521MB1G20956T", "350521"),
    "WSJK": ("FJ350405-WSJK", "三明市沙县区卫生健康局", "11350405MB1M14084C", "350405"),
}
_REDISPATCHED_TO = ("FJ350103-SCJG", "福州市台江区市场监督管理局", "11350103MB0F12340C", "350103")
"""The agency the re-dispatched order goes to (another 市场监管 agency)."""
_BASE: Mapping[str, Any] = {
    "SQLX": "01",
    "SQLXMC": "投诉",
    "SQRXM": "陈女士",
    "SQRDH": "13705912468",
    "SFNM": "0",
    "BFYDXLX": "1",
    "BFYDXMC": "福州闽味轩餐饮管理有限公司",
    "BFYDXDM": "91350102MA2Y7K3C1B",
    "BFYDXDZ": "福州市鼓楼区东街街道八一七北路88号",
    "SFDZ": "福州市鼓楼区东街街道八一七北路88号",
    "QHDM": "350102",
    "BLSX": 5,
    "JJCD": "1",
    "SLQD": "01",
}
"""The fields of a work order its overrides do not set (README §4.1, sample page 1)."""

_NO_TARGET = {"BFYDXLX": "", "BFYDXMC": "", "BFYDXDM": "", "BFYDXDZ": ""}
BACKLOG: tuple[Mapping[str, Any], ...] = (
    {
        "SQBT": "餐饮店后厨卫生脏乱",
        "SQNR": "本人昨晚在该店就餐后出现腹泻，后厨卫生条件差，垃圾桶未加盖，要求依法查处。",
    },
    {
        "CBDWLB": "STHJ", "SQLX": "02", "SQLXMC": "举报", "SQBT": "化工厂夜间偷排废气",
        "SQNR": "惠安县东园精细化工有限公司夜间偷排废气，刺鼻气味明显，附近居民无法开窗。",
        "SQRXM": "林先生", "SQRDH": "13859012786", "BFYDXMC": "惠安县东园精细化工有限公司",
        "BFYDXDM": "91350521757310297J", "BFYDXDZ": "泉州市惠安县东园镇埭庄村",
        "SFDZ": "泉州市惠安县东园镇埭庄村工业区", "QHDM": "350521", "BLSX": 15, "JJCD": "2",
    },
    {
        "CBDWLB": "WSJK", "SQLX": "03", "SQLXMC": "咨询", "SQBT": "开办足浴店卫生许可咨询",
        "SQNR": "咨询开办足浴店需要办理哪些卫生许可手续，从业人员是否需要办理健康证明。",
        "SQRXM": "黄先生", "SQRDH": "0598-7512345", **_NO_TARGET,
        "SFDZ": "三明市沙县区凤岗街道", "QHDM": "350405", "BLSX": "3", "SLQD": "04",
    },
    {
        "migrated": True, "SQBT": "超市销售过期酸奶",
        "SQNR": "  鼓楼区某超市冷柜内酸奶已过保质期仍在销售，店员称马上下架但未处理。\r\n",
        "BFYDXMC": "福州鼓楼惠民超市有限公司", "BFYDXDM": "91350102MA34B2KD5T",
        "SQRDH": "139 5031 2288", "QHDM": "350102003000",
    },
    {
        "CBDWLB": "WSJK", "SQLX": "02", "SQLXMC": "举报", "SQBT": "无证行医",
        "SFNM": "1", "SQRXM": "匿名", "SQRDH": "",
        "SQNR": "凤岗街道一民房内有人无证开设诊所给人输液。", "BFYDXLX": "9",
        "BFYDXMC": "null", "BFYDXDM": "null", "BFYDXDZ": "null",
        "SFDZ": "三明市沙县区凤岗街道西门街", "QHDM": "350405", "BLSX": "10",
    },
    {
        "SQBT": "奶茶店使用过期原料",
        "SQNR": "东街口一家奶茶店使用过期的奶精和糖浆，店员当面更换标签。",
        "BFYDXMC": "福州茶颜小铺餐饮有限公司", "BFYDXDM": "９１３５０１０２ＭＡ２Ｙ７Ｋ３Ｃ１Ｂ",
        "SQRDH": "１３７０５９１２４６８",
    },
    {
        "CBDWLB": "STHJ", "SQLX": "04", "SQLXMC": "建议", "SQBT": "建议加强工业区夜间巡查",
        "SQNR": "建议生态环境部门在东园工业区增加夜间巡查频次，公布举报电话。", **_NO_TARGET,
        "SFDZ": "泉州市惠安县东园镇", "QHDM": "350521",
    },
)  # fmt: skip
"""The work orders in the log before the bus starts (overrides of ``_BASE``)."""

REDISPATCHED: Mapping[str, Any] = {
    "SQBT": "农贸市场短斤缺两",
    "SQNR": "鼓楼区某农贸市场多个摊位电子秤短斤缺两，消费者多次反映。",
}
REFUSED: tuple[Mapping[str, Any], ...] = (
    {"SQLX": "06", "SQLXMC": "表扬", "SQBT": "表扬执法人员", "SQNR": "感谢执法人员耐心处理投诉。"},
    {
        "SQBT": "美容店虚假宣传",
        "SQNR": "某美容店宣称祛斑产品三天见效，实际无效且拒绝退款。",
        "BFYDXDM": "91350102MA2Y7K3C1C",
    },
)
"""A 表扬 (not a clue: SQLX 06) and a target USCC with a wrong check character."""

LIVE: tuple[Mapping[str, Any], ...] = (
    {"SQBT": "餐馆无健康证上岗", "SQNR": "鼓楼区一餐馆厨师未持健康证上岗，操作间无防蝇设施。"},
    {
        "CBDWLB": "STHJ", "SQLX": "02", "SQLXMC": "举报", "SQBT": "河道排污",
        "SQNR": "东园镇一家电镀厂向河道直排废水，河水发黄有异味。",
        "BFYDXMC": "惠安县宏达电镀有限公司", "BFYDXDM": "91350521MA2XN8QT4H", "QHDM": "350521",
    },
    {
        "CBDWLB": "WSJK", "SQLX": "05", "SQLXMC": "求助", "SQBT": "医疗纠纷求助",
        "SQNR": "家人在诊所输液后过敏，诊所拒绝提供病历，请求卫生部门协调。",
        "BFYDXMC": "沙县凤岗德仁诊所", "BFYDXDM": "52350427MJ0U8W1K27", "BFYDXLX": "4",
        "QHDM": "350405",
    },
)  # fmt: skip
"""The work orders dispatched while the demo runs."""

CHECKS: tuple[tuple[int, str, str, str], ...] = (
    (0, "feedback-1", "rectify", ""),
    (1, "feedback-2", "case_opened", ""),
    (3, "feedback-1", "rectify", "已处理"),
)
"""The complaint checks: (index in ``BACKLOG``, sample, result, findings if not the sample's)."""
_ITEMS = {"SC": "SC-SPJY-01", "HJ": "HJ-PWXK-01"}
"""Per domain, an inspected item 互联网+监管's 监管事项 table maps (checks go there too)."""


class FeedPublisher(Protocol):
    """What this peer uses of the ``DemoBatch`` that ``runner.demo`` binds."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Put canonical envelope drafts on their feeds as received at ``received_at``."""
        ...


def _beijing_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _check_template(sample: str) -> dict[str, Any]:
    """The canonical inspection of a feedback sample (a complaint check the platform recorded)."""
    path = specs_dir() / "systems" / "hotline_12345" / "samples" / f"{sample}.input.json"
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def complaint_check(
    gdbh: str, serial: int, sample: str, result: str, findings: str, at: dt.datetime
) -> dict[str, Any]:
    """The platform's record of the complaint check of work order ``gdbh`` (a canonical draft)."""
    envelope = copy.deepcopy(_check_template(sample))
    payload = envelope["payload"]
    agency = payload["agency"]
    inspection_id = f"JC-{agency['division_code']}-{at:%Y}-{serial:06d}"
    case_code = make_case_code(
        division_code=agency["division_code"],
        year=at.year,
        domain=agency["domain"],
        source_system="platform",
        source_case_no=inspection_id,
    )
    envelope |= {"source_message_id": inspection_id, "case_code": case_code}
    payload |= {
        "inspection_id": inspection_id,
        "task_id": gdbh,
        "planned_date": f"{at.date()}",
        "inspected_at": at.isoformat(timespec="seconds"),
        "result": result,
        "findings": findings or payload["findings"],
    }
    payload["items"][0]["code"] = _ITEMS[agency["domain"]]
    return envelope


class _Log:
    """Builds wire work orders with unique numbers and recent times, and dispatches them."""

    def __init__(self, platform: Hotline12345Platform) -> None:
        self.platform = platform
        self.count = 0
        self.good: set[tuple[str, int]] = set()
        """(GDBH, PDXH) of every dispatch the bus must turn into a clue and accept."""

    def order(self, overrides: Mapping[str, Any], *, good: bool = True) -> str:
        """Dispatch one work order built from ``overrides``; returns its ``GDBH``."""
        self.count += 1
        now = _beijing_now()
        gdbh = f"GD{now:%Y%m%d}{4_520 + self.count:07d}"
        item = {"GDBH": gdbh, "PDXH": 1, "TSSJ": f"{now:{_TIME}}", **_BASE}
        item |= {k: v for k, v in overrides.items() if k.isupper() and k != "CBDWLB"}
        line = str(overrides.get("CBDWLB", "SCJG"))
        item |= dict(zip(_AGENCY_FIELDS, _AGENCIES[line], strict=True)) | {"CBDWLB": line}
        registered = now - dt.timedelta(hours=1, minutes=7 * self.count)
        migrated = bool(overrides.get("migrated"))
        item["SLSJ"] = f"{registered:%Y%m%d%H%M%S}" if migrated else f"{registered:{_TIME}}"
        self.platform.dispatch(item, lower_case=migrated)
        if good:
            self.good.add((gdbh, 1))
        return gdbh

    def redispatch(self, gdbh: str) -> None:
        """Re-dispatch ``gdbh`` to another agency as dispatch 2; dispatch 1 is then refused."""
        first = next(dict(i) for _s, i in self.platform.log if i.get("GDBH") == gdbh)
        first |= {"PDXH": 2, "TSSJ": f"{_beijing_now():{_TIME}}"}
        first |= dict(zip(_AGENCY_FIELDS, _REDISPATCHED_TO, strict=True))
        self.platform.dispatch(first)
        self.platform.reassigned.add((gdbh, 1))
        self.good.add((gdbh, 2))


class Hotline12345Demo:
    """The running platform and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.platform = Hotline12345Platform(first_seq=FIRST_SEQ)
        self.log = _Log(self.platform)
        self.backlog = [self.log.order(overrides) for overrides in BACKLOG]
        self.platform.repush(self.backlog[0], 1, f"{_beijing_now():{_TIME}}")
        redispatched = self.log.order(REDISPATCHED, good=False)
        self.log.redispatch(redispatched)
        for overrides in REFUSED:
            self.log.order(overrides, good=False)
        self.mapped = len(self.log.good) + 1  # dispatch 1 of the re-dispatched order too
        self.feedbacks: set[str] = set()
        """The work orders whose feedback the bus must deliver."""
        self._feeds: FeedPublisher | None = None
        self._live_sent = False
        self._checks_sent = False
        self._told: set[str] = set()
        self._lock = threading.Lock()
        self._handled: set[int] = set()
        """``id`` of each request the platform answered (a fault's answer never reaches it)."""
        self._read_to = FIRST_SEQ
        self.server = HttpSimulator(self._handle)
        self.server.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's URL and the shortest poll interval the README allows."""
        return {"endpoint": self.server.url, "poll_interval_s": POLL_INTERVAL_S}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The 表扬, the bad USCC, the accept of the re-dispatched dispatch 1 and (with a
        ``DemoBatch``) the feedback with a too short 处理措施."""
        expected = {"unknown_code": 1, "uscc_check": 1, "2005": 1}
        return expected | ({"length": 1} if self._feeds is not None else {})

    def bind_batch(self, batch: FeedPublisher) -> None:
        """Take the demo's ``DemoBatch``: the platform's side of the feeds."""
        self._feeds = batch

    def intro(self) -> list[str]:
        """What the platform holds and what will come."""
        orders = len(BACKLOG) + 1 + len(REFUSED)
        feedback = (
            f"; {len(CHECKS)} complaint checks recorded on 闽执法 at {FEEDBACK_AT_S:.0f} s go "
            "back as 办结反馈 (one with a too short 处理措施)"
            if self._feeds is not None
            else ""
        )
        return [
            f"12345 work orders polled by cursor every {POLL_INTERVAL_S:.0f} s (the README's "
            f"floor): {orders} in the log (migrated lower-case keys, 'null' text, full-width "
            "input, a re-push, a re-dispatch, a 表扬, a bad USCC), "
            f"{len(LIVE)} more at {LIVE_AT_S:.0f} s; every clue accepted (签收), one 429{feedback}"
        ]

    def _handle(self, request: Request) -> Response:
        """The platform's answer; notes how far the bus has read the dispatch log."""
        answer = self.platform.handle(request)
        read_to = None
        if request.method == "GET" and answer.status == 200:
            decoded = decode_cursor(json.loads(answer.body)["data"]["nextCursor"])
            read_to = decoded[1] if decoded else None
        with self._lock:
            self._handled.add(id(request))
            self._read_to = max(self._read_to, read_to or 0)
        return answer

    def _throttled(self) -> str | None:
        """The path of the call that got the script's 429, None while it has not come."""
        with self._lock:
            faulted = [r.path for r in self.server.requests if id(r) not in self._handled]
        return faulted[0] if faulted else None

    def tick(self, elapsed_s: float) -> list[str]:
        """Dispatch the live orders and publish the checks when due; narrate."""
        notes: list[str] = []
        if not self._live_sent and elapsed_s >= LIVE_AT_S:
            self._live_sent = True
            notes.append(self._dispatch_live())
        if self._feeds is not None and not self._checks_sent and elapsed_s >= FEEDBACK_AT_S:
            self._checks_sent = True
            notes.append(self._publish_checks(self._feeds))
        throttled = self._throttled() if self._live_sent and "429" not in self._told else None
        if throttled is not None:
            self._told.add("429")
            call = throttled.rsplit("/", 1)[-1]
            notes.append(
                f"hotline_12345: the gateway answered a {call} call with HTTP 429: no request "
                f"with the key for {RETRY_AFTER_S} s"
            )
        done = self.feedbacks & set(self.platform.feedback)
        if done and "feedback" not in self._told and done == self.feedbacks:
            self._told.add("feedback")
            notes.append(f"hotline_12345: 办结反馈 stored for {', '.join(sorted(done))}")
        return notes

    def _dispatch_live(self) -> str:
        for overrides in LIVE:
            self.log.order(overrides)
        self.mapped += len(LIVE)
        fault = replace(rate_limited(RETRY_AFTER_S), path_prefix=_ACCEPT_PATH)
        self.server.inject(fault, times=1)
        return (
            f"hotline_12345: {len(LIVE)} more work orders dispatched; the gateway will answer "
            f"the next accept or feedback with HTTP 429, Retry-After: {RETRY_AFTER_S}"
        )

    def _publish_checks(self, feeds: FeedPublisher) -> str:
        now = dt.datetime.now(SHANGHAI).replace(microsecond=0)
        checks = []
        for number, (index, sample, result, findings) in enumerate(CHECKS):
            at = now - dt.timedelta(minutes=40 - 10 * number)
            gdbh, serial = self.backlog[index], 318 + number
            checks.append(complaint_check(gdbh, serial, sample, result, findings, at))
            if not findings:
                self.feedbacks.add(gdbh)
        feeds.publish(checks, now)
        return (
            f"hotline_12345: officers recorded {len(checks)} complaint checks of 12345 work "
            "orders on 闽执法 (one with the 处理措施 '已处理' only)"
        )

    def finished(self) -> bool:
        """The live orders read, the 429 met, every good feedback stored (with a DemoBatch)."""
        if not self._live_sent or self._throttled() is None:
            return False
        if self._feeds is not None and not (
            self._checks_sent and self.feedbacks <= set(self.platform.feedback)
        ):
            return False
        last = self.platform.log[-1][0]
        with self._lock:
            read = self._read_to >= last
        # read is not enough: a cycle the 429 gate cut short reads a page again a cycle later
        return read and self.log.good <= set(self.platform.accepted)

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good dispatch one clue, accepted once; every good feedback stored once."""
        problems = []
        if counts.mapped != self.mapped:
            problems.append(f"hotline_12345: {counts.mapped} clues mapped, expected {self.mapped}")
        missing = sorted(self.log.good - set(self.platform.accepted))
        if missing:
            shown = ", ".join(f"{g}#{p}" for g, p in missing)
            problems.append(f"hotline_12345: not accepted at the platform: {shown}")
        unexpected = set(self.platform.feedback) - self.feedbacks
        if unexpected:
            problems.append(f"hotline_12345: feedback not expected for {sorted(unexpected)}")
        delivered = len(self.log.good) + len(self.feedbacks)
        if counts.delivered != delivered:
            problems.append(
                f"hotline_12345: {counts.delivered} calls delivered, expected {delivered} "
                f"({len(self.log.good)} accepts, {len(self.feedbacks)} feedbacks)"
            )
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


DEMO = DemoSystem(system="hotline_12345", start=Hotline12345Demo)
