"""A simulator of the 12345 work-order open API v3, served on loopback by ``HttpSimulator``.

It behaves as the README says the platform does, so that the adapter is tested against the
rules rather than against itself:

- every request needs ``Authorization: Bearer <key>`` with a key in ``api_keys`` (else HTTP 401
  ``1101``); a key is limited to ``per_minute`` requests in a sliding minute and ``per_second``
  in any second (HTTP 429 ``1429`` with ``Retry-After``); ``lock_after`` refusals within 10
  minutes lock the key for 10 minutes (HTTP 403 ``1103``) (§2);
- ``GET /api/v3/workorders`` pages the subscriber's dispatch log oldest first (§2.1): ``limit``
  1..100 (else 400 ``1001``), a cursor names a log position (``fj12345|sub=…|seq=N|`` in
  base64url, as in the samples), the same cursor gives the same items, an empty page returns the
  cursor sent, an unknown or expired cursor is 400 ``1002``, no cursor starts at the
  subscription's creation;
- ``dispatch`` adds a work order to the log, ``repush`` pushes an unaccepted one again with a
  new ``TSSJ`` (§2.2, Q5), ``lower_case`` keys imitate the migrated orders (Q1);
- ``POST …/{GDBH}/accept`` and ``…/feedback`` check the body as the OpenAPI schema says (400
  ``1001``; 422 ``2006`` for a short ``CLCS`` or ``AJBSM`` missing for ``01``), answer 404
  ``2001`` for an unknown order, 403 ``1102`` for another subscriber's, 409 ``2005`` for a
  re-dispatched one, and are idempotent: 409 ``2003`` / ``2004`` when already done (§2.2, §7);
  ``X-Request-Id`` is echoed.

Faults, with ``HttpSimulator.inject``: ``gateway_page(502|503|504)`` (the gateway's HTML page),
``rate_limited(n)`` (429, ``Retry-After: n``), ``busy(500)`` / ``busy(200)`` (``9999``, also
with HTTP 200 as old nodes do, Q6), ``Fault(kind="delay", seconds=…)`` for timeouts,
``Fault(kind="malformed")`` and ``Fault(kind="drop")``.

Example::

    platform = Hotline12345Platform()
    platform.dispatch(work_order)
    with serve(platform) as simulator:
        ...
        simulator.inject(rate_limited(2))
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters._simulators.http import Fault, HttpSimulator, Request, Response

__all__ = [
    "DEMO_API_KEY",
    "Hotline12345Platform",
    "busy",
    "decode_cursor",
    "encode_cursor",
    "gateway_page",
    "rate_limited",
    "serve",
]

DEMO_API_KEY = "fj12345_test_7Qm2xR9vL4kP8sT1"
"""The README's published test key (§2), also the adapter's demo config."""

MESSAGES = {
    "0000": "成功",
    "1001": "参数错误",
    "1002": "游标无效或已过期",
    "1101": "令牌无效或已过期",
    "1102": "无权访问该工单",
    "1103": "令牌已被临时锁定",
    "1429": "请求过于频繁，请稍后重试",
    "2001": "工单不存在",
    "2003": "工单已签收",
    "2004": "工单已办结",
    "2005": "工单已退回或已改派",
    "2006": "反馈内容不完整",
    "9999": "系统繁忙",
}
STATUS = {"1001": 400, "1002": 400, "1101": 401, "1102": 403, "1103": 403, "1429": 429}
STATUS |= {"2001": 404, "2003": 409, "2004": 409, "2005": 409, "2006": 422, "9999": 500}

LOCK_S = 600.0
WINDOW_S = 60.0
_ORDER = re.compile(r"/api/v3/workorders/(?P<gdbh>[^/]+)/(?P<action>accept|feedback)")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_ACCEPT_KEYS = ("PDXH", "QSDWTYDM", "QSDWMC", "QSR", "QSSJ")
_FEEDBACK_KEYS = ("BJJG", "BJJGMC", "CLCS", "BJSJ", "BLDWMC", "BLDWTYDM", "BLR", "BLRZH")
_BJJG = {"01", "02", "03", "04", "09"}
GATEWAY_PAGE = (
    "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
    "<hr><center>fj12345-gateway</center></body></html>"
)


def encode_cursor(subscription: str, seq: int) -> str:
    """The cursor of log position ``seq`` (base64url with padding, like the samples)."""
    text = f"fj12345|sub={subscription}|seq={seq}|"
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")


def decode_cursor(cursor: str) -> tuple[str, int] | None:
    """(subscription, seq) of a cursor, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (ValueError, binascii.Error, UnicodeError):
        return None
    found = re.fullmatch(r"fj12345\|sub=(?P<sub>[^|]+)\|seq=(?P<seq>[0-9]+)\|", text)
    return (found["sub"], int(found["seq"])) if found else None


class _Refused(Exception):
    def __init__(self, code: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.headers = dict(headers or {})


@dataclass
class _Key:
    """The rate-limit state of one API key."""

    sent: deque[float] = field(default_factory=deque)
    refusals: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


@dataclass
class Hotline12345Platform:
    """The platform's state and rules; ``handle`` answers one HTTP request.

    ``clock`` gives seconds (monotonic) for the rate limit; tests lower ``per_minute`` and
    ``per_second`` to reach it quickly. ``log`` is the subscriber's dispatch log (seq, item);
    ``accepted``, ``feedback`` and ``reassigned`` are keyed by ``(GDBH, PDXH)`` / ``GDBH``.
    """

    api_keys: frozenset[str] = frozenset({DEMO_API_KEY})
    subscription: str = "fjzf"
    first_seq: int = 880_000
    per_minute: int = 600
    per_second: int = 20
    lock_after: int = 3
    clock: Callable[[], float] = field(default=time.monotonic)
    log: list[tuple[int, dict[str, Any]]] = field(init=False, default_factory=list)
    accepted: dict[tuple[str, int], dict[str, Any]] = field(init=False, default_factory=dict)
    feedback: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    reassigned: set[tuple[str, int]] = field(init=False, default_factory=set)
    foreign: set[str] = field(init=False, default_factory=set)
    expired_below: int = field(init=False, default=0)
    _start: int = field(init=False, default=0)
    _keys: dict[str, _Key] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._start = self.first_seq

    # --- test set-up --------------------------------------------------------------------------

    def dispatch(self, item: Mapping[str, Any], *, lower_case: bool = False) -> str:
        """Append a work order (wire form) to the log; returns the cursor *before* it."""
        with self._lock:
            before = self._last_seq()
            entry = {k.lower(): v for k, v in item.items()} if lower_case else dict(item)
            self.log.append((before + 1, copy.deepcopy(entry)))
            return encode_cursor(self.subscription, before)

    def repush(self, gdbh: str, pdxh: int, tssj: str) -> None:
        """Push an unaccepted dispatch again with a new ``TSSJ`` (§2.2, quirk Q5)."""
        with self._lock:
            item = next(i for _, i in reversed(self.log) if _key(i) == (gdbh, pdxh))
            again = {k: (tssj if k.upper() == "TSSJ" else v) for k, v in item.items()}
            self.log.append((self._last_seq() + 1, again))

    def cursor_at(self, seq: int) -> str:
        """The cursor naming log position ``seq``."""
        return encode_cursor(self.subscription, seq)

    def expire_cursors_below(self, seq: int) -> None:
        """Cursors before ``seq`` are older than 30 days: 400 ``1002``."""
        with self._lock:
            self.expired_below = seq

    def _last_seq(self) -> int:
        return self.log[-1][0] if self.log else self._start

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The answer to one request."""
        echo = (
            {"X-Request-Id": request.headers["x-request-id"]}
            if "x-request-id" in request.headers
            else {}
        )
        with self._lock:
            try:
                self._authenticate(request)
                if request.method == "GET" and request.path == "/api/v3/workorders":
                    return self._json(200, self._page(request.query), echo)
                found = _ORDER.fullmatch(request.path)
                if request.method != "POST" or found is None:
                    return Response(404, b"<html><body>404 Not Found</body></html>", echo)
                return self._post(found["gdbh"], found["action"], request.body, echo)
            except _Refused as refused:
                body = {"code": refused.code, "msg": MESSAGES[refused.code]}
                return self._json(STATUS[refused.code], body, echo | refused.headers)

    def _json(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(status, data, {"Content-Type": "application/json;charset=UTF-8", **headers})

    def _authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or key not in self.api_keys:
            raise _Refused("1101")
        state = self._keys.setdefault(key, _Key())
        now = self.clock()
        if now < state.locked_until:
            raise _Refused("1103")
        while state.sent and now - state.sent[0] >= WINDOW_S:
            state.sent.popleft()
        last_second = sum(1 for at in state.sent if now - at < 1.0)
        if len(state.sent) >= self.per_minute or last_second >= self.per_second:
            self._refuse(state, now)
        state.sent.append(now)

    def _refuse(self, state: _Key, now: float) -> None:
        while state.refusals and now - state.refusals[0] >= LOCK_S:
            state.refusals.popleft()
        state.refusals.append(now)
        if len(state.refusals) > self.lock_after:
            state.locked_until = now + LOCK_S
            raise _Refused("1103")
        wait = 1 if len(state.sent) < self.per_minute else int(WINDOW_S - (now - state.sent[0])) + 1
        raise _Refused("1429", {"Retry-After": str(min(max(wait, 1), 120))})

    # --- the work-order list ------------------------------------------------------------------

    def _page(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        limit_text = (query.get("limit") or ["20"])[0]
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise _Refused("1001")
        cursors = query.get("cursor")
        if cursors is None:
            seq, sent = self._start, None
        else:
            decoded = decode_cursor(cursors[0])
            if decoded is None or decoded[0] != self.subscription:
                raise _Refused("1002")
            seq, sent = decoded[1], cursors[0]
            if seq < self.expired_below or seq > self._last_seq():
                raise _Refused("1002")
        after = [(s, i) for s, i in self.log if s > seq]
        items = after[: int(limit_text)]
        last = items[-1][0] if items else seq
        next_cursor = (
            sent if not items and sent is not None else encode_cursor(self.subscription, last)
        )
        data = {
            "items": [copy.deepcopy(i) for _, i in items],
            "nextCursor": next_cursor,
            "hasMore": len(after) > len(items),
        }
        return {"code": "0000", "msg": "成功", "data": data, "serverTime": _server_time()}

    # --- accept and feedback ------------------------------------------------------------------

    def _post(self, gdbh: str, action: str, body: bytes, echo: Mapping[str, str]) -> Response:
        document = _object(body)
        if gdbh in self.foreign:
            raise _Refused("1102")
        dispatches = {k for _, i in self.log if (k := _key(i))[0] == gdbh}
        if not dispatches:
            raise _Refused("2001")
        if action == "accept":
            return self._accept(gdbh, dispatches, document, echo)
        return self._feedback(gdbh, dispatches, document, echo)

    def _accept(
        self,
        gdbh: str,
        dispatches: set[tuple[str, int]],
        document: dict[str, Any],
        echo: Mapping[str, str],
    ) -> Response:
        _check_keys(document, _ACCEPT_KEYS, ())
        pdxh = document["PDXH"]
        if (
            not isinstance(pdxh, int)
            or isinstance(pdxh, bool)
            or not _TIME.fullmatch(str(document["QSSJ"]))
        ):
            raise _Refused("1001")
        if (gdbh, pdxh) not in dispatches:
            raise _Refused("1001")
        if (gdbh, pdxh) in self.reassigned:
            raise _Refused("2005")
        if (gdbh, pdxh) in self.accepted:
            raise _Refused("2003")
        self.accepted[(gdbh, pdxh)] = document
        answer = {"code": "0000", "msg": "签收成功", "data": {"GDBH": gdbh, "PDXH": pdxh}}
        return self._json(200, answer, echo)

    def _feedback(
        self,
        gdbh: str,
        dispatches: set[tuple[str, int]],
        document: dict[str, Any],
        echo: Mapping[str, str],
    ) -> Response:
        _check_keys(document, _FEEDBACK_KEYS, ("AJBSM",))
        if document["BJJG"] not in _BJJG or not _TIME.fullmatch(str(document["BJSJ"])):
            raise _Refused("1001")
        clcs = document["CLCS"]
        if not isinstance(clcs, str) or not 10 <= len(clcs) <= 2000:
            raise _Refused("2006")
        if (document["BJJG"] == "01") != ("AJBSM" in document):
            raise _Refused("2006")
        if all(d in self.reassigned for d in dispatches):
            raise _Refused("2005")
        if gdbh in self.feedback:
            raise _Refused("2004")
        self.feedback[gdbh] = document
        return self._json(200, {"code": "0000", "msg": "反馈成功"}, echo)


def _key(item: Mapping[str, Any]) -> tuple[str, int]:
    upper = {k.upper(): v for k, v in item.items()}
    return str(upper["GDBH"]), int(upper["PDXH"])


def _object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except ValueError:
        raise _Refused("1001") from None
    if not isinstance(document, dict):
        raise _Refused("1001")
    return document


def _check_keys(
    document: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    """Every required key present and non-empty, no other key (additionalProperties: false)."""
    if not set(required) <= set(document) or not set(document) <= {*required, *optional}:
        raise _Refused("1001")
    if any(document[k] in (None, "") for k in document):
        raise _Refused("1001")


def _server_time() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600))


# --- faults and serving -----------------------------------------------------------------------


def gateway_page(status: int = 503) -> Fault:
    """The gateway's HTML error page (502/503/504, README §7), for ``inject``."""
    body = GATEWAY_PAGE.format(status=status).encode("utf-8")
    return Fault(kind="status", status=status, body=body)


def rate_limited(retry_after: int) -> Fault:
    """The gateway's 429 with ``Retry-After`` and code ``1429`` (README §2), for ``inject``."""
    body = json.dumps({"code": "1429", "msg": MESSAGES["1429"]}, ensure_ascii=False).encode()
    return Fault(kind="status", status=429, retry_after=retry_after, body=body)


def busy(status: int = 500) -> Fault:
    """``9999`` 系统繁忙 with HTTP 500, or with HTTP 200 from an old gateway node (Q6)."""
    body = json.dumps({"code": "9999", "msg": MESSAGES["9999"]}, ensure_ascii=False).encode()
    if status == 200:
        return Fault(kind="malformed", body=body)
    return Fault(kind="status", status=status, body=body)


def serve(platform: Hotline12345Platform | None = None, port: int = 0) -> HttpSimulator:
    """An ``HttpSimulator`` (not yet started; use it as a context manager) of ``platform``."""
    return HttpSimulator((platform or Hotline12345Platform()).handle, port=port)
