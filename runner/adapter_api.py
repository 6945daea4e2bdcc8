"""The public adapter API: what an adapter package declares, and all it may import of the runner.

An adapter (``adapters/<system id>/``) exports one ``AdapterSpec`` named ``SPEC``, registered as
an entry point in the ``ebus.adapters`` group of ``pyproject.toml``::

    [project.entry-points."ebus.adapters"]
    eco_env = "adapters.eco_env:SPEC"

The spec holds only what is specific to the system: its identity, its config model, its message
types (the ids of the spec's "Message types" table) and its wire quirks as hooks (``verify`` a
signature, ``prepare`` bytes before the mapping, e.g. decrypt). Mappings live in
``mappings/<system>/<message>.yaml``; transports, retries, signatures and encodings live once in
the runner and ``adapters/_transports``; national cryptography (SM3, HMAC-SM3, SM4) in
``runner.smcrypto``, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from runner.demo_api import DemoPeer, DemoSystem, SystemCounts
from runner.errors import MessageRejected, PermanentError, TransientError
from runner.mapping.documents import parse_xml
from runner.mapping.transforms import NoParams, Params, Transform
from runner.mapping.transforms import define as define_transform
from runner.smcrypto import hmac_sm3_hex, same_hex, sm3_hex, sm4_cbc_decrypt, sm4_cbc_encrypt

__all__ = [
    "AdapterConfig",
    "AdapterSpec",
    "BatchJob",
    "CallContext",
    "Connection",
    "DemoPeer",
    "DemoSystem",
    "DigestStore",
    "FirstBody",
    "GateStore",
    "MessageRejected",
    "MessageType",
    "NoParams",
    "Outgoing",
    "Params",
    "PermanentError",
    "PollContext",
    "RawMessage",
    "SharedStores",
    "StoredToken",
    "SystemCounts",
    "TokenStore",
    "Transform",
    "TransientError",
    "Webhook",
    "WebhookAnswer",
    "WebhookVerdict",
    "default_answer",
    "define_transform",
    "hmac_sm3_hex",
    "parse_xml",
    "processes_sharing_limits",
    "same_hex",
    "share_limits_among",
    "sm3_hex",
    "sm4_cbc_decrypt",
    "sm4_cbc_encrypt",
]

Direction = Literal["inbound", "outbound"]
Group = Literal["provincial", "self-built", "national"]

_processes_sharing_limits = 1


def processes_sharing_limits() -> int:
    """How many bus processes on this machine call the external systems side by side.

    A system's documented limits (calls per second, calls in flight, sessions) hold per account,
    whoever calls: with ``ebus run --processes N`` each process keeps 1/N of them, so the machine
    as a whole stays within what the spec allows. 1 outside ``--processes``.
    """
    return _processes_sharing_limits


def share_limits_among(count: int) -> None:
    """Declare that ``count`` processes share each account's limits (``ebus run`` calls it in
    each child before any adapter connects)."""
    global _processes_sharing_limits  # noqa: PLW0603 - one process-wide fact, set at start
    if count < 1:
        raise ValueError("the number of processes must be at least 1")
    _processes_sharing_limits = count


class AdapterConfig(BaseModel):
    """Base of adapter config models: closed (a misspelt key is an error), secrets as SecretStr."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class MessageType:
    """One row of a system's "Message types" table.

    ``canonical`` is the schema an inbound message maps to (``enforcement.case.v1``), or
    ``delivery_outcome`` for an answer; for an outbound message it is the schema (or adapter
    input) it is rendered from, or None for a bare request.
    """

    id: str
    direction: Direction
    wire: str
    canonical: str | None = None
    response: str | None = None
    """For an outbound call: the message type id of its answer (mapped to a delivery outcome)."""


@dataclass(frozen=True)
class RawMessage:
    """Raw wire bytes with their transport facts, exactly as received.

    ``headers`` are HTTP headers or AMQP properties (names lower-cased); ``meta`` holds any
    other transport fact a spec names (``status``, ``method``, ``path``, ``manifest``, ``now``).
    """

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class CallContext:
    """The facts an outbound call is framed with, fixed so that a render is reproducible:
    the clock, a nonce, a sequence number and any other value a signature needs.

    A call sent again (an in-process retry, or a durable retry of the whole call) is rendered
    and framed again with a fresh ``now`` and ``nonce`` but keeps its ``sequence`` and its
    ``started`` time, so an idempotency key built from them (a batch number) stays the same.
    """

    now: dt.datetime
    nonce: str = ""
    sequence: int = 1
    extra: Mapping[str, str] = field(default_factory=dict)
    started: dt.datetime | None = None
    """When the call was first sent (None: this is the first time, ``now``)."""

    @property
    def first_sent(self) -> dt.datetime:
        """``started``, or ``now`` for a call sent for the first time."""
        return self.started or self.now


@dataclass(frozen=True)
class Outgoing:
    """One outbound call ready for its transport: bytes plus what the transport needs."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = ""
    operation: str | None = None


class FirstBody(Protocol):
    """What ``DigestStore`` answers: the digest a key was first recorded with, and when."""

    @property
    def digest(self) -> str:
        """SHA-256 hex (or any 64-character token) recorded first."""
        ...

    @property
    def accepted_at(self) -> dt.datetime:
        """When it was recorded."""
        ...


class DigestStore(Protocol):
    """The bus's durable digest store, shared by every process (``runner.stores.body_digests``):
    the first digest recorded per (system, key) wins. What ``AdapterSpec.bind_store`` gets."""

    def record(
        self, source_system: str, source_message_id: str, digest: str, at: dt.datetime
    ) -> FirstBody:
        """Record ``digest`` unless one is recorded; return the one that is."""
        ...

    def first(self, source_system: str, source_message_id: str) -> FirstBody | None:
        """The recorded digest, None when none was."""
        ...


class StoredToken(Protocol):
    """What ``TokenStore.read`` answers (``runner.stores.tokens.SharedToken``)."""

    @property
    def sealed(self) -> str | None:
        """The token as its client sealed it; None before the first."""
        ...

    @property
    def expires_at(self) -> dt.datetime | None:
        """When the token expires (UTC)."""
        ...

    @property
    def version(self) -> int:
        """How many tokens were published for the client."""
        ...


class TokenStore(Protocol):
    """The bus's shared token store, one row per client for every process and machine
    (``runner.stores.tokens``): claim the refresh of the version seen, publish the next one.
    Raises ``TransientError`` (code ``STORE``) when its database cannot be reached."""

    def read(self, key: str) -> StoredToken:
        """The client's row (version 0, empty, when none was published)."""
        ...

    def claim(self, key: str, version: int, now: dt.datetime, lease_s: float) -> str | None:
        """Take the refresh of ``version`` for ``lease_s`` seconds: the claim's id, or None when
        another claim holds or the version moved on."""
        ...

    def publish(self, key: str, claim: str, sealed: str, expires_at: dt.datetime) -> bool:
        """Store the next token and end ``claim``; False when the claim is no longer the row's."""
        ...

    def release(self, key: str, claim: str) -> None:
        """Give ``claim`` up after a failed fetch."""
        ...


class GateStore(Protocol):
    """The bus's shared rate gates (``runner.stores.gates``): until when a throttled key may
    not call, for every process. Raises ``TransientError`` (code ``STORE``) when its database
    cannot be reached."""

    def closed_until(self, key: str) -> dt.datetime | None:
        """Until when ``key`` is held back (None or a past time: it may call)."""
        ...

    def hold(self, key: str, until: dt.datetime) -> None:
        """Hold ``key`` back until ``until`` (never shortening a wait already set)."""
        ...


@dataclass(frozen=True)
class SharedStores:
    """What every process of the bus shares for the adapters' connections: one token per
    client, one wait per throttled key. What ``AdapterSpec.connect_shared`` gets."""

    tokens: TokenStore
    gates: GateStore


class PollContext(Protocol):
    """What the runtime gives a poller for one poll cycle.

    A poller reads its durable cursor, makes calls through the shared transport, hands every
    answer to the bus with ``emit`` (stored durably before ``emit`` returns: store, then ack) and
    commits its new cursor only after everything it emitted is stored.
    """

    @property
    def now(self) -> dt.datetime:
        """The current time (a live clock: a long cycle signs each request with a fresh one)."""
        ...

    def cursor(self) -> dict[str, Any] | None:
        """The cursor committed by the last complete cycle, None on the first."""
        ...

    def call(self, message_id: str, call: Outgoing) -> RawMessage:
        """Make one call (``message_id`` = the request's message type) and return the answer."""
        ...

    def emit(self, message_id: str, raw: RawMessage) -> None:
        """Publish an inbound wire message (``message_id`` = its message type) durably."""
        ...

    def commit(self, cursor: dict[str, Any]) -> None:
        """Store the cursor the next cycle starts from."""
        ...

    def recall(self, key: str) -> dict[str, Any] | None:
        """A durable fact this system's poller remembered under ``key`` (e.g. a processed file
        name with its digest), None if it never did."""
        ...

    def remember(self, key: str, value: dict[str, Any]) -> None:
        """Store a durable fact under ``key`` (survives restarts; shared by every process)."""
        ...

    def reject(self, message_id: str, raw: RawMessage, error: MessageRejected) -> None:
        """Dead-letter a message the poller refused itself before emitting it (a file whose
        marker does not match, an AMQP message with a bad signature), with its reason."""
        ...

    def check(self, message_id: str, raw: RawMessage) -> MessageRejected | None:
        """Map ``raw`` as the bus will once it is emitted, without emitting it: the first
        rejection (of the message or of one of its records), or None when it maps. For a
        poller that must settle a message with its system before the bus maps it (e.g. an
        AMQP queue whose refusals go back to the sender's dead-letter queue)."""
        ...

    def day_messages(self, schemas: Sequence[str], day: dt.date) -> list[dict[str, Any]]:
        """The canonical envelopes (JSON) of ``schemas`` the bus received on ``day``
        (Asia/Shanghai, by ``received_at``), in the order received, from the day archive.

        Only a batch job reads them, and only the schemas its ``BatchJob.archives`` declares
        (the runtime archives those); another schema, a day older than the archive keeps, or
        a schema the archive never ran for raise ``PermanentError`` rather than read as empty.
        """
        ...

    def render_document(self, message: str, envelopes: Sequence[Mapping[str, Any]]) -> bytes:
        """The document the outbound mapping of ``message`` renders for those of ``envelopes``
        it accepts (its ``accepts`` rule), without a call around it; ``b""`` when it accepts
        none. An envelope the mapping cannot render is dead-lettered with its reason and left
        out, so one bad record does not hold back the others."""
        ...


class Connection(Protocol):
    """An open link to one system: sends calls, returns answers; ``close`` releases it."""

    def send(self, call: Outgoing) -> RawMessage:
        """Make ``call`` and return the answer (any status); raise ``TransientError`` when no
        answer came (timeout, refused or dropped connection)."""
        ...

    def close(self) -> None:
        """Release the link."""
        ...


BatchRun = Callable[["PollContext", "AdapterConfig", dt.date], None]


@dataclass(frozen=True)
class BatchJob:
    """Scheduled batch work of one system (a nightly import, a daily upload), for one date.

    ``run`` gets the same context as a poll cycle (calls, ``emit``, durable facts) and the
    date it works on (the data date, Asia/Shanghai). It must be safe to run twice for a date
    (resume, skip what is done). The bus runs it in-process on ``schedule`` (a cron line in
    Asia/Shanghai), or Apache Airflow runs it through the DAG shipped for it; either way
    ``ebus batch trigger NAME --date D`` starts one run by hand.
    """

    name: str
    schedule: str
    run: BatchRun
    summary: str
    archives: tuple[str, ...] = ()
    """The canonical schemas ``run`` reads with ``day_messages``: while a system with this job
    is connected, the runtime archives their envelopes by received day (e.g.
    ``("enforcement.case.v1", "enforcement.penalty_decision.v1")``)."""


@dataclass(frozen=True)
class Webhook:
    """An HTTP endpoint the bus serves for a system that pushes to it (path → message type).

    ``source_id_header`` names a header that carries the request's source message id when the
    spec wants a resend recognised before the body is parsed and validated (online_hall §2.4:
    verify, then "already stored → 200 duplicate", then validate); the mapping must still check
    that the body agrees with it.
    """

    path: str
    message: str
    method: str = "POST"
    source_id_header: str | None = None


WebhookVerdict = Literal["accepted", "duplicate", "rejected", "unauthorized", "unavailable"]
"""What the bus made of one pushed request: stored; already stored (a resend); refused by the
mapping or validation (``rejected``); refused by ``verify`` (``unauthorized``); not stored
because the bus could not store it now (``unavailable``: the sender should resend)."""


@dataclass(frozen=True)
class WebhookAnswer:
    """The HTTP answer to one pushed request."""

    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"


Answerer = Callable[
    [str, RawMessage, WebhookVerdict, "MessageRejected | None", AdapterConfig], WebhookAnswer
]
"""Build the answer to a pushed request of message type ``str`` from the verdict (and the
rejection, when there is one), in the system's own dialect (JSON codes, XML acks)."""

Verifier = Callable[[str, RawMessage, AdapterConfig], None]
Connector = Callable[[AdapterConfig], Connection]
Poller = Callable[[PollContext, AdapterConfig], None]
Framer = Callable[[str, bytes, AdapterConfig, CallContext], Outgoing]
Variables = Callable[[str, AdapterConfig, CallContext], Mapping[str, object]]
Preparer = Callable[[str, RawMessage, AdapterConfig], bytes]


@dataclass(frozen=True)
class AdapterSpec:
    """Everything the runner needs to know about one external system."""

    id: str
    name_zh: str
    name_en: str
    group: Group
    summary: str
    config: type[AdapterConfig]
    messages: tuple[MessageType, ...]
    demo_config: Mapping[str, object] = field(default_factory=dict)
    verify: Verifier | None = None
    prepare: Preparer | None = None
    frame: Framer | None = None
    """Wrap a rendered document into its call (SOAP envelope, signed headers); default: as is."""
    variables: Variables | None = None
    """Call-level values the outbound mappings may use with ``{var: name}`` (a batch number)."""
    transforms: tuple[Transform, ...] = ()
    """Transforms only this system's mappings need, with their parameter models."""
    poll: Poller | None = None
    """One poll cycle, for systems the bus polls; the runtime schedules it."""
    connect: Connector | None = None
    """Open the link the bus sends outbound calls and polls through."""
    webhooks: tuple[Webhook, ...] = ()
    """Endpoints the bus serves for this system (``ebus run`` with ``webhook:`` settings)."""
    answer: Answerer | None = None
    """The answer to a pushed request; default: ``default_answer``."""
    bind_store: Callable[[DigestStore | None], None] | None = None
    """For hooks that remember pushed requests across processes (a resend told from a reused
    message id by its body, a replayed nonce): the webhook endpoint calls it with the bus's
    durable ``DigestStore`` when it starts serving, and with None when it stops."""
    connect_shared: Callable[[AdapterConfig, SharedStores], Connection] | None = None
    """Open the link as ``connect`` does, with the stores every bus process shares, for systems
    whose limits hold per credential whoever calls (a token server that revokes a client's
    previous token, a gateway that locks a key after repeated 429s). The runtime uses it
    instead of ``connect`` when given; tools that call once (``ebus render``, tests) use
    ``connect``."""
    webhook_message: Callable[[RawMessage], str | None] | None = None
    """For a path several message types share: the message type a request is (from its body
    or headers); None when it names none (the first type's hooks then refuse it)."""
    batch_jobs: tuple[BatchJob, ...] = ()
    """Scheduled batch work of this system (see ``BatchJob``)."""

    def message(self, message_id: str) -> MessageType:
        """The message type ``message_id``; ``KeyError`` lists the known ids."""
        for message in self.messages:
            if message.id == message_id:
                return message
        known = ", ".join(m.id for m in self.messages)
        raise KeyError(f"{self.id} has no message type '{message_id}'; known: {known}")

    def outgoing(
        self, message_id: str, document: bytes, config: AdapterConfig, call: CallContext
    ) -> Outgoing:
        """Frame a rendered ``document`` as the call the transport sends."""
        if self.frame is not None:
            return self.frame(message_id, document, config, call)
        return Outgoing(body=document)

    def webhook_answer(
        self,
        message_id: str,
        raw: RawMessage,
        verdict: WebhookVerdict,
        error: MessageRejected | None,
        config: AdapterConfig,
    ) -> WebhookAnswer:
        """The answer to a pushed request (the adapter's ``answer`` hook, or a plain default)."""
        if self.answer is not None:
            return self.answer(message_id, raw, verdict, error, config)
        return default_answer(verdict, error)

    def inbound(
        self, message_id: str, raw: RawMessage, config: AdapterConfig, *, verified: bool = False
    ) -> bytes:
        """Run the adapter's wire hooks on ``raw``: verify it (unless the channel that took it
        in already did, ``verified``), then prepare its bytes."""
        if self.verify is not None and not verified:
            self.verify(message_id, raw, config)
        if self.prepare is not None:
            return self.prepare(message_id, raw, config)
        return raw.body


_DEFAULT_STATUS = {
    "accepted": 200,
    "duplicate": 200,
    "rejected": 422,
    "unauthorized": 401,
    "unavailable": 503,
}


def default_answer(verdict: WebhookVerdict, error: MessageRejected | None) -> WebhookAnswer:
    """A plain JSON answer: ``{"result": verdict, "field": ..., "rule": ...}`` with the usual
    status (200, 200, 422, 401, 503). The reason text names no personal value."""
    body: dict[str, str] = {"result": verdict}
    if error is not None:
        body.update(reason=error.reason, rule=error.rule, field=error.field or "")
    return WebhookAnswer(
        _DEFAULT_STATUS[verdict], json.dumps(body, ensure_ascii=False).encode("utf-8")
    )
