"""The config model of the eco_env adapter."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, HttpUrl, SecretStr

from runner.adapter_api import AdapterConfig

__all__ = ["EcoEnvConfig", "as_config"]


class EcoEnvConfig(AdapterConfig):
    """Connection and polling settings of the eco_env service (README §2, §3.2).

    Example::

        endpoint: https://hjzf.sthjt.fujian.gov.cn/EnforceService/LawEnforceService.asmx
        user_name: fjzf_esb
        secret_key: ${EBUS_ECO_ENV_SECRET}
        page_size: 50                        # 1..200
        initial_start: 2025-03-01T00:00:00+08:00   # where the very first poll window starts
        max_concurrent: 2                    # IIS answers 503 to a third request in flight
    """

    endpoint: HttpUrl
    user_name: str
    secret_key: SecretStr
    page_size: int = Field(50, ge=1, le=200)
    poll_interval_s: int = Field(600, gt=0)
    window_overlap_s: int = Field(300, ge=0)
    initial_start: dt.datetime | None = None
    """Start of the first poll window (no cursor yet); a time without offset is Beijing time.
    Default: one poll interval plus the overlap before the first window's end, as if the
    previous cycle had run on schedule."""
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(60.0, gt=0)
    max_concurrent: int | None = Field(2, ge=1)
    """Requests of the account in flight at once (README §2: at most 2, a third gets HTTP
    503); further calls wait for a free slot of the account's shared pacer
    (``adapters._transports.pacing``). ``null``: no cap."""


def as_config(config: AdapterConfig) -> EcoEnvConfig:
    """``config`` as the eco_env model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, EcoEnvConfig):
        return config
    return EcoEnvConfig.model_validate(config.model_dump())
