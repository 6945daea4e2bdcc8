"""The webhook endpoint: systems that push (online_hall, emergency) call the bus over HTTP.

One HTTP server serves every connected adapter's ``SPEC.webhooks``. For each request, in the
order the push specs demand:

1. read the raw body (``Content-Length`` required; larger than ``max_body_bytes`` → 413 unread);
2. ``SPEC.verify`` on the exact bytes → refused: verdict ``unauthorized``;
3. ``SPEC.prepare`` and the inbound mapping → refused (or any record refused): ``rejected``;
4. every mapped record already stored (same source message ids) → ``duplicate``, nothing stored;
5. publish the raw request, confirmed, to ``ebus.in.<system>.<message>`` and claim its source
   message ids → ``accepted``; the bus cannot store it now → ``unavailable`` (the sender
   resends). Concurrent resends in one process are serialised per source message id, so only
   one is stored; a resend racing in another process may be stored twice, and the inbound
   worker's claim gives both copies the same message id (delivery deduplicates on it).

Duplicates are recognised after validation (a push spec may list the duplicate check first;
the answer is the same, since an event that was stored was valid).

Store, then answer: a 2xx leaves only after the broker confirmed the message. Refused requests
are dead-lettered with their reason and audited. The answer's bytes come from ``SPEC.answer`` in
the system's own dialect. A request never gets a traceback, whatever it holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import threading
from collections.abc import Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from runner.adapter_api import AdapterSpec, RawMessage, WebhookAnswer, WebhookVerdict
from runner.bus.topology import inbound_queue
from runner.engine.codec import VERIFIED_BY, encode_raw
from runner.engine.rejections import dead_letter
from runner.engine.services import Services
from runner.engine.wire_path import map_wire
from runner.errors import ConfigError, MessageRejected
from runner.logs import get_logger
from runner.settings import WebhookSettings
from runner.stores.body_digests import BodyDigestStore

__all__ = ["Endpoint", "WebhookServer", "endpoints_of"]

log = get_logger("ebus.webhook")


def _bind_stores(services: Services, systems: Collection[str], *, bound: bool = True) -> None:
    """Call ``SPEC.bind_store`` of the served systems with the durable digest store, or with
    None when the endpoint stops (the hooks are the adapter's, shared by the whole process)."""
    for system in sorted(systems):
        bind = services.project.registry.get(system).bind_store
        if bind is not None:
            bind(BodyDigestStore(services.db) if bound else None)


@dataclass(frozen=True)
class Endpoint:
    """One served path: which system, and which message type(s) a request to it is (several
    when the system pushes them all to one path; ``SPEC.webhook_message`` then tells)."""

    method: str
    path: str
    system: str
    messages: tuple[str, ...]


def endpoints_of(
    services: Services, routed: Collection[tuple[str, str]] | None = None
) -> dict[tuple[str, str], Endpoint]:
    """The endpoints of every connected adapter, keyed by (method, path); with ``routed``,
    only those whose (system, message type) some route takes in (the others would have no
    inbound queue to store into)."""
    found: dict[tuple[str, str], Endpoint] = {}
    for system in services.settings.systems:
        adapter = services.project.registry.get(system)
        for hook in adapter.webhooks:
            if routed is not None and (system, hook.message) not in routed:
                log.warning(
                    "webhook not served: no route takes it in", system=system, path=hook.path
                )
                continue
            key = (hook.method.upper(), hook.path)
            known = found.get(key)
            if known is not None and known.system != system:
                raise ConfigError(
                    f"webhook {hook.method} {hook.path}: served by {known.system} and {system}"
                )
            if known is not None and adapter.webhook_message is None:
                raise ConfigError(
                    f"webhook {hook.method} {hook.path}: {system} names two message types "
                    "on one path but has no webhook_message hook to tell them apart"
                )
            messages = (known.messages if known else ()) + (hook.message,)
            found[key] = Endpoint(key[0], hook.path, system, messages)
    return found


class WebhookServer:
    """The endpoint on a threading HTTP server (one thread per request)."""

    def __init__(
        self,
        services: Services,
        settings: WebhookSettings | None = None,
        *,
        routed: Collection[tuple[str, str]] | None = None,
    ) -> None:
        self.services = services
        self.settings = settings or services.settings.webhook or WebhookSettings()
        self.endpoints = endpoints_of(services, routed)
        _bind_stores(services, self._systems())
        self._server = ThreadingHTTPServer(
            (self.settings.host, self.settings.port), self._handler_class()
        )
        self._server.daemon_threads = True
        self._scheme = "http"
        if self.settings.tls_cert and self.settings.tls_key:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None
        self._locks = tuple(threading.Lock() for _ in range(64))

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def start(self) -> WebhookServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="webhook endpoint",
            daemon=True,
        )
        self._thread.start()
        log.info("webhook endpoint listening", url=self.url, paths=len(self.endpoints))
        return self

    def stop(self) -> None:
        """Stop serving (if started) and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        _bind_stores(self.services, self._systems(), bound=False)

    def _systems(self) -> set[str]:
        return {e.system for e in self.endpoints.values()}

    def handle(self, endpoint: Endpoint, raw: RawMessage) -> WebhookAnswer:
        """Take in one pushed request and return the answer (the steps of the module doc)."""
        adapter = self.services.project.registry.get(endpoint.system)
        config = self.services.config(endpoint.system)
        message = endpoint.messages[0]
        if len(endpoint.messages) > 1:
            assert adapter.webhook_message is not None  # checked by endpoints_of
            named = adapter.webhook_message(raw)
            # a request that names no type (unparsable, hostile) goes through the first type's
            # hooks, which refuse it with their precise reason
            if named is not None and named not in endpoint.messages:
                served = ", ".join(endpoint.messages)
                unknown = MessageRejected(
                    f"the request names no message type served here ({served})",
                    field="message type",
                    rule="unknown_message_type",
                )
                self._refuse(unknown, endpoint.system, message, raw)
                return adapter.webhook_answer(message, raw, "rejected", unknown, config)
            message = named or message
        verdict, error = self._verdict(adapter, endpoint.system, message, raw)
        answer = adapter.webhook_answer(message, raw, verdict, error, config)
        log.info(
            "webhook",
            system=endpoint.system,
            message=message,
            verdict=verdict,
            status=answer.status,
            rule=error.rule if error else None,
        )
        return answer

    def _verdict(
        self, adapter: AdapterSpec, system: str, message: str, raw: RawMessage
    ) -> tuple[WebhookVerdict, MessageRejected | None]:
        config = self.services.config(system)
        try:
            if adapter.verify is not None:
                adapter.verify(message, raw, config)
        except MessageRejected as exc:
            return "unauthorized", self._refuse(exc, system, message, raw)
        if self._known_resend(adapter, system, message, raw):
            return "duplicate", None
        try:
            result = map_wire(self.services, system, message, raw, verified=True)
        except MessageRejected as exc:
            return "rejected", self._refuse(exc, system, message, raw)
        if result.rejected:
            return "rejected", self._refuse(result.rejected[0], system, message, raw)
        if result.outcome is not None or not result.envelopes:
            error = MessageRejected("the request holds no record", rule="no_record")
            return "rejected", self._refuse(error, system, message, raw)
        return self._store(
            system, message, raw, [d.source_message_id for d in result.envelopes]
        ), None

    def _known_resend(
        self, adapter: AdapterSpec, system: str, message: str, raw: RawMessage
    ) -> bool:
        """Whether the request's ``source_id_header`` names a source message id already
        stored (checked before parsing where the push spec says so)."""
        header = next((h.source_id_header for h in adapter.webhooks if h.message == message), None)
        source_id = raw.headers.get(header.lower()) if header else None
        if not source_id:
            return False
        return bool(self.services.idempotency.known_among(system, [str(source_id)]))

    def _store(
        self, system: str, message: str, raw: RawMessage, source_ids: list[str]
    ) -> WebhookVerdict:
        # Concurrent resends of one event (a sender that timed out) wait for each other here,
        # so the second sees the first one's claim and is answered "duplicate" without being
        # stored again. Across processes the claim still decides the answer.
        with self._locks[hash((system, source_ids[0])) % len(self._locks)]:
            return self._store_once(system, message, raw, source_ids)

    def _store_once(
        self, system: str, message: str, raw: RawMessage, source_ids: list[str]
    ) -> WebhookVerdict:
        idempotency = self.services.idempotency
        if idempotency.known_among(system, source_ids) >= set(source_ids):
            return "duplicate"
        meta = {**raw.meta, VERIFIED_BY: "webhook"}
        stored = RawMessage(raw.body, raw.headers, meta, raw.received_at)
        try:
            self.services.bus.publish(
                inbound_queue(system, message), [encode_raw(system, message, stored)]
            )
        except Exception as exc:  # the broker or its connection: the sender must resend
            log.error(
                "webhook request not stored",
                system=system,
                message=message,
                error=f"{type(exc).__name__}: {str(exc)[:200]}",
            )
            return "unavailable"
        # Claimed after the publish, so that a failed publish leaves nothing that would make
        # the resend a "duplicate". The inbound worker may claim first (it can consume the
        # message before this line runs): the answer is still "accepted", this request stored it.
        idempotency.claim_many([(system, source_id) for source_id in source_ids])
        return "accepted"

    def _refuse(
        self, error: MessageRejected, system: str, message: str, raw: RawMessage
    ) -> MessageRejected:
        located = error.located(system=system, message=message)
        dead_letter(self.services, located, encode_raw(system, message, raw))
        return located

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = server.settings.read_timeout_s

            def log_message(self, format: str, *args: object) -> None:
                """Silenced: requests are logged by ``handle`` without their content."""

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                path = urlsplit(self.path).path
                endpoint = server.endpoints.get((self.command, path))
                if endpoint is None:
                    known = any(p == path for _, p in server.endpoints)
                    self._plain(405 if known else 404, "no such endpoint")
                    return
                length_text = self.headers.get("Content-Length")
                if length_text is None or not length_text.strip().isdigit():
                    self._plain(411, "Content-Length required")
                    return
                length = int(length_text)
                if length > server.settings.max_body_bytes:
                    self._plain(413, f"body larger than {server.settings.max_body_bytes} bytes")
                    self.close_connection = True
                    return
                try:
                    body = self.rfile.read(length)
                except OSError:
                    self.close_connection = True
                    return
                raw = RawMessage(
                    body,
                    {k.lower(): v for k, v in self.headers.items()},
                    {"method": self.command, "path": path},
                    dt.datetime.now(dt.UTC),
                )
                try:
                    answer = server.handle(endpoint, raw)
                except Exception as exc:  # never a traceback to the caller: 503, it resends
                    with contextlib.suppress(Exception):
                        log.error(
                            "webhook failed",
                            system=endpoint.system,
                            error=f"{type(exc).__name__}: {str(exc)[:200]}",
                        )
                    self._plain(503, "temporarily unavailable")
                    return
                self._send(answer.status, answer.body, answer.content_type)

            def _plain(self, status: int, text: str) -> None:
                self._send(status, f'{{"error":"{text}"}}'.encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return _Handler
