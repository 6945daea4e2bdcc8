"""The connection and polling settings of health (README §1, §2, §2.1)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pydantic import ConfigDict, Field, HttpUrl, SecretStr, field_validator, model_validator

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig
from schemas.timeutil import SHANGHAI

__all__ = ["API_KEY_PATTERN", "TEST_API_KEY", "HealthConfig", "as_config"]

API_KEY_PATTERN = re.compile(r"[\x21-\x7e]{32}")
"""An ``X-Api-Key`` is 32 printable characters (README §2)."""
TEST_API_KEY = "wj-test-3c9f1e7a5b2d4c6e8f0a1b3c"
"""The README's published test key (§2); demo and test config only."""


class HealthConfig(AdapterConfig):
    """Endpoint, credentials and polling settings of the 卫健委 case API (卫生健康监督执法信息系统).

    Keys:

    - ``endpoint``: the API origin (production ``https://wsjd.wjw.fujian.gov.cn``; test
      ``https://wsjd-test.wjw.fujian.gov.cn``).
    - ``api_key``: the ``X-Api-Key`` issued with the client certificate (32 characters, rotated
      yearly). A ``SecretStr``: never in a repr, a log line or a dumped config.
    - ``initial_since``: the go-live date agreed with the 卫健委, where the very first poll
      starts (README §2.1 rule 3: never 0, the full history is 2 million records). A time
      without an offset is Beijing time. Once a cycle has committed, the stored high-water
      mark wins.
    - ``page_size``: records per page, 1..100 (``size``).
    - ``poll_interval_s``: seconds between cycles (the README asks for 5 minutes).
    - ``max_pages_per_cycle``: a cycle stops after this many pages and commits what it read;
      the next cycle goes on from there (the bound is inclusive, nothing is skipped).
    - ``rate_limit``: the gateway's limit per key, which the bus paces its calls under
      (default ``{per_s: 5}``, README §2; ``adapters._transports.pacing``); ``null`` turns
      pacing off (a simulator without a limit).
    - ``client_cert`` / ``client_key``: the PEM client certificate ``CN=fjzf-esb`` and its key
      for mutual TLS; ``ca_file``: the ``FJWJW Root CA G2`` certificate the server is pinned
      to. All three or none (none only for a loopback simulator).
    - ``connect_timeout_s`` / ``read_timeout_s``: 5 s and 30 s (README §2).

    Example::

        endpoint: https://wsjd.wjw.fujian.gov.cn
        api_key: ${EBUS_HEALTH_API_KEY}
        initial_since: 2025-06-01T00:00:00+08:00
        client_cert: /etc/ebus/tls/fjzf-esb.crt
        client_key: /etc/ebus/tls/fjzf-esb.key
        ca_file: /etc/ebus/tls/fjwjw-root-ca-g2.crt
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    endpoint: HttpUrl
    api_key: SecretStr
    initial_since: dt.datetime
    page_size: int = Field(default=100, ge=1, le=100)
    poll_interval_s: float = Field(default=300.0, gt=0)
    max_pages_per_cycle: int = Field(default=100, ge=1)
    rate_limit: RateLimit | None = RateLimit(per_s=5)
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr) -> SecretStr:
        """A key has the issued shape; the message never repeats the key."""
        if not API_KEY_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("api_key must be 32 printable ASCII characters (README §2)")
        return value

    @field_validator("initial_since")
    @classmethod
    def _beijing(cls, value: dt.datetime) -> dt.datetime:
        """A go-live time without an offset is Beijing time; it is never the epoch itself."""
        aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
        if aware.year < 2000:
            raise ValueError("initial_since must be the agreed go-live date, never 0 (§2.1)")
        return aware

    @model_validator(mode="after")
    def _tls_complete(self) -> HealthConfig:
        """Mutual TLS needs the certificate, its key and the pinned CA together."""
        given = [p is not None for p in (self.client_cert, self.client_key, self.ca_file)]
        if any(given) and not all(given):
            raise ValueError("client_cert, client_key and ca_file go together (mutual TLS)")
        return self

    @property
    def initial_since_ms(self) -> int:
        """``initial_since`` as epoch milliseconds (the first ``updatedSince``)."""
        return int(self.initial_since.timestamp() * 1000)


def as_config(config: AdapterConfig) -> HealthConfig:
    """``config`` as the health model (the runner passes the validated model it built)."""
    if not isinstance(config, HealthConfig):
        raise TypeError(f"health needs a HealthConfig, got {type(config).__name__}")
    return config
