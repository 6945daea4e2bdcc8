"""The config model of the two_laws adapter (README §2, §4.1)."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig
from schemas.identifiers import Uscc

__all__ = ["TwoLawsConfig", "as_config"]


class TwoLawsConfig(AdapterConfig):
    """Endpoint, interface account and polling plan of the "两法衔接" exchange service.

    The password is issued by the 省检察院 and changed every 90 days (README §2.2): a
    ``SecretStr``, never in a repr, a log line or a dumped config. ``org_codes`` are the
    agencies (收文单位) whose supervision notices the bus polls; ``agencies_per_cycle`` spreads
    them over the poll interval (≈ 1 100 agencies, one call each every 10 minutes: run the
    poller every minute with 110 agencies per cycle).

    Example::

        endpoint: https://lfxj.fjjcy.fjzwnet.gov.cn:7443/lfxj/services/exchange
        user_name: MZF_ESB
        password: ${EBUS_TWO_LAWS_PASSWORD}
        org_codes: [11350200MB1C034749, 11350500MB0P661250]
        agencies_per_cycle: 110
        rate_limit: {per_s: 20}     # the account's limit (README §2.3)
    """

    endpoint: HttpUrl
    user_name: str = "MZF_ESB"
    password: SecretStr
    org_codes: tuple[Uscc, ...] = ()
    agencies_per_cycle: int | None = Field(None, ge=1)
    """Agencies polled per cycle, round robin (default: all of them every cycle)."""
    max_pages: int = Field(40, ge=1)
    """Pages read for one agency in one cycle while ``hasMore`` (50 notices each)."""
    poll_interval_s: int = Field(600, gt=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    rate_limit: RateLimit | None = RateLimit(per_s=20)
    """The account's limit (20 calls/s, README §2.3; above it a Fault "访问频率超限"), which the
    bus paces every call under with the account's shared pacer
    (``adapters._transports.pacing``); ``null``: not paced."""


def as_config(config: AdapterConfig) -> TwoLawsConfig:
    """``config`` as the two_laws model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, TwoLawsConfig):
        return config
    return TwoLawsConfig.model_validate(config.model_dump())
