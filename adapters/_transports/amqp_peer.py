"""AMQP 0-9-1 links to an external peer's broker (kombu / py-amqp), for any system that speaks it.

The bus is a guest on such a broker: the peer declares its exchanges and queues, the bus only
checks them (``passive`` declare) and never declares or deletes them. Two directions:

- ``publish``: to an exchange of the peer, ``mandatory=true`` and with **publisher confirms** —
  a message is sent only once the broker acknowledged it. A ``basic.return`` (no queue bound
  for the routing key) raises ``Unroutable``; a ``basic.nack`` or a connection lost before the
  confirm raises ``TransientError`` (publish again: peers deduplicate on ``message_id``).
- ``drain``: take what waits in a queue of the peer, one message at a time with manual
  acknowledgement, and settle each as the handler says: ``ack`` (after it was stored),
  ``reject`` (``basic.reject(requeue=false)``: refused for good, the peer's dead-letter queue
  takes it) or ``requeue`` (``basic.reject(requeue=true)``, py-amqp's single-message nack: a
  transient failure of the bus; the drain stops there so the message is not taken again at once).

Library exceptions are translated at this boundary (``_translated``): refused credentials and
missing exchanges or queues (403, 404) are ``PermanentError``; a broken connection, a timeout or
a nack is ``TransientError``; the connection is dropped after any of them and opened again on
the next use. Passwords are ``SecretStr`` in the adapters' configs and are never logged here.

Example::

    peer = AmqpPeer("admin_criminal", PeerSettings(host="mq.example", port=5671, tls=True, ...))
    peer.publish("xx.transfer", "fj.350322.sc", body,
                 properties={"message_id": "YS-…", "type": "TRANSFER", "delivery_mode": 2},
                 headers={"x-signature": "…"})
    peer.drain("xx.receipts.fjzf", handle, limit=500)   # handle(delivery) -> "ack" | …
    peer.close()
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import amqp
import amqp.exceptions
import kombu.connection

from runner.adapter_api import Outgoing, PermanentError, RawMessage, TransientError

__all__ = [
    "PROPERTY_NAMES",
    "AmqpConnection",
    "AmqpDelivery",
    "AmqpPeer",
    "DrainReport",
    "PeerSettings",
    "Unroutable",
    "Verdict",
    "split_outgoing_headers",
]

log = logging.getLogger("ebus.amqp_peer")

_Connection: Any = kombu.connection.Connection  # partly annotated: used as Any at this boundary

PROPERTY_NAMES = frozenset(
    {
        "content_type",
        "content_encoding",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
    }
)
"""The AMQP basic properties; an ``Outgoing`` header of another name is an application header."""

_INTEGER_PROPERTIES = frozenset({"delivery_mode", "priority", "timestamp"})

Verdict = Literal["ack", "reject", "requeue"]
"""How ``drain`` settles one delivery (see the module docstring)."""


class Unroutable(TransientError):
    """The broker returned a ``mandatory`` message (``basic.return`` 312 NO_ROUTE): no queue of
    the peer is bound for its routing key. A configuration problem on the peer's side: keep the
    message, alert, and try again after ``retry_after`` seconds."""


@dataclass(frozen=True)
class PeerSettings:
    """Where the peer's broker is and how to talk to it.

    ``tls`` turns on AMQPS; ``ca_file`` pins the peer's CA (only certificates it issued are
    trusted). ``heartbeat_s`` is negotiated with the broker; ``confirm_timeout_s`` bounds the
    wait for a publisher confirm; ``prefetch`` caps the unacknowledged deliveries of a consumer.
    """

    host: str
    port: int
    virtual_host: str
    user: str
    password: str = field(repr=False)
    tls: bool = False
    ca_file: str | None = None
    heartbeat_s: int = 30
    connect_timeout_s: float = 5.0
    confirm_timeout_s: float = 10.0
    prefetch: int = 20
    no_route_retry_s: float = 3600.0


@dataclass(frozen=True)
class AmqpDelivery:
    """One message taken from a queue: the exact body bytes and the transport facts.

    ``properties`` are the basic properties present (names as in ``PROPERTY_NAMES``, values as
    sent); ``headers`` the application headers, byte strings decoded as UTF-8.
    """

    body: bytes
    properties: Mapping[str, Any]
    headers: Mapping[str, Any]
    queue: str
    redelivered: bool
    exchange: str = ""
    routing_key: str = ""


@dataclass
class DrainReport:
    """What one ``drain`` did, by verdict."""

    acked: int = 0
    rejected: int = 0
    requeued: int = 0

    @property
    def taken(self) -> int:
        """Deliveries taken from the queue."""
        return self.acked + self.rejected + self.requeued


def split_outgoing_headers(
    headers: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Split an ``Outgoing``'s headers into AMQP basic properties and application headers.

    Integer properties (``delivery_mode``, ``priority``, ``timestamp``) are turned back into
    numbers; application headers stay strings (AMQP long strings).
    """
    properties: dict[str, Any] = {}
    application: dict[str, str] = {}
    for name, value in headers.items():
        if name in PROPERTY_NAMES:
            properties[name] = int(value) if name in _INTEGER_PROPERTIES else value
        else:
            application[name] = value
    return properties, application


def _text(value: Any) -> Any:
    """A header value as the bus reads it: bytes decoded (UTF-8, invalid bytes replaced)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return value


_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    amqp.exceptions.RecoverableConnectionError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableChannelError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
    OSError,
)


class AmqpPeer:
    """One link (connection + channel) to a peer's broker, used by one thread at a time.

    The link opens on first use, is checked (heartbeats) before each use, and is dropped after
    any failure, so the next use reconnects. ``close`` is idempotent.
    """

    def __init__(self, system: str, settings: PeerSettings) -> None:
        self.system = system
        self.settings = settings
        self._lock = threading.RLock()
        self._connection: Any = None
        self._channel: Any = None
        self._returned: list[tuple[int, str, str, str]] = []
        self._checked: set[tuple[str, str]] = set()

    # --- the link ---------------------------------------------------------------------------

    def _open(self) -> Any:
        """The open channel, connecting first when needed."""
        if self._channel is not None:
            try:
                assert self._connection is not None
                self._connection.heartbeat_check()
                return self._channel
            except Exception:  # a dead link: drop it and connect again below
                self._drop()
        settings = self.settings
        connection = _Connection(
            hostname=settings.host,
            port=settings.port,
            userid=settings.user,
            password=settings.password,
            virtual_host=settings.virtual_host,
            ssl=self._tls(),
            heartbeat=settings.heartbeat_s,
            connect_timeout=settings.connect_timeout_s,
            transport="pyamqp",
            transport_options={"confirm_publish": True},
        )
        try:
            connection.connect()
            channel = connection.channel()
            channel.auto_decode = False  # the exact body bytes: signatures cover them
            channel.events["basic_return"].add(self._on_return)
        except BaseException:
            with contextlib.suppress(Exception):
                connection.release()
            raise
        self._connection, self._channel = connection, channel
        self._checked.clear()
        return channel

    def _tls(self) -> dict[str, Any] | bool:
        if not self.settings.tls:
            return False
        context = ssl.create_default_context(cafile=self.settings.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return {"context": context, "server_hostname": self.settings.host}

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, _message: Any) -> None:
        code = getattr(exc, "reply_code", 312) or 312
        self._returned.append(
            (int(code), str(getattr(exc, "reply_text", "")), exchange, routing_key)
        )

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._checked.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.release()

    def close(self) -> None:
        """Close the link (safe to call twice, or when it never opened)."""
        with self._lock:
            self._drop()

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Translate library exceptions into the bus's errors; drop the link after any."""
        try:
            yield
        except (PermanentError, TransientError):
            self._drop()
            raise
        except amqp.exceptions.AccessRefused as exc:
            self._drop()
            raise PermanentError(
                f"{self.system}: {action}: access refused by the broker (403)", code="AMQP403"
            ) from exc
        except amqp.exceptions.NotFound as exc:
            self._drop()
            raise PermanentError(
                f"{self.system}: {action}: not found on the broker (404): {exc.reply_text}",
                code="AMQP404",
            ) from exc
        except amqp.exceptions.MessageNacked as exc:
            self._drop()
            raise TransientError(
                f"{self.system}: {action}: the broker refused the message (basic.nack)",
                code="AMQP_NACK",
            ) from exc
        except amqp.exceptions.AMQPError as exc:
            self._drop()
            code = getattr(exc, "reply_code", None)
            raise TransientError(
                f"{self.system}: {action}: broker error {code}: {type(exc).__name__}",
                code=f"AMQP{code}" if code else "AMQP",
            ) from exc
        except _CONNECTION_ERRORS as exc:
            self._drop()
            raise TransientError(
                f"{self.system}: {action}: connection failed: {type(exc).__name__}",
                code="AMQP_CONNECTION",
            ) from exc

    def _check_exchange(self, channel: Any, exchange: str) -> None:
        """``passive`` declare once per link: a missing exchange is a 404, never created."""
        if exchange and ("exchange", exchange) not in self._checked:
            channel.exchange_declare(exchange, "topic", passive=True)
            self._checked.add(("exchange", exchange))

    def _check_queue(self, channel: Any, queue: str) -> None:
        if ("queue", queue) not in self._checked:
            channel.queue_declare(queue, passive=True)
            self._checked.add(("queue", queue))

    # --- publish ----------------------------------------------------------------------------

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        properties: Mapping[str, Any],
        headers: Mapping[str, Any],
        mandatory: bool = True,
    ) -> None:
        """Publish one message and wait for the broker's confirm.

        A connection lost before the confirm is retried once on a fresh link (the same
        message: the peer deduplicates on ``message_id``); then ``TransientError``.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._translated(f"publish to '{exchange}' ({routing_key})"):
                        self._publish_once(
                            exchange, routing_key, body, properties, headers, mandatory
                        )
                    return
                except TransientError as exc:
                    if attempt == 2 or exc.code != "AMQP_CONNECTION":
                        raise

    def _publish_once(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Mapping[str, Any],
        headers: Mapping[str, Any],
        mandatory: bool,
    ) -> None:
        channel = self._open()
        self._check_exchange(channel, exchange)
        message = amqp.Message(body, application_headers=dict(headers), **dict(properties))
        self._returned.clear()
        channel.basic_publish(
            message,
            exchange=exchange,
            routing_key=routing_key,
            mandatory=mandatory,
            confirm_timeout=self.settings.confirm_timeout_s,
        )
        if self._returned:
            code, text, _, key = self._returned[0]
            self._returned.clear()
            log.error(
                "%s: message returned by the broker (%s): no queue bound to %s for %s",
                self.system,
                code,
                exchange,
                key,
            )
            raise Unroutable(
                f"{self.system}: the broker returned the message ({code} {text}): no queue of "
                f"the peer is bound to exchange '{exchange}' for routing key '{key}'",
                code=f"AMQP{code}",
                retry_after=self.settings.no_route_retry_s,
            )

    # --- consume ----------------------------------------------------------------------------

    def drain(
        self,
        queue: str,
        handle: Callable[[AmqpDelivery], Verdict],
        *,
        limit: int = 500,
    ) -> DrainReport:
        """Take up to ``limit`` waiting messages from ``queue`` and settle each as ``handle``
        says; stop early when the queue is empty or ``handle`` asks to requeue.

        ``handle`` runs before the message is settled, so a crash in between leaves it
        unacknowledged: the broker redelivers it (``redelivered`` true) to the next consumer.
        An exception from ``handle`` requeues the message and propagates.
        """
        report = DrainReport()
        with self._lock, self._translated(f"consume from '{queue}'"):
            channel = self._open()
            self._check_queue(channel, queue)
            channel.basic_qos(0, max(1, min(self.settings.prefetch, 65535)), False)
            while report.taken < limit:
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                delivery = _delivery(message, queue)
                tag = message.delivery_info["delivery_tag"]
                try:
                    verdict = handle(delivery)
                except BaseException:
                    channel.basic_reject(tag, requeue=True)
                    report.requeued += 1
                    raise
                if verdict == "ack":
                    channel.basic_ack(tag)
                    report.acked += 1
                elif verdict == "reject":
                    channel.basic_reject(tag, requeue=False)
                    report.rejected += 1
                else:
                    channel.basic_reject(tag, requeue=True)
                    report.requeued += 1
                    break
        return report

    def wait_idle(self, seconds: float) -> None:
        """Sleep ``seconds`` while keeping the link's heartbeats (for long-running consumers)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            with self._lock:
                if self._connection is not None:
                    try:
                        self._connection.heartbeat_check()
                    except Exception:  # a dead link reconnects on the next use
                        self._drop()


def _delivery(message: amqp.Message, queue: str) -> AmqpDelivery:
    props = dict(message.properties)
    raw_headers = props.pop("application_headers", None) or {}
    body = message.body
    if isinstance(body, str):  # py-amqp decodes text bodies when asked to; we never ask
        body = body.encode("utf-8")
    info = message.delivery_info
    return AmqpDelivery(
        body=bytes(body),
        properties={k: _text(v) for k, v in props.items() if k in PROPERTY_NAMES},
        headers={str(k): _text(v) for k, v in raw_headers.items()},
        queue=queue,
        redelivered=bool(info.get("redelivered")),
        exchange=str(info.get("exchange") or ""),
        routing_key=str(info.get("routing_key") or ""),
    )


class AmqpConnection:
    """``AdapterSpec.connect`` for a peer the bus publishes to: one exchange, one link.

    ``send`` publishes an ``Outgoing`` whose ``path`` is the routing key and whose headers are
    the AMQP basic properties (by their names, ``PROPERTY_NAMES``) plus the application
    headers. Once the broker confirmed it, the answer is an empty ``RawMessage`` with
    ``meta['status']`` = ``200`` (a confirm is the only answer, so the call is ``complete``);
    failures raise ``TransientError`` / ``Unroutable`` / ``PermanentError``.
    """

    def __init__(self, peer: AmqpPeer, exchange: str) -> None:
        self.peer = peer
        self.exchange = exchange

    def send(self, call: Outgoing) -> RawMessage:
        """Publish ``call`` (mandatory, confirmed) and report the confirm."""
        properties, headers = split_outgoing_headers(call.headers)
        self.peer.publish(
            self.exchange, call.path, call.body, properties=properties, headers=headers
        )
        return RawMessage(
            b"",
            meta={"status": "200", "exchange": self.exchange, "routing_key": call.path},
        )

    def close(self) -> None:
        """Close the link."""
        self.peer.close()
