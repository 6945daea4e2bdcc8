"""The config model of the culture_tourism_national adapter (README §2, §2.3, §3.1)."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr

from runner.adapter_api import AdapterConfig

__all__ = ["MAX_PACKAGE_BYTES", "CultureTourismConfig", "as_config"]

MAX_PACKAGE_BYTES = 20 * 1024 * 1024
"""The ministry's limit on one package ZIP (README §2.3: larger answers ``2005``)."""


class CultureTourismConfig(AdapterConfig):
    """Endpoint, exchange account and limits of the ministry's ProvinceExchangeService.

    ``app_secret`` is the exchange secret issued by the ministry's 信息中心 (README §2.2): a
    ``SecretStr``, never in a repr, a log line or an error text. It only enters the SM3 digest
    of the ``AuthHeader``.

    Example::

        endpoint: https://whscjg.mct.gov.cn/exchange/ProvinceExchangeService
        app_key: FJWLT350000
        app_secret: ${EBUS_CULTURE_TOURISM_NATIONAL_SECRET}
        org_code: "350000"              # 上报机构代码 of Fujian
        query_interval_s: 300           # queryBatchResult at most every 5 minutes per batch
    """

    endpoint: HttpUrl
    """The service URL (joint test: ``https://whscjg-test.mct.gov.cn/exchange/...``)."""
    app_key: str = "FJWLT350000"
    """``appKey`` of the AuthHeader."""
    app_secret: SecretStr
    """``appSecret``: only inside the SM3 string to sign, never sent."""
    org_code: str = Field("350000", pattern=r"^\d{6}$")
    """``orgCode`` of the upload and root attribute of the package files (Fujian: 350000)."""
    connect_timeout_s: float = Field(10.0, gt=0)
    """Connect timeout of every call (README §2.3: 10 s)."""
    read_timeout_s: float = Field(60.0, gt=0)
    """Read timeout of ``queryBatchResult`` and ``downloadBlacklist`` (60 s)."""
    upload_read_timeout_s: float = Field(120.0, gt=0)
    """Read timeout of ``uploadDailyPackage`` (120 s: the server reads the whole package)."""
    query_interval_s: int = Field(300, ge=1)
    """Least time between two ``queryBatchResult`` calls for one batch (README §2.3: 5 min)."""
    max_package_bytes: int = Field(MAX_PACKAGE_BYTES, gt=0, le=MAX_PACKAGE_BYTES)
    """Largest package ZIP the bus uploads (a larger one is refused before the call)."""
    max_blacklist_bytes: int = Field(64 * 1024 * 1024, gt=0)
    """Largest uncompressed ``blacklist.xml`` accepted from a download (zip-bomb guard)."""


def as_config(config: AdapterConfig) -> CultureTourismConfig:
    """``config`` as this adapter's model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, CultureTourismConfig):
        return config
    return CultureTourismConfig.model_validate(config.model_dump())
