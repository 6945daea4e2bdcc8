"""Dry runs of one message, as an engineer runs them first when a partner sends something odd.

``map_message`` runs raw wire bytes through an adapter's whole inbound path — verify, prepare,
decode, map, validate, stamp — with no broker and no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from runner.adapter_api import CallContext, Outgoing, RawMessage
from runner.errors import ConfigError, MessageRejected
from runner.project import Project
from runner.stamp import new_message_id, now, stamp
from schemas import DeliveryOutcome, parse_envelope
from schemas.envelope import Envelope
from schemas.timeutil import SHANGHAI

__all__ = ["DryRun", "map_message", "parse_now", "render_message"]


@dataclass(frozen=True)
class DryRun:
    """The result of mapping one message: stamped envelopes, or a delivery outcome; and the
    records of a multi-record document that were rejected."""

    envelopes: list[Envelope[Any]]
    outcome: DeliveryOutcome | None
    rejected: list[MessageRejected]


def parse_now(text: str | None) -> dt.datetime:
    """The clock of a dry run: ``--meta now=ISO-TIME``, or the current time."""
    if not text:
        return now()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--meta now='{text}' is not an ISO 8601 time") from None
    aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    return aware.astimezone(SHANGHAI)  # milliseconds kept: signed timestamps may need them


def map_message(project: Project, system: str, message: str, raw: RawMessage) -> DryRun:
    """Run ``raw`` through the inbound path of ``system``/``message``."""
    adapter = project.registry.get(system)
    try:
        kind = adapter.message(message)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    if kind.direction != "inbound":
        raise ConfigError(f"{system} {message} is outbound: use ebus render for it")
    mapping = project.inbound_mapping(system, message)
    config = adapter.config.model_validate(dict(adapter.demo_config))
    received_at = parse_now(raw.meta.get("now"))
    try:
        body = adapter.inbound(message, raw, config)
        result = mapping.apply(body, encoding=raw.meta.get("encoding"))
    except MessageRejected as exc:
        raise exc.located(system=system, message=message) from None
    envelopes = [
        stamp(draft, message_id=new_message_id(received_at), received_at=received_at)
        for draft in result.envelopes
    ]
    return DryRun(envelopes=envelopes, outcome=result.outcome, rejected=result.rejected)


def render_message(
    project: Project,
    system: str,
    message: str,
    inputs: list[dict[str, Any]],
    facts: dict[str, str],
) -> Outgoing:
    """The exact call the outbound path would make for ``inputs`` (canonical envelopes or an
    adapter input). ``facts`` fix the clock (``now``), ``nonce`` and ``sequence`` of the call."""
    adapter = project.registry.get(system)
    try:
        kind = adapter.message(message)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    if kind.direction != "outbound":
        raise ConfigError(f"{system} {message} is inbound: use ebus map for it")
    mapping = project.outbound_mapping(system, message)
    config = adapter.config.model_validate(dict(adapter.demo_config))
    call = CallContext(
        now=parse_now(facts.get("now")),
        nonce=facts.get("nonce", ""),
        sequence=int(facts.get("sequence", "1")),
        extra={k: v for k, v in facts.items() if k not in ("now", "nonce", "sequence")},
    )
    variables = dict(adapter.variables(message, config, call)) if adapter.variables else {}
    views = [_validated(item) for item in inputs]
    for view in views:
        if not mapping.accepts_message(mapping.view(view)):
            raise MessageRejected(
                f"{system} {message} does not take this message (its accepts rule is false)",
                system=system,
                message=message,
                rule="not_accepted",
            )
    document = mapping.render(views, variables)
    return adapter.outgoing(message, document, config, call)


def _validated(item: dict[str, Any]) -> Any:
    """An envelope is validated as a canonical draft; an adapter input passes as it is."""
    if isinstance(item, dict) and "schema" in item:
        return parse_envelope(item, draft=True)
    return item
