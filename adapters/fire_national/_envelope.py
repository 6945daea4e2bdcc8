"""The secure envelope of README §2.3: SM4-CBC encrypted payload, HMAC-SM3 signed.

Both directions use it: the bus seals uploads, acknowledgements and the ``GET …/tasks`` query
and opens the tasks page; the simulator does the reverse. The cryptography is the shared
``runner.smcrypto`` (``cryptography`` / OpenSSL underneath): nothing here is
hand-written cryptography. No key, plaintext or string to sign is ever logged, returned in an
error or put into an exception message.

Example::

    keys = Keys(app_id, secret, key, iv)
    envelope = seal(keys, b'{"cursor":"","pageSize":50}', "1709856000000", nonce)
    envelope["encryptData"]   # 'iuKOQpWPDLTM40Pc90WeuFWr+Ka63xyZIVFVowu2MMU='
    open_envelope(keys, envelope)   # the payload bytes again, after the signature check
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from runner.adapter_api import (
    MessageRejected,
    hmac_sm3_hex,
    same_hex,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
)

__all__ = [
    "FIELDS",
    "NONCE",
    "Keys",
    "epoch_ms",
    "open_envelope",
    "query_string",
    "seal",
    "sign",
]

FIELDS = ("appId", "timestamp", "nonce", "encryptData", "sign")
"""The envelope fields, in their wire order (§2.3 step 9, §2.4)."""

NONCE = re.compile(r"[0-9a-f]{32}")
"""``nonce``: 32 lower-case hex characters (§2.3 step 6)."""

_SIGN = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Keys:
    """The credentials of one appId (README §2.2), as bytes ready for the primitives."""

    app_id: str
    secret: bytes
    key: bytes
    iv: bytes

    def __repr__(self) -> str:
        return f"Keys(app_id={self.app_id!r}, secret=***, key=***, iv=***)"


def epoch_ms(moment: dt.datetime) -> str:
    """``timestamp``: epoch milliseconds of ``moment`` as a 13-digit string (a naive moment is
    UTC+8, Beijing time)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return str((aware - _EPOCH) // dt.timedelta(milliseconds=1))


def sign(keys: Keys, timestamp: str, nonce: str, encrypt_data: str) -> str:
    """``sign`` = lower-case hex HMAC-SM3 of ``appId + timestamp + nonce + encryptData``."""
    to_sign = f"{keys.app_id}{timestamp}{nonce}{encrypt_data}".encode()
    return hmac_sm3_hex(keys.secret, to_sign)


def seal(keys: Keys, payload: bytes, timestamp: str, nonce: str) -> dict[str, str]:
    """The five envelope fields, in order, carrying ``payload`` (its UTF-8 JSON bytes)."""
    encrypt_data = base64.b64encode(sm4_cbc_encrypt(keys.key, keys.iv, payload)).decode("ascii")
    return {
        "appId": keys.app_id,
        "timestamp": timestamp,
        "nonce": nonce,
        "encryptData": encrypt_data,
        "sign": sign(keys, timestamp, nonce, encrypt_data),
    }


def query_string(envelope: Mapping[str, str]) -> str:
    """The five fields as a query string, each percent-encoded per RFC 3986 (§2.4): ``+``,
    ``/`` and ``=`` of the Base64 text become ``%2B``, ``%2F``, ``%3D``."""
    return "&".join(f"{name}={quote(envelope[name], safe='')}" for name in FIELDS)


def _text(envelope: Mapping[str, object], name: str) -> str:
    value = envelope.get(name)
    if not isinstance(value, str) or not value:
        raise MessageRejected(
            f"the secure envelope has no {name}", field=name, rule="envelope_field"
        )
    return value


def open_envelope(keys: Keys, envelope: Mapping[str, object]) -> bytes:
    """The payload bytes of a secure envelope, after the checks of §2.3 / §2.5 in order:
    appId, ``sign`` (constant time, case-insensitive), Base64, SM4-CBC decryption and unpadding.

    A failure raises ``MessageRejected`` naming the field and the rule, never a value. The
    ``timestamp`` is not checked here (§2.5: the national clock is not guaranteed); a receiver
    that must check it (the simulator) does so itself.
    """
    app_id = _text(envelope, "appId")
    if app_id != keys.app_id:
        raise MessageRejected("appId is not the configured one", field="appId", rule="app_id")
    timestamp, nonce = _text(envelope, "timestamp"), _text(envelope, "nonce")
    encrypt_data, given = _text(envelope, "encryptData"), _text(envelope, "sign")
    expected = sign(keys, timestamp, nonce, encrypt_data)
    if not _SIGN.fullmatch(given) or not same_hex(expected, given):
        raise MessageRejected("the signature does not verify", field="sign", rule="signature")
    if not _BASE64.fullmatch(encrypt_data):
        raise MessageRejected(
            "encryptData is not standard Base64", field="encryptData", rule="base64"
        )
    try:
        ciphertext = base64.b64decode(encrypt_data, validate=True)
        return sm4_cbc_decrypt(keys.key, keys.iv, ciphertext)
    except (binascii.Error, ValueError):
        raise MessageRejected(
            "encryptData does not decrypt (length or padding)", field="encryptData", rule="decrypt"
        ) from None
