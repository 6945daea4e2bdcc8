"""The config model of the emergency adapter (README §2)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from runner.adapter_api import AdapterConfig

__all__ = ["APP_ID", "MAX_BODY_BYTES", "EmergencyConfig", "as_config"]

APP_ID = "YJZF-FJ-PROV"
"""The application id the bus issued to the emergency system (README §2.2)."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body the interface allows (2 MiB, README §2.1)."""


class EmergencyConfig(AdapterConfig):
    """How the bus checks pushes from 应急执法系统 (YJZF) and answers them.

    Example::

        app_id: YJZF-FJ-PROV
        app_secret: ${EBUS_EMERGENCY_SECRET}
        clock_skew_s: 300         # |bus clock - X-YJZF-Timestamp| allowed
        nonce_ttl_s: 900          # a nonce seen within this window is a replay
    """

    app_id: str = APP_ID
    """The ``X-YJZF-AppId`` a request must carry (README §2.2)."""
    app_secret: SecretStr
    """The HMAC-SHA256 key shared with the sender (README §2.4); never logged."""
    clock_skew_s: int = Field(300, ge=1)
    """Largest allowed difference between the bus clock and ``X-YJZF-Timestamp`` (§2.4)."""
    nonce_ttl_s: int = Field(900, ge=1)
    """How long a nonce is remembered: a second use within it is refused (§2.4)."""
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0, le=MAX_BODY_BYTES)
    """Largest body taken (2 MiB per README §2.1; larger: HTTP 413, Ack code 2)."""


def as_config(config: AdapterConfig) -> EmergencyConfig:
    """``config`` as the emergency model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, EmergencyConfig):
        return config
    return EmergencyConfig.model_validate(config.model_dump())
