"""A simulator of 应急执法系统's push client (YJZF, README §2): the SENDER of this interface.

The bus serves ``POST /inbound/emergency``; this simulator plays the emergency system's side:

- ``Documents`` writes realistic ``<YJZFMessage>`` bodies: inspections and penalty decisions
  (organisations and natural persons, checksum-valid USCCs and ID numbers), in UTF-8, with a
  BOM (client 3.x on Windows) or as GB2312-labelled GBK (client 2.x, quirk 1), with CDATA,
  ``null`` words, 万元 amounts and the date spellings of §3.4;
- ``YjzfClient`` signs every attempt (§2.4), sends it, reads the ``<Ack>`` and acts on it as
  §2.6 says: code 0/1 done; code 2, HTTP 401 (code 2) or 413 flagged for manual handling;
  code 9, HTTP 401 with code 9, another status, a timeout or a refused connection → resent,
  re-signed, after ``resend_delays`` (the real 1 min / 5 min / 30 min, compressed for tests);
- faults it injects (``Fault``): a wrong secret, a stale timestamp, a replayed nonce, a missing
  header, latency (a body trickled slowly), a client timeout shorter than the bus's answer
  (quirk 9: an identical resend follows), and bodies that are malformed, hostile (DTD/entity),
  undecodable or over 2 MiB; duplicates and concurrent resends come from pushing one body again.

Every attempt is recorded in ``attempts``; ``results`` holds the final state per msgId.
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx
from lxml import etree

from adapters.emergency._config import APP_ID
from adapters.emergency._signing import signed_headers
from schemas.identifiers import resident_id_check_char, uscc_check_char
from schemas.timeutil import SHANGHAI

__all__ = [
    "PATH",
    "Attempt",
    "Documents",
    "Fault",
    "Result",
    "YjzfClient",
    "hostile",
    "malformed",
    "oversized",
    "undecodable",
]

PATH = "/inbound/emergency"
TEST_SECRET = "yjzf-fj-test-secret-2024"

FaultKind = Literal[
    "wrong_secret", "stale_timestamp", "replayed_nonce", "missing_header", "slow_body", "timeout"
]
State = Literal["accepted", "duplicate", "flagged", "gave_up"]


@dataclass(frozen=True)
class Fault:
    """One fault the client applies to an attempt.

    ``wrong_secret``: signed with another key (401, code 2). ``stale_timestamp``: signed
    ``seconds`` in the past (401, code 9, re-signed resend). ``replayed_nonce``: the nonce of
    the previous attempt (401, code 2). ``missing_header``: no ``X-YJZF-Nonce``. ``slow_body``:
    the body trickled in pieces over ``seconds``. ``timeout``: wait only ``seconds`` for the Ack.
    """

    kind: FaultKind
    seconds: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: what was sent and what came back (``status`` 0: no answer)."""

    msg_id: str
    status: int
    code: str
    reason: str
    elapsed_s: float


@dataclass(frozen=True)
class Result:
    """How one message ended on the sender's side, and its attempts."""

    msg_id: str
    state: State
    attempts: tuple[Attempt, ...]


# --- documents --------------------------------------------------------------------------------

_COUNTIES = [
    ("350427", "三明市沙县区", "三明市沙县区应急管理局"),
    ("350521", "泉州市惠安县", "惠安县应急管理局"),
    ("350783", "南平市建瓯市", "建瓯市应急管理局"),
    ("350982", "宁德市福鼎市", "福鼎市应急管理局"),
    ("350503", "泉州市丰泽区", "泉州市丰泽区应急管理局"),
    ("350128", "平潭综合实验区", "平潭综合实验区应急管理局"),
]
_FIRMS = ["化工", "石材", "竹业", "机械", "食品", "纺织", "家具", "五金"]
_SURNAMES = "陈林黄张李王吴刘蔡杨郑谢"
_GIVEN = ["明辉", "建平", "国栋", "秀英", "志强", "一镕", "堃", "喆", "丽华"]
_ITEMS = [
    ("AQ0101", "安全生产责任制及管理制度落实情况"),
    ("AQ0201", "事故隐患排查治理"),
    ("AQ0302", "危险化学品储存管理"),
    ("AQ0401", "粉尘防爆"),
    ("AQ0402", "有限空间作业"),
    ("AQ0801", "危险作业审批（动火、临时用电）"),
]
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng: random.Random, division: str, kind: str = "91") -> str:
    first17 = kind + division + "".join(rng.choice(_ALPHABET) for _ in range(9))
    return first17 + uscc_check_char(first17)


def _agency_uscc(division: str) -> str:
    first17 = f"11{division}MB{int(division) % 9973:07d}"[:17]
    return first17 + uscc_check_char(first17)


def _resident_id(rng: random.Random, division: str) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
    first17 = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_char(first17)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class Documents:
    """Realistic YJZF bodies from a seeded generator (the same seed, the same documents)."""

    def __init__(self, seed: int = 5, now: dt.datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.now = (now or dt.datetime.now(SHANGHAI)).astimezone(SHANGHAI)
        self.sequence = 0

    def _msg_id(self) -> str:
        self.sequence += 1
        return f"YJZF{self.now:%Y%m%d%H%M%S}{self.sequence:06d}"

    def _head(self, msg_id: str, msg_type: str, sender: str) -> str:
        return (
            f"<Head><msgId>{msg_id}</msgId><msgType>{msg_type}</msgType>"
            f"<sendTime>{self.now:%Y-%m-%d %H:%M:%S}</sendTime><sender>{sender}</sender></Head>"
        )

    def _agency(self, division: str, name: str) -> str:
        return (
            f"<ZFJG><JGMC>{name}</JGMC><JGDM>{_agency_uscc(division)}</JGDM>"
            f"<XZQHDM>{division}</XZQHDM></ZFJG>"
        )

    def inspection(self, encoding: Literal["utf-8", "gb2312", "bom"] = "utf-8") -> bytes:
        """A 安全生产执法检查记录 (SAFETY_INSPECTION); ``gb2312`` as client 2.x writes it."""
        rng = self.rng
        division, place, agency = rng.choice(_COUNTIES)
        msg_id = self._msg_id()
        firm = (
            f"{place}{rng.choice(['闽峰', '崇武', '绿竹源', '顺发'])}{rng.choice(_FIRMS)}有限公司"
        )
        result = rng.choice(["1", "2", "2", "3"])
        at = self.now - dt.timedelta(hours=rng.randrange(1, 48))
        items = rng.sample(_ITEMS, k=rng.randint(1, 3))
        findings = (
            "null"
            if result == "1"
            else _cdata(
                "储罐区报警值设定为<25%LEL & 未联锁；\n"
                f"限期{at.year}年{at.month}月{at.day}日前整改]]>完毕"
            )
        )
        case = (
            f"<LABH>YJAJ-{division}-{at:%Y}-{self.sequence:06d}</LABH><LARQ>{at:%Y-%m-%d}</LARQ>"
            if result == "3"
            else ""
        )
        unit = (
            f"<BJCDW><DWLX>1</DWLX><DWMC>{firm}</DWMC><TYSHXYDM>{_uscc(rng, division)}</TYSHXYDM>"
            f"<FDDBR>{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}</FDDBR>"
            f"<XZQHDM>{division}</XZQHDM><DWDZ>福建省{place}工业区{rng.randint(1, 99)}号</DWDZ>"
            "<HYLB>null</HYLB></BJCDW>"
        )
        officers = "".join(
            f"<RY><XM>{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}</XM>"
            f"<ZFZH>{division}{rng.randrange(10**5):05d}</ZFZH></RY>"
            for _ in range(2)
        )
        when = f"{at:%Y-%m-%d %H:%M:%S}" if encoding == "gb2312" else f"{at:%Y%m%d%H%M%S}"
        body = (
            f"<JCJL><JCBH>YJJC-{division}-{at:%Y}-{self.sequence:06d}</JCBH>"
            f"<RWBH>SJRW-{division}-{at:%Y}-{rng.randint(1, 9):03d}</RWBH>"
            f"<JCFS>0{rng.randint(1, 5)}</JCFS>{unit}{self._agency(division, agency)}"
            f"<ZFRY>{officers}</ZFRY><JHRQ/><JCSJ>{when}</JCSJ><JCXM>"
            + "".join(f"<XM><XMDM>{c}</XMDM><XMMC>{n}</XMMC></XM>" for c, n in items)
            + f"</JCXM><JCJG>{result}</JCJG><YHMS>{findings}</YHMS>{case}</JCJL>"
        )
        return self._document(msg_id, "SAFETY_INSPECTION", division, body, encoding)

    def penalty(self, natural_person: bool = False) -> bytes:
        """A 行政处罚决定 (PENALTY_DECISION) against a company or a natural person."""
        rng = self.rng
        division, place, agency = rng.choice(_COUNTIES)
        msg_id = self._msg_id()
        decided = (self.now - dt.timedelta(days=rng.randrange(0, 5))).date()
        registered = decided - dt.timedelta(days=rng.randrange(10, 40))
        if natural_person:
            party = (
                f"<DSR><DSRLX>4</DSRLX><DSRMC>{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}</DSRMC>"
                f"<ZJLX>111</ZJLX><ZJHM>{_resident_id(rng, division)}</ZJHM>"
                f"<DZ>福建省{place}某街道{rng.randint(1, 99)}号</DZ>"
                f"<XZQHDM>{division}</XZQHDM></DSR>"
            )
        else:
            party = (
                f"<DSR><DSRLX>1</DSRLX><DSRMC>{place}{rng.choice(_FIRMS)}有限公司</DSRMC>"
                f"<TYSHXYDM>{_uscc(rng, division)}</TYSHXYDM>"
                f"<FDDBR>{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}</FDDBR>"
                f"<DZ>福建省{place}工业区</DZ><XZQHDM>{division}</XZQHDM></DSR>"
            )
        kinds, fine = rng.choice([("02", "2.8"), ("01，02", "0.5"), ("02,03,04", "10")])
        body = (
            f"<CFJD><JDSWH>{place[-3:]}应急罚〔{decided:%Y}〕{self.sequence}号</JDSWH>"
            f"<AJBH>YJAJ-{division}-{decided:%Y}-{self.sequence:06d}</AJBH>"
            f"<LARQ>{registered:%Y-%m-%d}</LARQ>{party}"
            "<WFXW>未对安全设备进行经常性维护、保养和定期检测</WFXW>"
            f"<WFSS>{_cdata('经查，当事人储罐区可燃气体检测报警仪未检定 & 报警值<25%LEL。')}</WFSS>"
            "<WFYJ>《中华人民共和国安全生产法》第三十六条第二款；《危险化学品安全管理条例》第二十条</WFYJ>"
            "<CFYJ>《中华人民共和国安全生产法》第九十九条第（二）项</CFYJ>"
            f"<CFZL>{kinds}</CFZL><FKJE>{fine}</FKJE>"
            f"<MSJE>{'0.36852' if '03' in kinds else 'null'}</MSJE><XKZ>null</XKZ>"
            f"<JDRQ>{decided.year}年{decided.month}月{decided.day}日</JDRQ>"
            f"<GSJZRQ>{decided + dt.timedelta(days=365):%Y-%m-%d}</GSJZRQ>"
            f"{self._agency(division, agency)}</CFJD>"
        )
        return self._document(msg_id, "PENALTY_DECISION", division, body, "utf-8")

    def _document(self, msg_id: str, msg_type: str, sender: str, body: str, encoding: str) -> bytes:
        label = "GB2312" if encoding == "gb2312" else "UTF-8"
        text = (
            f'<?xml version="1.0" encoding="{label}"?>\n<YJZFMessage version="1.0">'
            f"{self._head(msg_id, msg_type, sender)}<Body>{body}</Body></YJZFMessage>\n"
        )
        if encoding == "gb2312":
            return text.encode("gbk")
        data = text.encode("utf-8")
        return codecs.BOM_UTF8 + data if encoding == "bom" else data


def malformed(body: bytes) -> bytes:
    """``body`` cut before a tag near its middle (the XML does not close; the text decodes)."""
    return body[: body.index(b"<", len(body) // 2)]


def hostile(msg_id: str = "YJZF20240101000000999999") -> bytes:
    """A billion-laughs document: a DTD with nested entities (refused, never expanded)."""
    return (
        '<?xml version="1.0"?><!DOCTYPE YJZFMessage [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f"<YJZFMessage><Head><msgId>{msg_id}</msgId></Head>&c;</YJZFMessage>"
    ).encode()


def undecodable(body: bytes) -> bytes:
    """A UTF-8 document re-encoded as GBK while still declaring UTF-8."""
    return body.decode("utf-8").encode("gbk")


def oversized(body: bytes, size: int = 2 * 1024 * 1024 + 1) -> bytes:
    """``body`` padded with white space past ``size`` bytes."""
    return body + b" " * max(0, size - len(body))


def msg_id_of(body: bytes) -> str:
    """The msgId of a body the simulator wrote (empty when it has none)."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(body, parser)
        return (root.findtext("Head/msgId") or "").strip()
    except etree.XMLSyntaxError:
        return ""


# --- the client -------------------------------------------------------------------------------


@dataclass
class YjzfClient:
    """The YJZF push client: signs, sends, reads the Ack, resends per README §2.6."""

    url: str
    secret: str = TEST_SECRET
    app_id: str = APP_ID
    resend_delays: Sequence[float] = (0.2, 0.5, 1.0)
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(SHANGHAI))
    attempts: list[Attempt] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_nonce: str = "0000000000000000"

    def push(self, body: bytes, faults: Sequence[Fault] = ()) -> Result:
        """Send ``body`` until it is done, flagged, or the resends run out; ``faults`` apply to
        the first attempt only (a resend is a correct one, as the real client's would be)."""
        msg_id = msg_id_of(body) or "-"
        made: list[Attempt] = []
        state: State = "gave_up"
        for delay in (0.0, *self.resend_delays):
            time.sleep(delay)
            attempt = self.send_once(body, faults if not made else ())
            made.append(attempt)
            state_now = _state(attempt)
            if state_now is not None:
                state = state_now
                break
        result = Result(msg_id, state, tuple(made))
        with self._lock:
            self.results[msg_id] = result
        return result

    def send_once(self, body: bytes, faults: Sequence[Fault] = ()) -> Attempt:
        """One HTTP attempt with ``faults`` applied; the answer (status 0: none) is recorded."""
        kinds = {f.kind: f for f in faults}
        at = self.clock()
        if "stale_timestamp" in kinds:
            at -= dt.timedelta(seconds=kinds["stale_timestamp"].seconds or 600)
        nonce = self._last_nonce if "replayed_nonce" in kinds else secrets.token_hex(8)
        self._last_nonce = nonce
        key = "not-the-secret" if "wrong_secret" in kinds else self.secret
        headers = signed_headers(key, self.app_id, body, at, nonce)
        if "missing_header" in kinds:
            del headers["X-YJZF-Nonce"]
        headers["Content-Length"] = str(len(body))
        read = kinds["timeout"].seconds if "timeout" in kinds else self.read_timeout_s
        content: bytes | Iterator[bytes] = body
        if "slow_body" in kinds:
            content = _trickle(body, kinds["slow_body"].seconds)
        started = time.monotonic()
        try:
            answer = httpx.post(
                self.url + PATH,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(read, connect=self.connect_timeout_s),
            )
            code, reason = _ack(answer.content)
            attempt = Attempt(msg_id_of(body), answer.status_code, code, reason, 0.0)
        except httpx.HTTPError as exc:
            attempt = Attempt(msg_id_of(body), 0, "", type(exc).__name__, 0.0)
        attempt = Attempt(
            attempt.msg_id, attempt.status, attempt.code, attempt.reason, time.monotonic() - started
        )
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def push_concurrently(self, body: bytes, copies: int) -> list[Attempt]:
        """Send ``copies`` identical requests at once (each signed on its own), no resends."""
        out: list[Attempt] = []
        lock = threading.Lock()

        def one() -> None:
            """Send one copy and keep its attempt."""
            attempt = self.send_once(body)
            with lock:
                out.append(attempt)

        threads = [threading.Thread(target=one) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return out


def _trickle(body: bytes, seconds: float) -> Iterator[bytes]:
    pieces = 4
    step = max(1, len(body) // pieces)
    for start in range(0, len(body), step):
        yield body[start : start + step]
        time.sleep(seconds / pieces)


def _ack(content: bytes) -> tuple[str, str]:
    """(code, reason) of an ``<Ack>`` answer; ("", "") when the answer is not one."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return "", ""
    if root.tag != "Ack":
        return "", ""
    return (root.findtext("code") or "").strip(), (root.findtext("reason") or "").strip()


def _state(attempt: Attempt) -> State | None:
    """What the sender does after ``attempt`` (README §2.6); None: resend."""
    if attempt.status == 200 and attempt.code == "0":
        return "accepted"
    if attempt.status == 200 and attempt.code == "1":
        return "duplicate"
    if attempt.status in (200, 401) and attempt.code == "2":
        return "flagged"
    if attempt.status == 413:
        return "flagged"
    return None
