"""The police side of the 行刑衔接 link on a real RabbitMQ, for tests and the demo.

``PoliceSide`` plays 福建省公安厅's end of admin_criminal README §2 on a broker the tests can
reach (``127.0.0.1:5672`` here), under the names of the bus's config (so that tests use unique
ones):

- it declares what the police side owns: the topic exchange ``exchange``, the receipts queue
  ``receipts_queue`` (a durable quorum queue, dead-lettering into ``<queue>.dlx`` →
  ``<queue>.dlq``) and its own intake queue ``<queue>.intake`` bound to the exchange with
  ``bindings`` (``fj.#`` by default: every division; an unbound division makes the bus's
  publishes come back with ``basic.return`` 312);
- a consumer thread takes the transfer packages, checks their signature with the bus key
  (§2.3) and keeps them (``packages``; refused ones in ``refused``); with ``auto_receipt`` it
  answers each good one with a signed 签收回执 (QSHZ) after ``latency_s``;
- ``publish_answer`` / ``publish_sample`` put signed answers on the receipts queue, with the
  faults the README describes: a bad signature or body digest, a malformed body, an unknown
  type, a duplicate (the same message twice, quirk Q2), the old gateway's BOM + CRLF + text/plain
  (Q6), an integer ``x-timestamp`` (Q3);
- ``dead_lettered()`` counts what the bus refused for good (the DLQ).

Example::

    with PoliceSide(config) as police:
        police.publish_sample("receipt_signed-1")
        SPEC.poll(ctx, config)
        assert police.dead_lettered() == 0
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import itertools
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kombu.connection

from adapters._transports.amqp_peer import AmqpDelivery, AmqpPeer, Verdict
from adapters.admin_criminal._config import AdminCriminalConfig
from adapters.admin_criminal._signing import key_bytes, sign, verify
from adapters.admin_criminal._wire import epoch_ms
from runner.adapter_api import MessageRejected
from schemas.timeutil import SHANGHAI

__all__ = ["Fault", "Package", "PoliceSide", "answer_body", "sample_message"]

Fault = Literal[
    "bad_signature", "bad_digest", "malformed", "unknown_type", "old_gateway", "java_ts"
]
"""How ``publish_answer`` spoils (or dresses) a message: see the module docstring."""

_TIME = "%Y-%m-%d %H:%M:%S"
_WIRE_TYPES = {
    "receipt_signed": "QSHZ",
    "filing_decision": "LAJD",
    "non_filing_decision": "BYLAJD",
    "reconsideration_decision": "FYJD",
    "forward_notice": "ZS",
    "reverse_transfer": "FXYS",
}


@dataclass(frozen=True)
class Package:
    """A transfer package the police side received and verified."""

    body: dict[str, Any]
    properties: Mapping[str, Any]
    routing_key: str
    redelivered: bool


def sample_message(path: Path) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """(body, properties, headers) of a spec sample ``<name>.json`` + ``<name>.amqp.json``."""
    facts = json.loads(path.with_name(path.name.removesuffix(".json") + ".amqp.json").read_text())
    return path.read_bytes(), dict(facts["properties"]), dict(facts["headers"])


def answer_body(
    kind: str, package: Mapping[str, Any], at: dt.datetime, msg_id: str
) -> dict[str, Any]:
    """A realistic answer of ``kind`` (a message type id) to a received ``package``."""
    organ_name = package["toOrgan"]["name"]
    division = package["fromAgency"]["divisionCode"]
    stamp = at.astimezone(SHANGHAI)
    body: dict[str, Any] = {
        "msgType": _WIRE_TYPES[kind],
        "msgId": msg_id,
        "transferNo": package["transferNo"],
        "caseCode": package["caseCode"],
        "organ": {"name": organ_name, "code": f"{division}000000"},
        "sendTime": stamp.strftime(_TIME),
    }
    earlier = (stamp - dt.timedelta(minutes=5)).strftime(_TIME)
    filing_no = f"A{division}000000{stamp:%Y%m}{int(msg_id[-4:]) % 10000:04d}"
    if kind == "receipt_signed":
        body |= {"signer": {"name": "值班民警", "policeNo": "035127"}, "signTime": earlier}
    elif kind == "filing_decision":
        body |= {
            "filingNo": filing_no,
            "charge": package["suspectedOffence"],
            "decisionTime": earlier,
            "noticeNo": f"公(经)立告字〔{stamp:%Y}〕{int(msg_id[-3:])}号",
        }
    elif kind == "non_filing_decision":
        body |= {
            "noticeNo": f"公(经)不立字〔{stamp:%Y}〕{int(msg_id[-3:])}号",
            "decisionTime": earlier,
            "reasonCode": "02",
            "reason": "经审查，犯罪事实显著轻微，不需要追究刑事责任。",
            "materialsReturned": True,
        }
    elif kind == "forward_notice":
        body |= {
            "receivedTime": earlier,
            "forwardTime": stamp.strftime(_TIME),
            "forwardTo": {
                "name": "福建省公安厅经济犯罪侦查总队",
                "code": "350000000000",
                "organType": "GA",
            },
            "noticeNo": f"公(经)转字〔{stamp:%Y}〕{int(msg_id[-3:])}号",
            "reason": "依照级别管辖规定移送上级公安机关管辖。",
        }
    else:
        raise ValueError(f"no generated answer of kind '{kind}'")
    return body


def _old_gateway(document: Mapping[str, Any]) -> bytes:
    """Quirk Q6: pretty-printed with CRLF and a UTF-8 BOM."""
    text = json.dumps(document, ensure_ascii=False, indent=2).replace("\n", "\r\n")
    return codecs.BOM_UTF8 + text.encode("utf-8")


@dataclass
class PoliceSide:
    """The police side on a real broker (see the module docstring)."""

    config: AdminCriminalConfig
    bindings: tuple[str, ...] = ("fj.#",)
    auto_receipt: bool = True
    latency_s: float = 0.0
    clean_up: bool = True
    packages: list[Package] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _seq: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._settings = self.config.peer()
        self._out = AmqpPeer("admin_criminal-police", self._settings)
        self._in = AmqpPeer("admin_criminal-police", self._settings)
        self._police_key = key_bytes(self.config.police_key.get_secret_value())
        self._bus_key = key_bytes(self.config.bus_key.get_secret_value())

    # --- names ------------------------------------------------------------------------------

    @property
    def intake_queue(self) -> str:
        """Where the police side takes the transfer packages from."""
        return f"{self.config.receipts_queue}.intake"

    @property
    def dead_letter_queue(self) -> str:
        """Where refused answers end (``basic.reject(requeue=false)``)."""
        return f"{self.config.receipts_queue}.dlq"

    # --- life -------------------------------------------------------------------------------

    def _kombu(self) -> Any:
        s = self._settings
        connection: Any = kombu.connection.Connection
        return connection(
            hostname=s.host,
            port=s.port,
            userid=s.user,
            password=s.password,
            virtual_host=s.virtual_host,
            connect_timeout=s.connect_timeout_s,
        )

    def declare(self) -> None:
        """Declare the exchange and queues the police side owns."""
        receipts, dlx = self.config.receipts_queue, f"{self.config.receipts_queue}.dlx"
        with self._kombu() as connection:
            channel = connection.channel()
            channel.exchange_declare(self.config.exchange, "topic", durable=True)
            channel.exchange_declare(dlx, "fanout", durable=True)
            channel.queue_declare(self.dead_letter_queue, durable=True, auto_delete=False)
            channel.queue_bind(self.dead_letter_queue, dlx, "")
            channel.queue_declare(
                receipts,
                durable=True,
                auto_delete=False,
                arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": dlx},
            )
            channel.queue_declare(self.intake_queue, durable=True, auto_delete=False)
            for pattern in self.bindings:
                channel.queue_bind(self.intake_queue, self.config.exchange, pattern)

    def start(self) -> PoliceSide:
        """Declare, then consume transfer packages on a background thread."""
        self.declare()
        self._stop.clear()
        self._thread = threading.Thread(target=self._consume, name="police-side", daemon=True)
        self._thread.start()
        return self

    def _consume(self) -> None:
        while not self._stop.is_set():
            try:
                self._in.drain(self.intake_queue, self._take, limit=100)
            except Exception:  # the broker went away for a moment: try again
                self._in.close()
            self._stop.wait(0.05)

    def stop(self) -> None:
        """Stop consuming and, with ``clean_up``, delete what ``declare`` created."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._in.close()
        self._out.close()
        if self.clean_up:
            with contextlib.suppress(Exception), self._kombu() as connection:
                channel = connection.channel()
                for queue in (
                    self.intake_queue,
                    self.config.receipts_queue,
                    self.dead_letter_queue,
                ):
                    channel.queue_delete(queue)
                channel.exchange_delete(f"{self.config.receipts_queue}.dlx")
                channel.exchange_delete(self.config.exchange)

    def __enter__(self) -> PoliceSide:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- the intake -------------------------------------------------------------------------

    def _take(self, delivery: AmqpDelivery) -> Verdict:
        try:
            verify(
                self._bus_key,
                self.config.app_id,
                delivery.body,
                delivery.properties,
                delivery.headers,
            )
            body = json.loads(delivery.body)
        except MessageRejected as exc:
            with self._lock:
                self.refused.append(exc.rule)
            return "reject"
        except ValueError:
            with self._lock:
                self.refused.append("malformed_json")
            return "reject"
        package = Package(
            body, dict(delivery.properties), delivery.routing_key, delivery.redelivered
        )
        with self._lock:
            fresh = all(p.body["transferNo"] != body["transferNo"] for p in self.packages)
            self.packages.append(package)
        if self.auto_receipt and fresh:
            if self.latency_s:
                time.sleep(self.latency_s)
            self.answer("receipt_signed", body)
        return "ack"

    def transfer_numbers(self) -> list[str]:
        """The distinct transfer numbers received so far, in order."""
        with self._lock:
            return list(dict.fromkeys(p.body["transferNo"] for p in self.packages))

    def package_of(self, transfer_no: str) -> Package | None:
        """The first package received for ``transfer_no`` (None: not yet)."""
        with self._lock:
            return next((p for p in self.packages if p.body["transferNo"] == transfer_no), None)

    # --- answers ----------------------------------------------------------------------------

    def next_msg_id(self, division: str, at: dt.datetime) -> str:
        """A fresh ``msgId``: ``GA<division>-<yyyyMMdd>-<6 digits>``."""
        return f"GA{division}-{at.astimezone(SHANGHAI):%Y%m%d}-{next(self._seq):06d}"

    def answer(
        self,
        kind: str,
        package: Mapping[str, Any],
        *,
        faults: tuple[Fault, ...] = (),
        copies: int = 1,
        at: dt.datetime | None = None,
    ) -> str:
        """Publish a signed answer of ``kind`` to ``package`` as of ``at`` (default: now);
        returns its ``msgId``."""
        at = at or dt.datetime.now(SHANGHAI).replace(microsecond=0)
        msg_id = self.next_msg_id(package["fromAgency"]["divisionCode"], at)
        body = answer_body(kind, package, at, msg_id)
        self.publish_answer(body, faults=faults, copies=copies)
        return msg_id

    def publish_answer(
        self,
        document: Mapping[str, Any] | bytes,
        *,
        msg_type: str | None = None,
        msg_id: str | None = None,
        case_code: str | None = None,
        faults: tuple[Fault, ...] = (),
        copies: int = 1,
    ) -> None:
        """Sign and publish one answer (``copies`` times: quirk Q2), spoilt by ``faults``."""
        parsed: Mapping[str, Any] = (
            json.loads(document) if isinstance(document, bytes) else document
        )
        msg_type = msg_type or str(parsed.get("msgType", ""))
        msg_id = msg_id or str(parsed.get("msgId", ""))
        case_code = case_code if case_code is not None else str(parsed.get("caseCode", ""))
        if isinstance(document, bytes):
            body = document
        elif "old_gateway" in faults:
            body = _old_gateway(document)
        else:
            body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if "malformed" in faults:
            body = body[: len(body) // 2]
        wire_type = "XXJD" if "unknown_type" in faults else msg_type
        now = dt.datetime.now(SHANGHAI)
        signed = sign(
            self._police_key,
            app_id=self.config.peer_app_id,
            message_id=msg_id,
            correlation_id=case_code,
            msg_type=wire_type,
            timestamp=str(epoch_ms(now)),
            nonce=secrets.token_hex(16),
            body=body,
        )
        headers: dict[str, Any] = signed.headers()
        if "bad_signature" in faults:
            headers["x-signature"] = secrets.token_hex(32)
        if "bad_digest" in faults:
            body = body.replace(b"\xe5", b"\xe6", 1) if b"\xe5" in body else body + b" "
        if "java_ts" in faults:
            headers["x-timestamp"] = int(headers["x-timestamp"])
        properties: dict[str, Any] = {
            "content_type": "text/plain" if "old_gateway" in faults else "application/json",
            "delivery_mode": 2,
            "message_id": msg_id,
            "correlation_id": case_code,
            "type": wire_type,
            "app_id": self.config.peer_app_id,
            "timestamp": int(now.timestamp()),
        }
        if "old_gateway" not in faults:
            properties["content_encoding"] = "utf-8"
        for _ in range(copies):
            self.publish_raw(body, properties, headers)
        self.published.append(msg_id)

    def publish_raw(
        self, body: bytes, properties: Mapping[str, Any], headers: Mapping[str, Any]
    ) -> None:
        """Put one message on the receipts queue exactly as given (confirmed)."""
        self._out.publish(
            "", self.config.receipts_queue, body, properties=properties, headers=headers
        )

    def publish_sample(self, path: Path) -> None:
        """Publish a spec sample (body, properties and signed headers as in its files)."""
        body, properties, headers = sample_message(path)
        self.publish_raw(body, properties, headers)

    # --- what the bus left ------------------------------------------------------------------

    def depth(self, queue: str | None = None) -> int:
        """Messages waiting in ``queue`` (the receipts queue by default)."""
        with self._kombu() as connection:
            channel = connection.channel()
            _, count, _ = channel.queue_declare(queue or self.config.receipts_queue, passive=True)
            return int(count)

    def dead_lettered(self) -> int:
        """Answers the bus refused for good (``basic.reject(requeue=false)``)."""
        return self.depth(self.dead_letter_queue)
