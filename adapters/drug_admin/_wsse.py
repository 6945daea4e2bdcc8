"""WS-Security UsernameToken with PasswordDigest, as drug_admin checks it (README §2.3).

``digest = Base64(SHA-1(nonce bytes ‖ UTF-8(created) ‖ UTF-8(password)))`` with 16 random nonce
bytes and ``created`` in UTC as ``yyyy-MM-ddTHH:mm:ssZ``. The token element is zeep's
(``zeep.wsse.UsernameToken``, ``use_digest=True``, ``zulu_timestamp=True``): ``Token`` only
changes how the nonce is given, because zeep takes a fixed nonce as *text* and hashes its UTF-8
bytes, while the spec's nonces (and the bus's fixed render nonces) are raw bytes. ``Token`` also
adds what the service's samples carry and zeep does not write: ``soap12:mustUnderstand="true"``
on ``Security`` and ``wsu:Id="UsernameToken-1"``.

Example (the worked example of README §2.3)::

    >>> password_digest(bytes.fromhex("5a1f0c9e33b84d27a6e0f4519bc2d870"),
    ...                 "2024-03-08T02:00:00Z", "Ypjg#Test2024")
    'K5UOgGMyBiqheFznv/KszRbEkx0='
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
from typing import Any

from adapters._transports.soap12 import SOAP12_ENVELOPE, WSSE, WSU
from runner.adapter_api import PermanentError

__all__ = [
    "CREATED_FORMAT",
    "NONCE_BYTES",
    "PASSWORD_DIGEST",
    "SOAP12_ENVELOPE",
    "WSSE",
    "WSU",
    "Token",
    "created_text",
    "nonce_bytes",
    "password_digest",
]

PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""The only ``wsu:Created`` form the service parses (letter Z, no fraction)."""
NONCE_BYTES = 16
_HEX = re.compile(r"[0-9a-fA-F]{32}")


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The PasswordDigest of README §2.3 (``nonce`` the raw bytes, not their Base64)."""
    data = nonce + created.encode("utf-8") + password.encode("utf-8")
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode("ascii")


def created_text(now: dt.datetime) -> str:
    """``now`` as ``wsu:Created``: UTC, seconds, ``Z`` (a naive ``now`` is Beijing time)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return now.astimezone(dt.UTC).strftime(CREATED_FORMAT)


def nonce_bytes(given: str = "") -> bytes:
    """The 16 nonce bytes of a call: ``given`` as 32 hex digits (the delivery worker's nonce)
    or as Base64 (a sample's ``Nonce``), else 16 fresh random bytes."""
    text = given.strip()
    if not text:
        return os.urandom(NONCE_BYTES)
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != NONCE_BYTES:
        raise PermanentError(
            "drug_admin: a call nonce is 32 hex digits or the Base64 of 16 bytes",
            code="WSSE_NONCE",
        )
    return raw


def _zeep_token_class() -> type[Any]:
    from zeep.wsse.username import UsernameToken  # noqa: PLC0415  (zeep loads on first use)
    from zeep.wsse.utils import WSSE as WSSE_MAKER  # noqa: PLC0415
    from zeep.wsse.utils import WSU as WSU_MAKER  # noqa: PLC0415
    from zeep.wsse.utils import get_security_header  # noqa: PLC0415

    class _Token(UsernameToken):
        """zeep's UsernameToken with raw nonce bytes and the service's two attributes."""

        def __init__(self, username: str, password: str, nonce: bytes, created: str) -> None:
            super().__init__(  # type: ignore[no-untyped-call]
                username, password, use_digest=True, zulu_timestamp=True
            )
            self._raw_nonce = nonce
            self._created_text = created

        def _create_password_digest(self) -> list[Any]:
            digest = password_digest(self._raw_nonce, self._created_text, self.password)
            return [
                WSSE_MAKER.Password(digest, Type=PASSWORD_DIGEST),
                WSSE_MAKER.Nonce(
                    base64.b64encode(self._raw_nonce).decode("ascii"),
                    EncodingType=f"{self.soap_message_secutity_ns}#Base64Binary",
                ),
                WSU_MAKER.Created(self._created_text),
            ]

        def apply(self, envelope: Any, headers: Any) -> Any:
            security = get_security_header(envelope)  # type: ignore[no-untyped-call]
            security.set(f"{{{SOAP12_ENVELOPE}}}mustUnderstand", "true")
            result = super().apply(envelope, headers)  # type: ignore[no-untyped-call]
            token = security.find(f"{{{WSSE}}}UsernameToken")
            token.set(f"{{{WSU}}}Id", "UsernameToken-1")
            return result

    return _Token


_TOKEN_CLASS: list[type[Any]] = []


def Token(username: str, password: str, nonce: bytes, created: str) -> Any:  # noqa: N802
    """A zeep UsernameToken (PasswordDigest) for one request; ``apply(envelope, {})`` adds it."""
    if not _TOKEN_CLASS:
        _TOKEN_CLASS.append(_zeep_token_class())
    return _TOKEN_CLASS[0](username, password, nonce, created)
