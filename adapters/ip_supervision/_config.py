"""The config model of the ip_supervision adapter (README §2)."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig

__all__ = ["IpSupervisionConfig", "as_config"]


class IpSupervisionConfig(AdapterConfig):
    """Endpoint, application id and signing secret of SupervisionDataService (README §2.1, §2.3).

    The secret is a ``SecretStr``: it never appears in a repr, a log line or a dumped config.

    Example::

        endpoint: https://hlwjg-sjjr.fjzwnet.gov.cn:9443/jgxw/services/SupervisionDataService
        app_id: FJMZF0001
        app_secret: ${EBUS_IP_SUPERVISION_SECRET}
        rate_limit: {per_s: 5}      # the load balancer answers HTTP 503 above 5 calls/s (§2.4)
    """

    endpoint: HttpUrl
    app_id: str = Field(min_length=1)
    app_secret: SecretStr
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(60.0, gt=0)
    """README §2.4: a 200-record call takes up to 20 s at quarter end; 60 s recommended."""
    rate_limit: RateLimit | None = RateLimit(per_s=5)
    """The calls this bus makes at most (the system's limit per appId, §2.4), paced by the
    shared pacer of the appId (``adapters._transports.pacing``); ``null``: not paced."""


def as_config(config: AdapterConfig) -> IpSupervisionConfig:
    """``config`` as the ip_supervision model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, IpSupervisionConfig):
        return config
    return IpSupervisionConfig.model_validate(config.model_dump())
