"""The AuthHeader of every request (README §2.2): appKey, timestamp, nonce, SM3 signature.

``signature`` = upper-case hex SM3 (GB/T 32905-2016) of the UTF-8 bytes of
``appKey + "&" + timestamp + "&" + nonce + "&" + appSecret`` — a plain digest with the secret
inside, not an HMAC. ``timestamp`` is Beijing time ``yyyyMMddHHmmss`` (±600 s accepted);
``nonce`` is 16 characters ``[0-9a-z]``, new for every request. The secret never leaves
``signature``: it is not logged, returned or put into an error text.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from runner.adapter_api import same_hex, sm3_hex
from schemas.timeutil import SHANGHAI

__all__ = [
    "NONCE_ALPHABET",
    "NONCE_PATTERN",
    "AuthFields",
    "auth_fields",
    "new_nonce",
    "sign",
    "signature_matches",
    "timestamp",
]

NONCE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
NONCE_PATTERN = re.compile(r"[0-9a-z]{16}")
"""What a ``nonce`` must look like (README §2.2 step 2)."""

AuthFields = tuple[tuple[str, str], ...]
"""The AuthHeader's children in wire order: ``(name, value)``."""


def sign(app_key: str, stamp: str, nonce: str, app_secret: str) -> str:
    """``signature``: SM3 of ``appKey&timestamp&nonce&appSecret``, 64 upper-case hex.

    >>> sign("FJWLT350000", "20240306013012", "k3v9q2x7m1p8w4z6", "Wl35@exch#2023test")[:16]
    '012476E9D1ED4801'
    """
    text = f"{app_key}&{stamp}&{nonce}&{app_secret}"
    return sm3_hex(text.encode("utf-8")).upper()


def signature_matches(
    app_key: str, stamp: str, nonce: str, app_secret: str, signature: str
) -> bool:
    """True when ``signature`` is the one of these values (constant-time comparison)."""
    expected = sign(app_key, stamp, nonce, app_secret)
    return signature == signature.upper() and same_hex(expected, signature)


def timestamp(now: dt.datetime) -> str:
    """``now`` as the AuthHeader's ``timestamp``: Beijing time, ``yyyyMMddHHmmss``."""
    local = now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)
    return local.strftime("%Y%m%d%H%M%S")


def new_nonce() -> str:
    """A fresh 16-character ``[0-9a-z]`` nonce from the system's CSPRNG."""
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(16))


def auth_fields(app_key: str, app_secret: str, now: dt.datetime, nonce: str = "") -> AuthFields:
    """The AuthHeader of a request made at ``now`` (a fresh nonce unless one is given)."""
    stamp = timestamp(now)
    nonce = nonce or new_nonce()
    return (
        ("appKey", app_key),
        ("timestamp", stamp),
        ("nonce", nonce),
        ("signature", sign(app_key, stamp, nonce, app_secret)),
    )
