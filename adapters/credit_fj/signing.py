"""The request signature of 信用福建 (credit_fj README §2.3), in one place.

``X-Sign`` = lowercase hex SM3 (GB/T 32905-2016) of ``app_secret + METHOD + path + X-Timestamp +
X-Nonce + sha256_hex(body)``, plain concatenation, UTF-8. The bus signs with it and the simulator
verifies with it. Neither the secret nor the string to sign is ever logged, returned or put into
an exception message.

SM3 is the bus's shared national cryptography (``sm3_hex`` of the adapter API).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from runner.adapter_api import sm3_hex

__all__ = ["EMPTY_BODY_SHA256", "NONCE_PATTERN", "sign_request", "sm3_hex", "verify_signature"]

EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
"""SHA-256 of zero bytes: the body hash of every GET."""

NONCE_PATTERN = re.compile(r"[0-9a-f]{32}")
"""``X-Nonce``: 32 lowercase hex characters."""


def sign_request(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """``X-Sign`` of one request: the SM3 of the README §2.3 string to sign, lowercase hex.

    ``path`` is the request path exactly as in the request line (no scheme, host or query);
    ``body`` the exact bytes sent (empty for GET).

    Example (README worked example 1)::

        sign_request(secret, "GET", "/api/credit/v1/subjects/91350100MA2Y7K3F61",
                     "1709620812345", "3e7a9c1b5d0f4e2a8c6b4d2f0e9a7c5b", b"")
        # 'e99ea5141e214662b62173aa99c66079faa6cd132b53434be1b264264ca754ac'
    """
    body_hash = hashlib.sha256(body).hexdigest()
    to_sign = f"{secret}{method.upper()}{path}{timestamp}{nonce}{body_hash}"
    return sm3_hex(to_sign.encode("utf-8"))


def verify_signature(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes, sign: str
) -> bool:
    """True when ``sign`` is the signature of the request (compared in constant time)."""
    expected = sign_request(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, sign)
