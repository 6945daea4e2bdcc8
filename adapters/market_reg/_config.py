"""The config model of the market_reg adapter (README §2, layout.md §2)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, SecretStr

from adapters._transports.filedrop import FileDropConfig
from runner.adapter_api import AdapterConfig

__all__ = ["MarketRegConfig", "as_config"]


class MarketRegConfig(FileDropConfig):
    """The bus's drop server for the nightly export, the shared export secret and the schedule.

    Example::

        url: sftp://ebus@drop.fjzf.fujian.gov.cn:22/srv/drop   # the drop root (or file:///…)
        key_file: /etc/ebus/keys/drop_ed25519
        host_key_sha256: "SHA256:…"
        export_secret: ${EBUS_MARKET_REG_EXPORT_SECRET}         # README §2.2, HMAC-SHA256 key
        inbox: inbox/market_reg
        outbox: outbox/market_reg
        manifest_deadline: "06:00"
        watch: false               # true: also poll the drop (no batch scheduler, the demo)

    Inherited keys (``url``, ``key_file``, ``key_passphrase``, ``host_key_sha256``,
    ``connect_timeout_s``, ``operation_timeout_s``, ``idle_reconnect_s``, ``max_file_bytes``)
    are documented in ``adapters._transports.filedrop.FileDropConfig``.
    """

    export_secret: SecretStr
    """The shared export secret: the HMAC-SHA256 key of the manifest's ``sign`` (README §2.2).
    Never logged; only demo and test configs hold a value."""
    inbox: str = "inbox/market_reg"
    """The folder (under the drop root) the exporter uploads to (``/inbox/market_reg/``)."""
    processed: str = "inbox/market_reg/processed"
    """Where a verified and imported night is moved (layout.md §2)."""
    refused: str = "inbox/market_reg/refused"
    """Where refused files are moved, with their manifest (layout.md §2)."""
    outbox: str = "outbox/market_reg"
    """Where the import report ``report_<yyyyMMdd>.json`` is written (layout.md §6)."""
    system_code: str = "FJSCJG-AJBL"
    """The ``system`` every manifest names (layout.md §4)."""
    manifest_deadline: dt.time = dt.time(6, 0)
    """Beijing time on the day after the data date by which the manifest must be there: a
    missing manifest, or a listed file missing, is waited for until then (README §5)."""
    max_line_bytes: int = Field(1024 * 1024, gt=0)
    """The longest record line accepted (layout.md §3: 1 MiB); a longer one rejects its record."""
    watch: bool = False
    """Also poll the drop every ``poll_interval_s`` (``SPEC.poll``), importing every complete
    night present: for a bus without a batch scheduler (the demo). Off when the nightly batch
    job runs (in-process or in Airflow)."""
    poll_interval_s: float = Field(300.0, gt=0)
    """Seconds between two looks at the drop when ``watch`` is on (README: every 5 minutes)."""


def as_config(config: AdapterConfig) -> MarketRegConfig:
    """``config`` as the market_reg model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, MarketRegConfig):
        return config
    return MarketRegConfig.model_validate(config.model_dump())
