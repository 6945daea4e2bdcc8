"""A simulator of the 卫健委 case API, served on loopback by ``HttpSimulator``.

It behaves as the README says the system does, so that the adapter is tested against the rules
rather than against itself:

- every request needs ``X-Api-Key`` with a key in ``api_keys`` (else HTTP 401 ``40101``); a
  key whose client certificate is not registered (``unregistered_keys``) gets 403 ``40301``;
  more than ``per_second`` requests of one key in a second get 429 ``42901`` with
  ``Retry-After`` (README §2, §5);
- ``GET /api/supervision/cases?updatedSince=&page=&size=`` (§2.1): ``updatedSince`` required,
  epoch ms; ``page`` 0-based (Q5); ``size`` 1..100 (else 400 ``40001``); the records with
  ``updateTime`` ≥ ``updatedSince`` (inclusive, Q4) ordered by ``updateTime`` then ``id``, in the
  Spring Data page shape (``content``, ``page``, ``size``, ``totalElements``, ``totalPages``,
  ``last``);
- ``upsert`` stores a record version; ``change`` makes a new version of a record (``version``
  + 1, a new ``updateTime``), as an officer's edit does;
- ``stale_once`` serves an older version of a record in the next page that lists the record
  (the read replica after a fail-over, Q3); ``bom`` starts every answer with a UTF-8 BOM
  (the gateway cache, Q7); ``duplicate_once`` lists a record twice in the next page.

Faults, with ``HttpSimulator.inject``: ``rate_limited(n)`` (429, ``Retry-After: n``),
``server_error()`` (500 ``50000``), ``gateway_page(502|503|504)`` (the gateway's HTML),
``Fault(kind="delay", seconds=…)`` for timeouts, ``Fault(kind="malformed")`` and
``Fault(kind="drop")``.

Example::

    api = HealthApi()
    api.upsert(record)
    with serve(api) as simulator:
        simulator.inject(rate_limited(2))
"""

from __future__ import annotations

import codecs
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters._simulators.http import Fault, HttpSimulator, Request, Response
from adapters.health.config import TEST_API_KEY
from adapters.health.wire import CASES_PATH

__all__ = [
    "HealthApi",
    "gateway_page",
    "now_ms",
    "rate_limited",
    "serve",
    "server_error",
]

MESSAGES = {
    200: "success",
    40001: "参数错误: updatedSince/page/size",
    40101: "API Key 无效",
    40301: "客户端证书未授权",
    42901: "请求过于频繁",
    50000: "系统内部错误",
}
STATUS = {40001: 400, 40101: 401, 40301: 403, 42901: 429, 50000: 500}
GATEWAY_PAGE = (
    "<html><head><title>{status}</title></head><body><h1>{status}</h1>"
    "<p>FJWJW API Gateway</p></body></html>"
)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


class _Refused(Exception):
    def __init__(self, code: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.headers = dict(headers or {})


def _order(record: Mapping[str, Any]) -> tuple[int, int]:
    return int(record["updateTime"]), int(str(record["id"]))


@dataclass
class HealthApi:
    """The system's state and rules; ``handle`` answers one HTTP request.

    ``records`` holds the current version of every case by ``id``; ``clock`` gives seconds
    (monotonic) for the rate limit.
    """

    api_keys: frozenset[str] = frozenset({TEST_API_KEY})
    unregistered_keys: frozenset[str] = frozenset()
    per_second: int = 5
    bom: bool = False
    clock: Callable[[], float] = field(default=time.monotonic)
    records: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _stale: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _duplicates: set[str] = field(init=False, default_factory=set)
    _sent: dict[str, deque[float]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    # --- set-up -------------------------------------------------------------------------------

    def upsert(self, record: Mapping[str, Any]) -> None:
        """Store ``record`` (wire form) as the current version of its ``id``."""
        with self._lock:
            self.records[str(record["id"])] = copy.deepcopy(dict(record))

    def change(self, record_id: str, update_time: int, **changes: Any) -> dict[str, Any]:
        """A new version of a record: ``version`` + 1, ``updateTime``, and ``changes``."""
        with self._lock:
            current = self.records[record_id]
            newer = {**copy.deepcopy(current), **changes}
            newer["version"] = int(current["version"]) + 1
            newer["updateTime"] = update_time
            self.records[record_id] = newer
            return copy.deepcopy(newer)

    def stale_once(self, record: Mapping[str, Any]) -> None:
        """Serve ``record`` (an older version) instead of the current one, once (Q3)."""
        with self._lock:
            self._stale[str(record["id"])] = copy.deepcopy(dict(record))

    def duplicate_once(self, record_id: str) -> None:
        """List the record twice in the next page that holds it."""
        with self._lock:
            self._duplicates.add(record_id)

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The answer to one request."""
        with self._lock:
            try:
                self._authenticate(request)
                if request.method != "GET" or request.path != CASES_PATH:
                    return Response(404, b"<html><body>404 Not Found</body></html>")
                return self._json(200, self._page(request.query), {})
            except _Refused as refused:
                body = {"code": refused.code, "message": MESSAGES[refused.code]}
                return self._json(
                    STATUS[refused.code], body | {"timestamp": now_ms()}, refused.headers
                )

    def _json(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if self.bom:
            data = codecs.BOM_UTF8 + data
        return Response(status, data, {"Content-Type": "application/json;charset=UTF-8", **headers})

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        if key not in self.api_keys:
            raise _Refused(40101)
        if key in self.unregistered_keys:
            raise _Refused(40301)
        sent = self._sent.setdefault(key, deque())
        now = self.clock()
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= self.per_second:
            raise _Refused(42901, {"Retry-After": "1"})
        sent.append(now)

    def _page(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        since, page, size = (
            _number(query, "updatedSince", None),
            _number(query, "page", 0),
            _number(query, "size", 20),
        )
        if not 1 <= size <= 100:
            raise _Refused(40001)
        matching = sorted(
            (r for r in self.records.values() if int(r["updateTime"]) >= since), key=_order
        )
        chosen = matching[page * size : (page + 1) * size]
        content = []
        for record in chosen:
            record_id = str(record["id"])
            content.append(copy.deepcopy(self._stale.pop(record_id, record)))
            if record_id in self._duplicates:
                self._duplicates.discard(record_id)
                content.append(copy.deepcopy(record))
        pages = (len(matching) + size - 1) // size
        data = {
            "content": content,
            "page": page,
            "size": size,
            "totalElements": len(matching),
            "totalPages": pages,
            "last": page >= pages - 1,
        }
        return {"code": 200, "message": "success", "data": data, "timestamp": now_ms()}


def _number(query: Mapping[str, list[str]], name: str, default: int | None) -> int:
    values = query.get(name)
    if not values:
        if default is None:
            raise _Refused(40001)
        return default
    text = values[0]
    if not text.isdigit():
        raise _Refused(40001)
    return int(text)


# --- faults and serving -----------------------------------------------------------------------


def gateway_page(status: int = 503) -> Fault:
    """The gateway's HTML error page (502/503/504, README §5), for ``inject``."""
    body = GATEWAY_PAGE.format(status=status).encode("utf-8")
    return Fault(kind="status", status=status, body=body)


def rate_limited(retry_after: int) -> Fault:
    """The gateway's 429 ``42901`` with ``Retry-After`` (README §2), for ``inject``."""
    body = json.dumps({"code": 42901, "message": MESSAGES[42901]}, ensure_ascii=False).encode()
    return Fault(
        kind="status",
        status=429,
        retry_after=retry_after,
        body=body,
        content_type="application/json;charset=UTF-8",
    )


def server_error() -> Fault:
    """``50000`` 系统内部错误 with HTTP 500 (README §5), for ``inject``."""
    body = json.dumps({"code": 50000, "message": MESSAGES[50000]}, ensure_ascii=False).encode()
    return Fault(
        kind="status", status=500, body=body, content_type="application/json;charset=UTF-8"
    )


def serve(api: HealthApi | None = None, port: int = 0) -> HttpSimulator:
    """An ``HttpSimulator`` (not yet started; use it as a context manager) of ``api``."""
    return HttpSimulator((api or HealthApi()).handle, port=port)
