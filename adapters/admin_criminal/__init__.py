"""admin_criminal — 行刑衔接平台 (public-security side, provincial): transfer packages out
over AMQP, the police side's answers in from its receipts queue, every message HMAC-SM3
signed.

The bus publishes each approved transfer (``enforcement.case_transfer.v1``,
``admin_to_criminal``, status ``transferred``) as a transfer package (涉嫌犯罪案件移送包) to
the police side's topic exchange ``xx.transfer`` with routing key
``fj.<division>.<domain lower>``, mandatory and with publisher confirms; it drains the
answers — 签收回执, 立案决定, 不予立案决定, 复议决定, 转送 and 反向移送 — from the queue
``xx.receipts.fjzf``, each a delta of the same canonical schema (README §4, §6).

How the pieces fit:

- ``mappings/admin_criminal/*.yaml`` render the package and map the answers (deadlines of
  Decree 310 with their basis, README §3); code tables under ``mappings/codes/admin_criminal/``;
  the transforms they use (deadlines, patterns, USCC checks) are all shared ones.
- ``SPEC.frame`` signs the package (``adapters.admin_criminal._signing``, README §2.3) and sets
  the AMQP properties and routing key; ``SPEC.connect`` opens the shared AMQP transport
  (``adapters._transports.amqp_peer``) on the police exchange.
- ``SPEC.poll`` is one drain of the receipts queue: signature checked first (bad → dead letter
  + ``basic.reject``), then emitted to the bus (stored) and only then acknowledged
  (``adapters.admin_criminal._poll``). No ``verify`` hook: the channel verifies, because the
  signature covers AMQP properties that only the channel sees.
- ``adapters.admin_criminal.simulator`` is the police side on a real RabbitMQ, for tests and the
  demo.

Example (a route destination)::

    to:
      - {system: admin_criminal, message: transfer_package, retry: {attempts: 48, max_delay: 1h}}
"""

from __future__ import annotations

from adapters.admin_criminal._config import AdminCriminalConfig
from adapters.admin_criminal._poll import poll
from adapters.admin_criminal._wire import frame, open_connection
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["SPEC", "AdminCriminalConfig"]

_ANSWER = "enforcement.case_transfer.v1"

SPEC = AdapterSpec(
    id="admin_criminal",
    name_zh="福建省行政执法与刑事司法衔接信息平台（公安端）",
    name_en="Fujian administrative-to-criminal case transfer platform, public-security side",
    group="provincial",
    summary="AMQP with HMAC-SM3: transfer packages published, the police side's answers drained.",
    config=AdminCriminalConfig,
    messages=(
        MessageType(
            "transfer_package",
            "outbound",
            "AMQP type TRANSFER to exchange xx.transfer, JSON body",
            _ANSWER,
        ),
        MessageType(
            "receipt_signed", "inbound", "AMQP type QSHZ 签收回执, queue xx.receipts.fjzf", _ANSWER
        ),
        MessageType("filing_decision", "inbound", "AMQP type LAJD 立案决定", _ANSWER),
        MessageType("non_filing_decision", "inbound", "AMQP type BYLAJD 不予立案决定", _ANSWER),
        MessageType("reconsideration_decision", "inbound", "AMQP type FYJD 复议决定", _ANSWER),
        MessageType("forward_notice", "inbound", "AMQP type ZS 转送", _ANSWER),
        MessageType("reverse_transfer", "inbound", "AMQP type FXYS 反向移送", _ANSWER),
    ),
    demo_config={
        "host": "127.0.0.1",
        "port": 5672,
        "virtual_host": "/",
        "user": "guest",
        "password": "guest",
        "tls": False,
        # the README's test-environment keys (§2.3): demo and tests only
        "bus_key": "ddffc592cab74cd95fa53db3ec6296cc84d272c3c78590224099e973bdf7a0a5",
        "police_key": "dd41d1bba50bf9223cc2a995eb0e5e43942f77af1dd5a7c713cb4d30b5f15c4a",
    },
    frame=frame,
    poll=poll,
    connect=open_connection,
)
