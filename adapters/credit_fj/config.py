"""The connection settings of credit_fj (README §2)."""

from __future__ import annotations

from pydantic import HttpUrl, SecretStr

from runner.adapter_api import AdapterConfig

__all__ = ["CreditFjConfig", "as_config"]


class CreditFjConfig(AdapterConfig):
    """Endpoint, application key and signing secret of the 信用福建 gateway.

    The secret is handed over on paper and rotated yearly (README §2.3); it is a ``SecretStr``,
    so it never appears in a repr, a log line or a dumped config.

    Example::

        endpoint: https://xyfj-gw.fjzwnet.gov.cn:8443
        app_key: MZF-ESB-350000-01
        app_secret: ${EBUS_CREDIT_FJ_SECRET}
    """

    endpoint: HttpUrl
    app_key: str
    app_secret: SecretStr
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


def as_config(config: AdapterConfig) -> CreditFjConfig:
    """``config`` as the credit_fj model (the runner passes the validated model it built)."""
    if not isinstance(config, CreditFjConfig):
        raise TypeError(f"credit_fj needs a CreditFjConfig, got {type(config).__name__}")
    return config
