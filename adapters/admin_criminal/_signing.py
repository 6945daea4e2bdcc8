"""The message signature of the 行刑衔接 link (admin_criminal README §2.3), both directions.

Every message carries ``x-app-id``, ``x-timestamp`` (epoch ms), ``x-nonce`` (32 lower-case hex),
``x-body-sm3`` (SM3 of the exact body bytes, a BOM included), ``x-sign-alg`` = ``HMAC-SM3`` and
``x-signature`` = HMAC-SM3 (sender's 32-byte key) over the seven values joined with LF::

    x-app-id \\n message_id \\n correlation_id \\n type \\n x-timestamp \\n x-nonce \\n body_sm3

The bus signs with its key and the police side with its own; the receiver checks both digests in
constant time. There is no freshness window (messages may wait in a queue for days); replays are
caught by ``message_id``. Keys, strings to sign and signatures are never logged or put into an
error text; a refusal names the header and the rule only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.adapter_api import MessageRejected, hmac_sm3_hex, same_hex, sm3_hex

__all__ = [
    "NONCE",
    "SIGN_ALG",
    "Signed",
    "key_bytes",
    "sign",
    "string_to_sign",
    "verify",
]

SIGN_ALG = "HMAC-SM3"
NONCE = re.compile(r"[0-9a-f]{32}")
"""``x-nonce``: 32 lower-case hex characters, random per message."""
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"-?\d{1,19}")


@dataclass(frozen=True)
class Signed:
    """The six signature headers of one message, in the README's order."""

    app_id: str
    timestamp: str
    nonce: str
    body_sm3: str
    signature: str

    def headers(self) -> dict[str, str]:
        """The headers as sent (AMQP long strings)."""
        return {
            "x-app-id": self.app_id,
            "x-timestamp": self.timestamp,
            "x-nonce": self.nonce,
            "x-body-sm3": self.body_sm3,
            "x-sign-alg": SIGN_ALG,
            "x-signature": self.signature,
        }


def key_bytes(secret_hex: str) -> bytes:
    """The 32-byte key distributed as 64 hex characters; ``ValueError`` names no key material."""
    text = secret_hex.strip()
    if not _HEX64.fullmatch(text.lower()):
        raise ValueError("a signing key must be 64 hex characters (32 bytes)")
    return bytes.fromhex(text)


def string_to_sign(
    app_id: str,
    message_id: str,
    correlation_id: str | None,
    msg_type: str,
    timestamp: str,
    nonce: str,
    body_sm3: str,
) -> bytes:
    """The UTF-8 bytes the HMAC covers: the seven values joined with LF, no trailing LF."""
    parts = (app_id, message_id, correlation_id or "", msg_type, timestamp, nonce, body_sm3)
    return "\n".join(parts).encode("utf-8")


def sign(
    key: bytes,
    *,
    app_id: str,
    message_id: str,
    correlation_id: str | None,
    msg_type: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> Signed:
    """The signature headers of one message (``nonce`` must be 32 lower-case hex)."""
    if not NONCE.fullmatch(nonce):
        raise ValueError("x-nonce must be 32 lower-case hex characters")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise ValueError("x-timestamp must be epoch milliseconds (digits)")
    digest = sm3_hex(body)
    text = string_to_sign(app_id, message_id, correlation_id, msg_type, timestamp, nonce, digest)
    return Signed(app_id, timestamp, nonce, digest, hmac_sm3_hex(key, text))


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MessageRejected(
            f"signature header {name} is missing", field=f"headers.{name}", rule="missing_header"
        )
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageRejected(
            f"signature header {name} is not a string", field=f"headers.{name}", rule="bad_header"
        )
    return str(value).strip()  # quirk Q3: old Java clients send x-timestamp as an integer


def verify(
    key: bytes,
    expected_app_id: str,
    body: bytes,
    properties: Mapping[str, Any],
    headers: Mapping[str, Any],
) -> None:
    """Check one received message's signature; ``MessageRejected`` names header and rule.

    ``properties`` are the AMQP basic properties (``message_id``, ``correlation_id``, ``type``),
    ``headers`` the application headers. The body digest is checked first, then the HMAC.
    """
    app_id = _header(headers, "x-app-id")
    if app_id != expected_app_id:
        raise MessageRejected(
            f"x-app-id '{app_id[:40]}' is not the peer '{expected_app_id}'",
            field="headers.x-app-id",
            rule="unknown_sender",
        )
    if _header(headers, "x-sign-alg").upper() != SIGN_ALG:
        raise MessageRejected(
            f"x-sign-alg is not {SIGN_ALG}", field="headers.x-sign-alg", rule="unsupported_sign_alg"
        )
    timestamp, nonce = _header(headers, "x-timestamp"), _header(headers, "x-nonce")
    body_sm3, signature = _header(headers, "x-body-sm3"), _header(headers, "x-signature")
    digest = sm3_hex(body)
    if not same_hex(digest, body_sm3):
        raise MessageRejected(
            "x-body-sm3 is not the SM3 digest of the body as received",
            field="headers.x-body-sm3",
            rule="bad_body_digest",
        )
    text = string_to_sign(
        app_id,
        str(properties.get("message_id") or ""),
        str(properties.get("correlation_id") or ""),
        str(properties.get("type") or ""),
        timestamp,
        nonce,
        digest,
    )
    if not same_hex(hmac_sm3_hex(key, text), signature):
        raise MessageRejected(
            "x-signature does not verify with the peer's key (HMAC-SM3)",
            field="headers.x-signature",
            rule="bad_signature",
        )
