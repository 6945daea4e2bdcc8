"""A simulator of the 联合惩戒 API, served on loopback by ``HttpSimulator``.

It behaves as the README says the system does, so that the adapter is tested against the rules
rather than against itself:

- ``POST /oauth/token`` (§2.2): HTTP Basic client credentials (401 ``invalid_client``),
  ``grant_type=client_credentials`` (400 ``unsupported_grant_type``), at most 10 tokens a minute
  per client (429); a new token revokes the client's previous one (Q2); ``expires_in`` 7200,
  as a string with ``expires_in_as_string``;
- every API call needs a live bearer token: else HTTP 401 ``{"error":"invalid_token"}``, or
  behind the old gateway (``legacy_gateway``, Q3) HTTP 200 with code 40101 (expired) / 40102
  (unknown or revoked); ``X-Request-Id`` must repeat ``requestId`` / ``feedbackId`` (40001);
  more than ``rate_per_s`` calls in a second answer HTTP 429 + ``Retry-After`` with 42901;
  01:00–01:30 by the simulator's clock every query answers 50301 (Q9);
- a query (§4.1, §4.2) is checked whole (40001 malformed, 40002 more than 50 subjects, 40003
  field or scene code) and per subject (S01 id number fails GB 11643, S02 USCC fails GB 32100 or
  names another organisation, S03 subject type, S04 for subjects marked ``unavailable``); a
  subject on the list (``add_debtor``) is answered with its cases and the measures that apply to
  the query's field and scene, duplicates kept (Q7), its id number as the court holds it (a
  15-digit one, Q6); results are sorted by subject type, not by ``seq`` (Q8); ``isDishonest``
  is spelt as ``dishonest_style`` says (Q1);
- a feedback (§4.3) is checked (40001, 40003, 40005 measure not for this field) and stored
  idempotently on ``feedbackId``: the same content again answers 0 with the original
  ``feedbackNo`` and ``"duplicate": true``, other content 40004.

Faults: ``fail_next(code)`` answers the next API calls with a business code (50000, 50301 …);
``HttpSimulator.inject`` adds HTTP-level ones: ``rate_limited(n)`` (429 + ``Retry-After``),
``gateway_error()`` (an HTML 502/503 page), ``Fault(kind="delay")`` (a timeout),
``Fault(kind="malformed")``, ``Fault(kind="drop")``.

Example::

    platform = JointPunishmentPlatform()
    platform.add_debtor(Debtor(name="张小三", id_number="350102198806151233", ...))
    with serve(platform) as simulator:
        connection = SPEC.connect(config_for(simulator.url))
        ...
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from pydantic_core import PydanticCustomError

from adapters._simulators.http import Fault, HttpSimulator, Request, Response
from schemas.identifiers import check_resident_id, check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "SAMPLE_TOKEN",
    "CourtCase",
    "Debtor",
    "JointPunishmentPlatform",
    "gateway_error",
    "rate_limited",
    "serve",
]

DEMO_CLIENT_ID = "mzf-esb"
DEMO_CLIENT_SECRET = "Qm9zc0hvZ2dAMjAyNCNmaiFlc2I"
"""The README's test credentials (§2.2), also the adapter's demo config."""

SAMPLE_TOKEN = "2YotnFZFEjr1zCsicMWpAA.a1b2c3d4e5f60718"
"""The fixed token of the README's samples."""

TOKEN_LIFETIME_S = 7200
TOKENS_PER_MINUTE = 10

MESSAGES = {
    "0": "success",
    "40001": "参数错误",
    "40002": "主体数量超过50",
    "40003": "field/scene 代码错误",
    "40004": "feedbackId 重复且内容不一致",
    "40005": "惩戒措施代码不适用于该领域",
    "40101": "token已过期",
    "40102": "token无效",
    "40301": "无权查询该领域",
    "42901": "请求过于频繁",
    "50000": "系统异常",
    "50301": "法院数据同步中",
    "S01": "证件号码校验不通过",
    "S02": "名称与统一社会信用代码不一致",
    "S03": "主体类型错误",
    "S04": "该主体数据暂不可用",
}

FIELDS = frozenset(
    {"SCJG", "STHJ", "WSJK", "YJGL", "YPJG", "XFJY", "WHLY", "NYNC", "HYYY", "CSGL", "JTYS", "QTLY"}
)
SCENES = frozenset({"01", "02", "03", "09"})
ID_TYPES = frozenset({"111", "414", "511", "516", "990"})
MEASURES: Mapping[str, tuple[str, frozenset[str] | None]] = {
    "CJ001": ("限制担任国有企业法定代表人、董事、监事、高级管理人员", None),
    "CJ011": ("限制参与政府采购活动", None),
    "CJ012": ("限制参与工程建设项目招标投标", None),
    "CJ018": ("限制获得政府补贴性资金和社会保障资金支持", None),
    "CJ021": ("在行政许可审批中从严审查", None),
    "CJ031": ("限制担任市场主体的法定代表人、负责人", frozenset({"SCJG"})),
    "CJ032": ("列为重点监管对象，提高检查比例和频次", None),
    "CJ041": ("限制取得安全生产许可证", frozenset({"YJGL"})),
    "CJ051": ("限制取得药品生产、经营许可", frozenset({"YPJG"})),
    "CJ061": ("在排污许可等生态环境行政许可中从严审查", frozenset({"STHJ"})),
    "CJ071": ("限制取得旅行社业务经营许可", frozenset({"WHLY"})),
    "CJ091": ("限制取得医疗机构执业许可", frozenset({"WSJK"})),
}
"""CSDM (README §5.1): name and the fields it applies to (None = all)."""

_BEARER = re.compile(r"Bearer ([!-~]+)")
_ZXSJ = "%Y-%m-%d %H:%M:%S"
_QUERY_KEYS = ("requestId", "orgCode", "orgName", "field", "scene", "subjects")
_FEEDBACK_KEYS = (
    "feedbackId",
    "orgCode",
    "orgName",
    "field",
    "bizNo",
    "subjectType",
    "name",
    "ahList",
    "measures",
)


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


class _Refused(Exception):
    """A whole-call refusal: answered HTTP 200 with ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CourtCase:
    """One listing of a debtor: 执行法院, 案号 and 发布日期 as the court writes them, 失信情形."""

    zxfy: str
    ah: str
    fbrq: str
    sxqx: str = "有履行能力而拒不履行生效法律文书确定义务"


@dataclass(frozen=True)
class Debtor:
    """A subject on the list of 失信被执行人, keyed by its USCC or its id number.

    ``id_number`` is the number as the court holds it (possibly 15 digits, Q6); a query for its
    18-digit form finds it. ``measures`` may repeat a code (two cases imposing it, Q7).
    """

    name: str
    subject_type: str = "1"
    uscc: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    fddbr: str | None = None
    cases: tuple[CourtCase, ...] = ()
    measures: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The identifier a query finds the debtor by (an id number in its 18-digit form)."""
        if self.uscc:
            return self.uscc
        return check_resident_id(self.id_number or "")


@dataclass
class JointPunishmentPlatform:
    """The system's state and rules; ``handle`` answers one HTTP request.

    ``clients`` maps client ids to secrets; ``clock`` is the system's time (tests move it to
    expire tokens or to reach the nightly sync); ``sync_window`` is the nightly court data sync
    (Q9, every query answers 50301), None for none. ``organisations`` maps a USCC to the name and
    法定代表人 the register holds (a query under a different name answers S02). ``feedbacks``
    holds what was stored, by ``feedbackId``.
    """

    clients: Mapping[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    clock: Callable[[], dt.datetime] = field(default=_now)
    sync_window: tuple[dt.time, dt.time] | None = (dt.time(1, 0), dt.time(1, 30))
    legacy_gateway: bool = False
    expires_in_as_string: bool = False
    dishonest_style: Literal["string", "number", "boolean"] = "string"
    null_lists: bool = False
    rate_per_s: int = 20
    unavailable: set[str] = field(default_factory=set)
    organisations: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    debtors: dict[str, Debtor] = field(init=False, default_factory=dict)
    feedbacks: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)
    tokens_issued: int = field(init=False, default=0)
    _tokens: dict[str, tuple[str, dt.datetime]] = field(init=False, default_factory=dict)
    _next_tokens: deque[str] = field(init=False, default_factory=deque)
    _token_times: dict[str, deque[dt.datetime]] = field(init=False, default_factory=dict)
    _call_times: dict[str, deque[dt.datetime]] = field(init=False, default_factory=dict)
    _failures: deque[str] = field(init=False, default_factory=deque)
    _counter: int = field(init=False, default=0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    # --- test set-up --------------------------------------------------------------------------

    def add_debtor(self, debtor: Debtor) -> None:
        """Put ``debtor`` on the list."""
        with self._lock:
            self.debtors[debtor.key] = debtor

    def issue_next(self, token: str) -> None:
        """Make ``token`` the next token issued (e.g. the samples' ``SAMPLE_TOKEN``)."""
        with self._lock:
            self._next_tokens.append(token)

    def expire_tokens(self) -> None:
        """Let every token expire now (as 7200 s passing would)."""
        with self._lock:
            past = self.clock() - dt.timedelta(seconds=1)
            self._tokens = {t: (client, past) for t, (client, _) in self._tokens.items()}

    def revoke_tokens(self) -> None:
        """Forget every token (credentials revoked, or a token issued to another worker)."""
        with self._lock:
            self._tokens.clear()

    def fail_next(self, code: str, times: int = 1) -> None:
        """Answer the next ``times`` authenticated API calls with business ``code``."""
        with self._lock:
            self._failures.extend([code] * times)

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The answer to one request."""
        with self._lock:
            if request.method == "POST" and request.path == "/oauth/token":
                return self._token(request)
            if request.method != "POST" or request.path not in (
                "/api/v1/dishonest/query",
                "/api/v1/feedback",
            ):
                return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>")
            refused = self._authenticate(request)
            if refused is not None:
                return refused
            try:
                if self._failures:
                    raise _Refused(self._failures.popleft())
                if request.path == "/api/v1/feedback":
                    return _json(200, self._feedback(request))
                return _json(200, self._query(request))
            except _Refused as refusal:
                return _json(200, _answer(refusal.code))

    # --- tokens -------------------------------------------------------------------------------

    def _client(self, request: Request) -> str | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = self.clients.get(client)
        ok = expected is not None and secrets.compare_digest(expected, secret)
        return client if ok else None

    def _token(self, request: Request) -> Response:
        client = self._client(request)
        if client is None:
            return _json(401, {"error": "invalid_client", "error_description": "bad client"})
        form = parse_qs(request.body.decode("ascii", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return _json(400, {"error": "unsupported_grant_type"})
        now = self.clock()
        if not _within_limit(self._token_times, client, now, TOKENS_PER_MINUTE, 60):
            return _json(429, {"error": "rate_limited"}, retry_after=60)
        token = self._next_tokens.popleft() if self._next_tokens else secrets.token_urlsafe(24)
        self._tokens = {t: v for t, v in self._tokens.items() if v[0] != client}  # Q2
        self._tokens[token] = (client, now + dt.timedelta(seconds=TOKEN_LIFETIME_S))
        self.tokens_issued += 1
        lifetime: int | str = TOKEN_LIFETIME_S
        if self.expires_in_as_string:
            lifetime = str(TOKEN_LIFETIME_S)
        scope = form.get("scope", ["dishonest.query dishonest.feedback"])[0]
        return _json(
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": lifetime, "scope": scope},
        )

    def _authenticate(self, request: Request) -> Response | None:
        match = _BEARER.fullmatch(request.headers.get("authorization", ""))
        held = self._tokens.get(match[1]) if match else None
        now = self.clock()
        if held is None or held[1] <= now:
            if not self.legacy_gateway:
                return _json(401, {"error": "invalid_token"})
            return _json(200, _answer("40101" if held is not None else "40102"))
        if not _within_limit(self._call_times, held[0], now, self.rate_per_s, 1):
            return _json(429, _answer("42901"), retry_after=1)
        return None

    # --- queries ------------------------------------------------------------------------------

    def _query(self, request: Request) -> dict[str, Any]:
        document = _document(request, _QUERY_KEYS, "requestId")
        if document["field"] not in FIELDS or document["scene"] not in SCENES:
            raise _Refused("40003")
        subjects = document["subjects"]
        if not isinstance(subjects, list) or not subjects:
            raise _Refused("40001")
        if len(subjects) > 50:
            raise _Refused("40002")
        seqs = [s.get("seq") if isinstance(s, dict) else None for s in subjects]
        if sorted(s for s in seqs if isinstance(s, int)) != list(range(1, len(subjects) + 1)):
            raise _Refused("40001")
        now = self.clock()
        window = self.sync_window
        if window is not None and window[0] <= now.time() < window[1]:
            raise _Refused("50301")  # Q9
        results = [self._result(s, document["field"], document["scene"]) for s in subjects]
        results.sort(key=lambda r: str(r.get("subjectType", "9")))  # Q8: by type, not seq
        self._counter += 1
        return _answer(
            "0",
            queryId=f"CX{now:%Y%m%d%H%M%S}{self._counter:06d}",
            queryTime=f"{now:%Y-%m-%d %H:%M:%S}",
            results=results,
        )

    def _result(self, subject: dict[str, Any], fld: str, scene: str) -> dict[str, Any]:
        seq, kind = subject["seq"], subject.get("subjectType")
        code, key = _subject_check(subject, self.organisations)
        if code is None and key in self.unavailable:
            code = "S04"
        if code is not None:
            return {"seq": seq, "errCode": code, "errMsg": MESSAGES[code]}
        debtor = self.debtors.get(str(key))
        natural = kind == "4"
        registered = self.organisations.get(str(key), (None, None))
        entry: dict[str, Any] = {
            "seq": seq,
            "subjectType": kind,
            "name": debtor.name if debtor else subject.get("name"),
            "uscc": None if natural else subject.get("uscc"),
            "idType": subject.get("idType") if natural else None,
            "idNumber": (debtor.id_number if debtor else subject.get("idNumber"))
            if natural
            else None,
            "fddbr": debtor.fddbr if debtor else registered[1],
            "isDishonest": self._flag(debtor is not None),
        }
        if debtor is None:
            lists: Any = None if self.null_lists else []
            entry |= {"cases": lists, "measures": lists}
        else:
            entry |= {
                "cases": [vars(case) for case in debtor.cases],
                "measures": [
                    {"cscode": c, "csname": MEASURES[c][0], "csyj": "发改财金〔2016〕141号"}
                    for c in debtor.measures
                    if _applies(c, fld, scene)
                ],
            }
        entry["bizNo"] = subject.get("bizNo", "")
        return entry

    def _flag(self, dishonest: bool) -> Any:
        if self.dishonest_style == "boolean":
            return dishonest
        if self.dishonest_style == "number":
            return int(dishonest)
        return "1" if dishonest else "0"

    # --- feedback -----------------------------------------------------------------------------

    def _feedback(self, request: Request) -> dict[str, Any]:
        document = _document(request, _FEEDBACK_KEYS, "feedbackId")
        if document["field"] not in FIELDS:
            raise _Refused("40003")
        _check_feedback(document)
        fingerprint = json.dumps(
            {k: v for k, v in document.items() if k != "feedbackId"},
            ensure_ascii=False,
            sort_keys=True,
        )
        stored = self.feedbacks.get(document["feedbackId"])
        if stored is not None:
            if stored[0] != fingerprint:
                raise _Refused("40004")
            return _answer("0", data={"feedbackNo": stored[1], "duplicate": True})
        self._counter += 1
        number = f"FK{self.clock():%Y%m%d%H%M%S}{self._counter:06d}"
        self.feedbacks[document["feedbackId"]] = (fingerprint, number)
        return _answer("0", data={"feedbackNo": number, "duplicate": False})


# --- rules ------------------------------------------------------------------------------------


def _answer(code: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"code": code, "msg": MESSAGES.get(code, "")}
    if code != "0" and "data" not in extra:
        extra = {"data": None, **extra}
    return answer | extra


def _json(status: int, document: Any, retry_after: int | None = None) -> Response:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, headers)


def _within_limit(
    windows: dict[str, deque[dt.datetime]], client: str, now: dt.datetime, limit: int, span: int
) -> bool:
    times = windows.setdefault(client, deque())
    while times and (now - times[0]).total_seconds() >= span:
        times.popleft()
    if len(times) >= limit:
        return False
    times.append(now)
    return True


def _document(request: Request, keys: tuple[str, ...], id_key: str) -> dict[str, Any]:
    try:
        document = json.loads(request.body.decode("utf-8"))
    except ValueError:
        raise _Refused("40001") from None
    if not isinstance(document, dict) or any(k not in document for k in keys):
        raise _Refused("40001")
    request_id = document[id_key]
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        raise _Refused("40001")
    if request.headers.get("x-request-id") != request_id:
        raise _Refused("40001")
    return document


def _uscc_ok(code: Any) -> bool:
    try:
        return isinstance(code, str) and check_uscc(code) == code
    except PydanticCustomError:
        return False


def _subject_check(  # noqa: PLR0911  (one return per errCode rule of README §5.2)
    subject: dict[str, Any], organisations: Mapping[str, tuple[str, str | None]]
) -> tuple[str | None, str | None]:
    """The subject's errCode (or None) and the key it is looked up by."""
    kind = subject.get("subjectType")
    if kind not in ("1", "2", "3", "4") or not isinstance(subject.get("name"), str):
        return "S03", None
    if kind == "4":
        if subject.get("idType") not in ID_TYPES or "uscc" in subject:
            return "S03", None
        number = subject.get("idNumber")
        if subject["idType"] != "111":
            return None, str(number)
        try:
            return None, check_resident_id(str(number))
        except PydanticCustomError:
            return "S01", None
    code = subject.get("uscc")
    if not _uscc_ok(code) or "idNumber" in subject:
        return "S02", None
    registered = organisations.get(str(code))
    if registered is not None and registered[0] != subject["name"]:
        return "S02", None
    return None, str(code)


def _applies(code: str, fld: str, scene: str) -> bool:
    fields = MEASURES[code][1]
    if code == "CJ021" and scene != "01":
        return False
    return fields is None or fld in fields


def _check_feedback(document: dict[str, Any]) -> None:
    kind = document["subjectType"]
    if kind == "4":
        if document.get("idType") not in ID_TYPES or not document.get("idNumber"):
            raise _Refused("40001")
    elif kind in ("1", "2", "3"):
        if not _uscc_ok(document.get("uscc")):
            raise _Refused("40001")
    else:
        raise _Refused("40001")
    if not isinstance(document["ahList"], list) or not isinstance(document["bizNo"], str):
        raise _Refused("40001")
    measures = document["measures"]
    if not isinstance(measures, list) or not measures:
        raise _Refused("40001")
    for measure in measures:
        _check_measure(measure, document["field"])


def _check_measure(measure: Any, fld: str) -> None:
    if not isinstance(measure, dict) or measure.get("cscode") not in MEASURES:
        raise _Refused("40001")
    if measure.get("zxzt") not in ("1", "2") or len(str(measure.get("zxqk", ""))) > 500:
        raise _Refused("40001")
    try:
        dt.datetime.strptime(str(measure.get("zxsj")), _ZXSJ)
    except ValueError:
        raise _Refused("40001") from None
    if not _applies(measure["cscode"], fld, "01"):
        raise _Refused("40005")


# --- faults and serving -----------------------------------------------------------------------

GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>"
)


def rate_limited(retry_after: int) -> Fault:
    """The gateway's rate-limit answer: HTTP 429, code 42901, ``Retry-After`` (README §2.3)."""
    body = json.dumps(_answer("42901"), ensure_ascii=False).encode()
    return Fault(kind="status", status=429, retry_after=retry_after, body=body)


def gateway_error(status: int = 502, retry_after: int | None = None) -> Fault:
    """An HTML error page from the gateway in front of the API, for ``inject``."""
    return Fault(kind="status", status=status, retry_after=retry_after, body=GATEWAY_PAGE)


def serve(platform: JointPunishmentPlatform | None = None, port: int = 0) -> HttpSimulator:
    """An ``HttpSimulator`` (not yet started; use it as a context manager) of ``platform``."""
    return HttpSimulator((platform or JointPunishmentPlatform()).handle, port=port)
