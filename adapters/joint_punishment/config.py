"""The connection settings of joint_punishment (README §2)."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig

__all__ = ["DEFAULT_SCOPE", "JointPunishmentConfig", "as_config"]

DEFAULT_SCOPE = "dishonest.query dishonest.feedback"
"""The scopes the bus asks for (README §2.2 step 1)."""


class JointPunishmentConfig(AdapterConfig):
    """Endpoint and OAuth2 client credentials of the 联合惩戒 API.

    ``client_secret`` is a ``SecretStr``: it never appears in a repr, a log line or a dumped
    config. ``refresh_margin_s`` is how long before its expiry a token is replaced (README §2.2
    step 4: fewer than 300 s left). The read timeout is the README's recommended 15 s (§2.3).

    Example::

        endpoint: https://lhcj-api.fjzwnet.gov.cn:8443
        client_id: mzf-esb
        client_secret: ${EBUS_JOINT_PUNISHMENT_SECRET}
    """

    endpoint: HttpUrl
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str = DEFAULT_SCOPE
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    refresh_margin_s: int = Field(default=300, ge=0)
    ca_bundle: str | None = None
    """A CA file for the 政务外网 certificates; None uses the system's trust store."""
    rate_limit: RateLimit | None = RateLimit(per_s=20)
    """The API's limit per client (README §2.3: 20 requests a second, then HTTP 429): the bus
    paces its calls under it, shared by every worker of this process
    (``adapters._transports.pacing``); ``null`` paces nothing."""


def as_config(config: AdapterConfig) -> JointPunishmentConfig:
    """``config`` as the joint_punishment model (the runner passes the validated model)."""
    if not isinstance(config, JointPunishmentConfig):
        raise TypeError(
            f"joint_punishment needs a JointPunishmentConfig, got {type(config).__name__}"
        )
    return config
