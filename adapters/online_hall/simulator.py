"""A simulator of the hall's notifier (事件推送): it signs events and pushes them to the bus.

The hall is the *sender* here, so the simulator is an HTTP client that behaves as README §2
says the hall does:

- every request is ``POST`` to the event type's path with ``Content-Type``,
  ``X-Hall-Event-Id``, ``X-Hall-Event-Type``, ``X-Hall-Signature`` (base64 HMAC-SHA256 of the
  raw body under the subscription secret) and the hall's ``User-Agent`` (§2.2, §2.3);
- ``deliver`` resends the byte-identical request after any non-2xx answer, a connection error or
  no answer within ``timeout_s`` (10 s), on the schedule 1 min, 5 min, 15 min, 1 h, 2 h, 6 h, then
  every 6 h for 3 days (``time_scale`` shrinks it for tests and the demo); a 2xx or a 422 is
  final, 401 is resent (a secret rotation) and the event goes to ``manual_review`` when the
  schedule runs out or a 422 arrives (§2.4);
- ``send_concurrently`` sends the same request from several threads at once (quirk Q9: a slow
  answer makes the hall resend while the first request still runs).

Faults the hall can put on the wire, for tests and the demo: ``Push.tampered()`` (signature of
other bytes), ``Push.unsigned()``, ``malformed`` (truncated JSON, correctly signed), a UTF-8 BOM
(``bom=True``, quirk Q1), upper-case keys (``upper_keys=True``, Q6), ``latency_s`` (the hall
waits before it sends), a short ``timeout_s`` (the hall gives up early and resends). The
receiver's faults (5xx, 429, a slow answer) are what the bus does; against a stand-in receiver
(``adapters._simulators.http.HttpSimulator`` with ``inject``) they test the resend schedule.

Every attempt is recorded in ``answers`` as ``(push, answer)``.

Example::

    notifier = HallNotifier(webhook.url, time_scale=0.001)
    push = build_push(license_event(1), DEMO_SECRET)
    [answer] = notifier.deliver(push)
    assert answer.json() == {"code": "0", "msg": "accepted", "eventId": push.event_id}
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx

from adapters.online_hall._config import DEMO_SECRET
from adapters.online_hall._wire import sign
from schemas.identifiers import resident_id_check_char, uscc_check_char
from schemas.timeutil import SHANGHAI

__all__ = [
    "DEMO_SECRET",
    "PATHS",
    "RESEND_SCHEDULE_S",
    "USER_AGENT",
    "Answer",
    "HallEvent",
    "HallNotifier",
    "Push",
    "build_push",
    "delivery_event",
    "license_event",
    "malformed",
    "resident_id",
    "uscc",
]

EventType = Literal["XKJD", "SDHZ"]
PATHS: Mapping[str, str] = {
    "XKJD": "/inbound/online_hall/licenses",
    "SDHZ": "/inbound/online_hall/deliveries",
}
USER_AGENT = "FJWSBSDT-Notifier/3.2.1"
RESEND_SCHEDULE_S: tuple[float, ...] = (60, 300, 900, 3600, 7200, 21600) + (21600,) * 12
"""Waits before each resend (README §2.4): 1 min … 6 h, then every 6 h for 3 days."""
TIMEOUT_S = 10.0
"""How long the hall waits for an answer (README §2.4)."""


@dataclass(frozen=True)
class HallEvent:
    """One event as the hall builds it: ``{"eventId", "eventType", "pushTime", "data"}``."""

    event_type: EventType
    event_id: str
    data: Mapping[str, Any]
    push_time: str = "20240305143000"

    def body(self, *, bom: bool = False, upper_keys: bool = False) -> bytes:
        """The request body: compact UTF-8 JSON (a BOM first when ``bom``, quirk Q1)."""
        data = {k.upper(): v for k, v in self.data.items()} if upper_keys else dict(self.data)
        document = {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "pushTime": self.push_time,
            "data": data,
        }
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")


@dataclass(frozen=True)
class Push:
    """One request on the wire: path, headers in the hall's order, raw body."""

    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        """The ``X-Hall-Event-Id`` header."""
        return self.headers.get("X-Hall-Event-Id", "")

    def tampered(self) -> Push:
        """The same request with the signature of other bytes (→ 401)."""
        return replace(self, headers={**self.headers, "X-Hall-Signature": sign(b"x", self.body)})

    def unsigned(self) -> Push:
        """The same request without ``X-Hall-Signature`` (→ 401)."""
        return replace(
            self, headers={k: v for k, v in self.headers.items() if k != "X-Hall-Signature"}
        )

    def with_headers(self, **headers: str) -> Push:
        """The same body with some headers replaced (``X_Hall_Event_Id="…"``)."""
        changed = {k.replace("_", "-"): v for k, v in headers.items()}
        return replace(self, headers={**self.headers, **changed})


def build_push(
    event: HallEvent,
    secret: str = DEMO_SECRET,
    *,
    bom: bool = False,
    upper_keys: bool = False,
    body: bytes | None = None,
) -> Push:
    """The signed request of ``event`` (``body`` overrides the bytes, still signed)."""
    raw = body if body is not None else event.body(bom=bom, upper_keys=upper_keys)
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "User-Agent": USER_AGENT,
        "X-Hall-Event-Id": event.event_id,
        "X-Hall-Event-Type": event.event_type,
        "X-Hall-Signature": sign(secret.encode("utf-8"), raw),
    }
    return Push(PATHS[event.event_type], headers, raw)


def malformed(event: HallEvent, secret: str = DEMO_SECRET) -> Push:
    """A correctly signed request whose body is cut off mid-JSON (→ 422 malformed JSON)."""
    whole = event.body()
    return build_push(event, secret, body=whole[: len(whole) // 2])


@dataclass(frozen=True)
class Answer:
    """What one attempt got: HTTP status and body, or the error when no answer came."""

    status: int | None
    body: bytes = b""
    error: str | None = None
    elapsed_s: float = 0.0

    def json(self) -> Any:
        """The answer body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def final(self) -> bool:
        """2xx and 422 end the resends (README §2.4); anything else is resent."""
        return self.status is not None and (200 <= self.status < 300 or self.status == 422)


@dataclass
class HallNotifier:
    """The hall's notifier pushing to ``base_url`` (module docstring)."""

    base_url: str
    timeout_s: float = TIMEOUT_S
    schedule_s: Sequence[float] = RESEND_SCHEDULE_S
    time_scale: float = 1.0
    answers: list[tuple[Push, Answer]] = field(default_factory=list)
    manual_review: list[Push] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, push: Push, *, latency_s: float = 0.0) -> Answer:
        """One attempt (after ``latency_s``); the answer is recorded and returned."""
        if latency_s:
            time.sleep(latency_s)
        started = time.monotonic()
        try:
            response = httpx.post(
                self.base_url.rstrip("/") + push.path,
                content=push.body,
                headers=dict(push.headers),
                timeout=self.timeout_s,
            )
            answer = Answer(response.status_code, response.content, None, _since(started))
        except httpx.TimeoutException:
            answer = Answer(None, b"", "timeout", _since(started))
        except httpx.TransportError as exc:
            answer = Answer(None, b"", type(exc).__name__, _since(started))
        with self._lock:
            self.answers.append((push, answer))
        return answer

    def deliver(self, push: Push, *, latency_s: float = 0.0) -> list[Answer]:
        """Send, then resend the same bytes on the schedule until a final answer (or the
        schedule runs out: manual review). Returns every attempt's answer."""
        attempts = [self.send(push, latency_s=latency_s)]
        for wait in self.schedule_s:
            if attempts[-1].final:
                break
            time.sleep(wait * self.time_scale)
            attempts.append(self.send(push))
        if not attempts[-1].final or attempts[-1].status == 422:
            with self._lock:
                self.manual_review.append(push)
        return attempts

    def send_concurrently(self, push: Push, copies: int) -> list[Answer]:
        """``copies`` attempts of the same request at once, from as many threads (Q9)."""
        found: list[Answer] = []
        gate = threading.Barrier(copies)

        def one() -> None:
            gate.wait()
            found.append(self.send(push))

        threads = [threading.Thread(target=one) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return found


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


# --- realistic events -------------------------------------------------------------------------


def uscc(first17: str) -> str:
    """A GB 32100 code with its check character (``91350100MA2Y7K3F6`` → ``…1``)."""
    return first17 + uscc_check_char(first17)


def resident_id(first17: str) -> str:
    """A GB 11643 number with its check character."""
    return first17 + resident_id_check_char(first17)


_AGENCIES = (
    ("福州市市场监督管理局", "11350100MB0F22318E", "350100", "SCJG"),
    ("仙游县卫生健康局", "11350322MB1A60936C", "350322", "WSJK"),
    ("泉州市丰泽区应急管理局", "11350503MB1L20934T", "350503", "YJGL"),
)
_COMPANIES = (
    ("福州闽江源食品有限公司", "91350100MA2Y7K3F61", "陈建华", "350100"),
    ("泉州市丰泽区顺发化工贸易有限公司", "91350503MA2XW1P4XC", "蔡明辉", "350503"),
    ("厦门鹭岛餐饮管理有限公司", uscc("91350203MA8RTK7Q2"), "林志强", "350203"),
    ("三明沙溪药业有限公司", uscc("91350427MA31C9D0X"), "黄秋月", "350427"),
)
_LICENCES = (
    ("食品生产许可证", "SC10635010000{:03d}", "01", "水产制品（鱼糜制品）"),
    (
        "危险化学品经营许可证",
        "闽泉丰危化经字〔2024〕000{:03d}",
        "01",
        "经营方式：不带有储存设施经营",
    ),
    ("医师执业证书", "110350322000{:03d}", "05", "执业类别：临床；执业范围：内科专业"),
)


def _day(n: int) -> dt.date:
    return dt.date(2024, 3, 5) + dt.timedelta(days=n % 20)


def license_event(n: int, *, natural_person: bool = False, **changes: Any) -> HallEvent:
    """The ``n``-th realistic 行政许可决定 event; ``changes`` replace fields of ``data``."""
    name, number, kind, content = _LICENCES[n % len(_LICENCES)]
    agency, agency_uscc, division, domain = _AGENCIES[n % len(_AGENCIES)]
    company, company_uscc, legal_rep, place = _COMPANIES[n % len(_COMPANIES)]
    decided = _day(n)
    data: dict[str, Any] = {
        "sblsh": f"{division}{decided:%Y%m%d}{n:06d}",
        "xkjdswh": f"榕市监食生许〔2024〕{n:04d}号",
        "xkzsmc": name,
        "xkzbh": number.format(n % 1000),
        "xklb": kind,
        "xknr": content,
        "jdrq": f"{decided:%Y%m%d}",
        "yxqq": f"{decided:%Y%m%d}",
        "yxqz": f"{decided.replace(year=decided.year + 5) - dt.timedelta(days=1):%Y%m%d}",
        "sqrlx": "1",
        "sqrmc": company,
        "tyshxydm": company_uscc,
        "fddbr": legal_rep,
        "zjlx": "",
        "zjhm": "",
        "sqrdz": f"福建省{company[:2]}市某路{n}号",
        "sqrqh": place,
        "xkjg": agency,
        "xkjgdm": agency_uscc,
        "xkjgqh": division,
        "lydm": domain,
    }
    if natural_person:
        data |= {
            "sqrlx": "4",
            "sqrmc": "赵六顺",
            "tyshxydm": "null",
            "fddbr": "null",
            "zjlx": "111",
            "zjhm": resident_id(f"3503221968{(n % 12) + 1:02d}12071"),
        }
    data |= changes
    return HallEvent("XKJD", f"EVT-{decided:%Y%m%d}-L{n:05d}", data, f"{decided:%Y%m%d}143000")


def delivery_event(n: int, *, status: str = "1", **changes: Any) -> HallEvent:
    """The ``n``-th realistic 电子送达回执 event (``status`` SDZT 1..4); ``changes`` replace
    fields of ``data``."""
    company, company_uscc, _, _ = _COMPANIES[n % len(_COMPANIES)]
    at = dt.datetime(2024, 3, 5, 9, 0, tzinfo=SHANGHAI) + dt.timedelta(minutes=7 * n)
    data: dict[str, Any] = {
        "sdbh": f"SD3501002024030500{n:03d}",
        "wsmc": "行政处罚决定书",
        "wslx": "03",
        "wsh": f"榕市监处罚〔2024〕{300 + n}号",
        "sfm": "FJ3501002024SC82D2EBBB",
        "sdzt": status,
        "ztsj": f"{at:%Y%m%d%H%M%S}",
        "sdrlx": "1",
        "sdrmc": company,
        "tyshxydm": company_uscc,
        "zjlx": "",
        "zjhm": "",
        "sdqd": "04",
        "sbyy": "短信发送失败：号码已停机" if status == "4" else "",
    }
    data |= changes
    event_id = f"EVT-{at:%Y%m%d}-D{n:05d}{status}"
    return HallEvent("SDHZ", event_id, data, f"{at:%Y%m%d%H%M%S}")
