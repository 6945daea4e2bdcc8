"""The connection settings of credit_fj (README §2)."""

from __future__ import annotations

from pydantic import HttpUrl, SecretStr

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig

__all__ = ["CreditFjConfig", "as_config"]


class CreditFjConfig(AdapterConfig):
    """Endpoint, application key and signing secret of the 信用福建 gateway.

    The secret is handed over on paper and rotated yearly (README §2.3); it is a ``SecretStr``,
    so it never appears in a repr, a log line or a dumped config.

    ``rate_limit`` is the gateway's limit per app key, which the bus paces its calls under
    (default ``{per_s: 5}``, README §2.4; above it HTTP 429), shared by every connection with the
    key in this process (``adapters._transports.pacing``); ``null`` turns pacing off.

    Example::

        endpoint: https://xyfj-gw.fjzwnet.gov.cn:8443
        app_key: MZF-ESB-350000-01
        app_secret: ${EBUS_CREDIT_FJ_SECRET}
        rate_limit: {per_s: 5}
    """

    endpoint: HttpUrl
    app_key: str
    app_secret: SecretStr
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    rate_limit: RateLimit | None = RateLimit(per_s=5)


def as_config(config: AdapterConfig) -> CreditFjConfig:
    """``config`` as the credit_fj model (the runner passes the validated model it built)."""
    if not isinstance(config, CreditFjConfig):
        raise TypeError(f"credit_fj needs a CreditFjConfig, got {type(config).__name__}")
    return config
