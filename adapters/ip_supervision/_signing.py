"""The ``AuthHeader`` signature of SupervisionDataService (README §2.3), in one place.

``sign`` = lowercase hex HMAC-SHA256, key ``appSecret`` (ASCII), over
``appId|dataType|timestamp|nonce|data_hash`` (UTF-8), where ``data_hash`` is the lowercase hex
SHA-256 of **the GBK bytes** of ``xmlData`` (hashing UTF-8 gives E002). The bus signs with it
and the simulator verifies with it; neither the secret nor the message is ever logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from schemas.timeutil import SHANGHAI

__all__ = ["NONCE_PATTERN", "data_hash", "sign", "timestamp", "verify"]

NONCE_PATTERN = re.compile(r"[0-9a-f]{32}")
"""``nonce``: 32 lowercase hex characters."""


def timestamp(now: dt.datetime) -> str:
    """``now`` as ``yyyyMMddHHmmss`` in Asia/Shanghai (a naive time is taken as Beijing time)."""
    local = now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)
    return local.strftime("%Y%m%d%H%M%S")


def data_hash(xml_data_gbk: bytes) -> str:
    """Lowercase hex SHA-256 of the GBK bytes of ``xmlData``."""
    return hashlib.sha256(xml_data_gbk).hexdigest()


def sign(
    secret: str, app_id: str, data_type: str, stamp: str, nonce: str, xml_data_gbk: bytes
) -> str:
    """The ``sign`` of one call (README §2.3 worked example)::

    sign("b6e1d4a9c2f74e0b8a3d5c7e9f1a2b4c", "FJMZF0001", "XZJC", "20240305101500",
         "5d2c8e1a9f3b4c7d8e6a0b2c4d6e8f01", xml_data_gbk)
    # '60e25d5a8a77f37074d31d45bbf79e915b71745b67700b0ebd6497227579eb80'
    """
    message = f"{app_id}|{data_type}|{stamp}|{nonce}|{data_hash(xml_data_gbk)}"
    return hmac.new(secret.encode("ascii"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    secret: str,
    app_id: str,
    data_type: str,
    stamp: str,
    nonce: str,
    xml_data_gbk: bytes,
    signature: str,
) -> bool:
    """True when ``signature`` signs the call (constant-time comparison)."""
    expected = sign(secret, app_id, data_type, stamp, nonce, xml_data_gbk)
    return hmac.compare_digest(expected, signature)
