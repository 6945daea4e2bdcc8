"""The subscription settings of online_hall (README §2.3)."""

from __future__ import annotations

from pydantic import ConfigDict, SecretStr, field_validator

from runner.adapter_api import AdapterConfig

__all__ = ["DEMO_SECRET", "OnlineHallConfig", "as_config"]

DEMO_SECRET = "Fj0nl1neHa11#2024!sig"
"""The test-environment subscription secret of README §2.3 (its worked example signs with it)."""


class OnlineHallConfig(AdapterConfig):
    """The secret(s) the hall signs its pushes with (订阅管理 console, README §2.3).

    - ``secret``: the current subscription secret (32+ characters in production). Every pushed
      request must carry ``X-Hall-Signature`` = base64 HMAC-SHA256 of its raw body under it.
    - ``previous_secret``: during a rotation the hall announces the new secret a week ahead and
      both are valid for 24 h; set the new one as ``secret`` and the old one here for that day,
      then remove it.

    Both are ``SecretStr``: never in a repr, a log line or a dumped config. The endpoint itself
    (host, port, TLS) is the bus's ``webhook:`` setting, shared by every pushing system.

    Example::

        online_hall:
          secret: ${EBUS_ONLINE_HALL_SECRET}
          previous_secret: ${EBUS_ONLINE_HALL_OLD_SECRET}   # only during a rotation
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secret: SecretStr
    previous_secret: SecretStr | None = None

    @field_validator("secret", "previous_secret")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty secret would make every signature trivially forgeable."""
        if value is not None and not value.get_secret_value():
            raise ValueError("the subscription secret must not be empty")
        return value

    def secrets(self) -> tuple[bytes, ...]:
        """The secrets a signature may be made with, current first, as UTF-8 bytes."""
        found = [self.secret] + ([self.previous_secret] if self.previous_secret else [])
        return tuple(s.get_secret_value().encode("utf-8") for s in found)


def as_config(config: AdapterConfig) -> OnlineHallConfig:
    """``config`` as the online_hall model (the runner passes the validated model it built)."""
    if not isinstance(config, OnlineHallConfig):
        raise TypeError(f"online_hall needs an OnlineHallConfig, got {type(config).__name__}")
    return config
