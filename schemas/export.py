"""JSON Schema and AsyncAPI documents generated from the canonical models.

``export_all(directory)`` writes:

- ``json-schema/<schema>.json``: the full envelope of each canonical schema, as published on the
  feeds (JSON Schema 2020-12);
- ``json-schema/drafts/<schema>.json``: the same envelope before the bus stamps ``message_id``,
  ``causation_id``, ``occurred_at`` and ``received_at`` (what an adapter's mapping produces, and
  what the specs' ``.expected.json`` samples hold);
- ``json-schema/delivery_outcome.json`` and ``json-schema/inputs/<name>.json``: the delivery
  outcome and the three non-canonical adapter inputs;
- ``asyncapi.yaml``: one AsyncAPI 3.0 document describing the canonical feeds, one channel per
  schema, so downstream teams can generate clients.

The models are the single source of truth: nothing here is written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.inputs import DishonestQuery, NoticeFetch, SubjectLookup
from schemas.outcome import DeliveryOutcome
from schemas.registry import DRAFTS, ENVELOPES, PAYLOADS

__all__ = ["FEED_EXCHANGE", "asyncapi_document", "export_all", "json_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:enforcement-bus:schema:"
FEED_EXCHANGE = "ebus.canonical"
"""The AMQP topic exchange the canonical feeds are published on (routing key = schema name)."""

INPUTS: dict[str, type[BaseModel]] = {
    "dishonest_query": DishonestQuery,
    "subject_lookup": SubjectLookup,
    "notice_fetch": NoticeFetch,
}


def json_schema(model: type[BaseModel], schema_id: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``model``, with ``$schema`` and ``$id``."""
    body = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": ID_BASE + schema_id, **body}


def _channel_key(name: str) -> str:
    return name.removeprefix("enforcement.").replace(".", "_")


def asyncapi_document(version: str) -> dict[str, Any]:
    """One AsyncAPI 3.0 document with a channel and a receive operation per canonical schema."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in ENVELOPES.values()],
        ref_template="#/components/schemas/{model}",
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, envelope in ENVELOPES.items():
        key = _channel_key(name)
        payload_doc = (PAYLOADS[name].__doc__ or "").strip().splitlines()[0]
        messages[key] = {
            "name": name,
            "title": name,
            "summary": payload_doc,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "message_id": {"type": "string", "description": "AMQP message_id (ULID)"},
                    "idempotency_key": {"type": "string"},
                },
            },
            "payload": {"$ref": f"#/components/schemas/{envelope.__name__}"},
        }
        channels[key] = {
            "address": name,
            "title": name,
            "description": f"Canonical feed of {name}: {payload_doc}",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": FEED_EXCHANGE,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"receive_{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Consume {name} messages",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "enforcement-bus canonical feeds",
            "version": version,
            "description": (
                "Canonical enforcement messages published by the integration bus of Fujian's "
                "integrated administrative law-enforcement platform (闽执法). Each message is one "
                "envelope; `message_id` is stable across redelivery, so consumers deduplicate "
                "on it."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "The RabbitMQ broker of a scaled-out deployment.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions["$defs"]},
    }


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def export_all(directory: Path, version: str) -> list[Path]:
    """Write every JSON Schema and the AsyncAPI document under ``directory``; return the paths."""
    root = directory / "json-schema"
    written = [
        _write_json(root / f"{name}.json", json_schema(model, name))
        for name, model in ENVELOPES.items()
    ]
    written += [
        _write_json(root / "drafts" / f"{name}.json", json_schema(model, f"draft:{name}"))
        for name, model in DRAFTS.items()
    ]
    written.append(
        _write_json(
            root / "delivery_outcome.json", json_schema(DeliveryOutcome, "delivery_outcome")
        )
    )
    written += [
        _write_json(root / "inputs" / f"{name}.json", json_schema(model, f"input:{name}"))
        for name, model in INPUTS.items()
    ]
    asyncapi = directory / "asyncapi.yaml"
    asyncapi.write_text(
        yaml.safe_dump(asyncapi_document(version), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    written.append(asyncapi)
    return written
