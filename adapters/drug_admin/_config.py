"""The config model of the drug_admin adapter (README §2)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, HttpUrl, SecretStr

from runner.adapter_api import AdapterConfig

__all__ = ["DrugAdminConfig", "as_config"]


class DrugAdminConfig(AdapterConfig):
    """Endpoint, WS-Security account and polling plan of InspectionExchangeService (README §2).

    The password only ever leaves the bus as a PasswordDigest (SHA-1 over nonce, created and
    password, README §2.3); it is a ``SecretStr``, never in a repr, a log line or a dump.

    Example::

        endpoint: https://zhjg.yjj.fujian.gov.cn/jcjc/services/InspectionExchange
        user_name: fjzf_bus
        password: ${EBUS_DRUG_ADMIN_PASSWORD}
        page_size: 100                              # 1..200 (PageSize)
        poll_interval_s: 600                        # every 10 minutes, never under 300
        request_spacing_s: 5                        # 1 request per 5 s per operation
        initial_since: 2024-03-05T00:00:00          # Beijing time of the very first SinceTime
    """

    endpoint: HttpUrl
    """The service URL; it always overrides the internal address of the live ``?wsdl``."""
    user_name: str = "fjzf_bus"
    """The UsernameToken ``Username`` (the bus's account on the drug platform)."""
    password: SecretStr
    """The account's password: input of the PasswordDigest only, never sent."""
    page_size: int = Field(100, ge=1, le=200)
    """``PageSize`` of each query page (the service refuses more than 200: Fault E2002)."""
    poll_interval_s: int = Field(600, gt=0)
    """Seconds between poll cycles (README §2.2: every 10 minutes, not under 5)."""
    request_spacing_s: float = Field(5.0, ge=0)
    """Least seconds between two requests of one operation (the service allows one per 5 s)."""
    max_pages: int = Field(50, ge=1)
    """Pages read per operation and cycle while ``HasMore``; the rest waits for the next cycle."""
    initial_since: dt.datetime | None = None
    """``SinceTime`` of the first cycle (no cursor yet); a time without zone is Beijing time.
    Default: one day before the first cycle."""
    max_lookback_days: int = Field(30, ge=1, le=31)
    """A ``SinceTime`` older than this many days is moved up (the service answers 3001 for a
    range over 31 days); the skipped span is remembered as a gap fact for the operators."""
    connect_timeout_s: float = Field(5.0, gt=0)
    """TCP connect timeout (README §2.2: 5 s)."""
    read_timeout_s: float = Field(30.0, gt=0)
    """Read timeout (README §2.2: 30 s; a 200-record penalty page can take 20 s)."""
    max_concurrent: int | None = Field(2, ge=1)
    """Requests of the account in flight at once (README §2.2: at most 2 per account); further
    calls wait for a free slot of the account's shared pacer (``adapters._transports.pacing``).
    ``null``: no cap."""


def as_config(config: AdapterConfig) -> DrugAdminConfig:
    """``config`` as the drug_admin model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, DrugAdminConfig):
        return config
    return DrugAdminConfig.model_validate(config.model_dump())
