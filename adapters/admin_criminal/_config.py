"""The connection settings of admin_criminal (README §2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator

from adapters._transports.amqp_peer import PeerSettings
from adapters.admin_criminal._signing import key_bytes
from runner.adapter_api import AdapterConfig

__all__ = ["AdminCriminalConfig", "as_config"]


class AdminCriminalConfig(AdapterConfig):
    """The police side's RabbitMQ, the bus's names on it and the two HMAC-SM3 keys.

    Keys:

    - ``host``, ``port``, ``virtual_host``: the broker (``mq.xxxj.gat.fj``, 5671, ``/xxxj``);
    - ``user``, ``password``: SASL PLAIN credentials issued by 科技信息化总队 (rotated yearly);
    - ``tls``, ``ca_file``: AMQPS with the 公安厅 CA pinned (production: ``tls: true``);
    - ``heartbeat_s``: AMQP heartbeat (30 s); ``connect_timeout_s``; ``confirm_timeout_s``: the
      longest wait for a publisher confirm;
    - ``exchange``: where transfer packages go (``xx.transfer``, declared by the police side);
    - ``receipts_queue``: where the answers wait (``xx.receipts.fjzf``);
    - ``app_id`` / ``peer_app_id``: ``fjzf-esb`` (the bus) / ``fjga-xxxj`` (the police side);
    - ``bus_key`` / ``police_key``: the 32-byte HMAC-SM3 keys as 64 hex characters (the bus signs
      with its own and verifies with the police key);
    - ``prefetch`` (≤ 20), ``poll_interval_s`` (how often a cycle drains the queue),
      ``max_per_cycle`` (at most that many answers per cycle);
    - ``no_route_retry_s``: how long a returned transfer package (no police queue bound for its
      division, ``basic.return`` 312) waits before it is published again (1 h).

    Example::

        host: mq.xxxj.gat.fj
        port: 5671
        virtual_host: /xxxj
        user: fjzf
        password: ${EBUS_ADMIN_CRIMINAL_PASSWORD}
        tls: true
        ca_file: /etc/ebus/gat-fj-ca.pem
        bus_key: ${EBUS_ADMIN_CRIMINAL_BUS_KEY}
        police_key: ${EBUS_ADMIN_CRIMINAL_POLICE_KEY}
    """

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 5671
    virtual_host: str = "/xxxj"
    user: str = "fjzf"
    password: SecretStr
    tls: bool = True
    ca_file: str | None = None
    heartbeat_s: Annotated[int, Field(ge=0)] = 30
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    confirm_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    exchange: str = "xx.transfer"
    receipts_queue: str = "xx.receipts.fjzf"
    app_id: str = "fjzf-esb"
    peer_app_id: str = "fjga-xxxj"
    bus_key: SecretStr
    police_key: SecretStr
    prefetch: Annotated[int, Field(ge=1, le=20)] = 20
    poll_interval_s: Annotated[float, Field(gt=0)] = 10.0
    max_per_cycle: Annotated[int, Field(ge=1)] = 500
    no_route_retry_s: Annotated[float, Field(gt=0)] = 3600.0

    @field_validator("bus_key", "police_key")
    @classmethod
    def _is_key(cls, value: SecretStr) -> SecretStr:
        key_bytes(value.get_secret_value())  # ValueError names no key material
        return value

    def peer(self) -> PeerSettings:
        """The shared AMQP transport's settings."""
        return PeerSettings(
            host=self.host,
            port=self.port,
            virtual_host=self.virtual_host,
            user=self.user,
            password=self.password.get_secret_value(),
            tls=self.tls,
            ca_file=self.ca_file,
            heartbeat_s=self.heartbeat_s,
            connect_timeout_s=self.connect_timeout_s,
            confirm_timeout_s=self.confirm_timeout_s,
            prefetch=self.prefetch,
            no_route_retry_s=self.no_route_retry_s,
        )


def as_config(config: AdapterConfig) -> AdminCriminalConfig:
    """``config`` as the admin_criminal model (the runner passes the validated model it built)."""
    if not isinstance(config, AdminCriminalConfig):
        raise TypeError(f"admin_criminal needs an AdminCriminalConfig, got {type(config).__name__}")
    return config
