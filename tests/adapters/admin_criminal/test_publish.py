"""Publishing transfer packages to the police side on the real RabbitMQ: confirmed, signed,
routed by division; returned, refused and unreachable publishes raise the bus's errors."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from contextlib import closing
from typing import Any

import pytest

from adapters._simulators.polling import RecordingPollContext
from adapters._transports.amqp_peer import Unroutable
from adapters.admin_criminal import SPEC
from adapters.admin_criminal._poll import close_links
from adapters.admin_criminal.simulator import PoliceSide
from runner.adapter_api import CallContext, PermanentError, TransientError
from runner.dryrun import render_message
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.adapters.admin_criminal.conftest import PACKAGES, make_config
from tests.services import require_rabbitmq

pytestmark = pytest.mark.integration

PROJECT = load_project()


def _call(index: int = 0) -> Any:
    envelope = json.loads(
        PACKAGES[index].with_name(PACKAGES[index].name.replace(".json", ".input.json")).read_text()
    )
    return render_message(PROJECT, "admin_criminal", "transfer_package", [envelope], {})


def _eventually(check: Any, timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_a_confirmed_package_reaches_the_police_verified(police: PoliceSide, config):
    with closing(SPEC.connect(config)) as connection:
        answer = connection.send(_call(0))
        connection.send(_call(1))
    assert answer.meta["status"] == "200"
    assert answer.meta["routing_key"] == "fj.350322.sc"
    assert _eventually(lambda: len(police.packages) == 2)
    first = police.packages[0]
    assert first.routing_key == "fj.350322.sc"
    assert first.properties["message_id"] == "YS-350322-2025-0004"
    assert first.properties["delivery_mode"] == 2
    assert police.refused == []


def test_the_police_side_answers_a_package_with_a_receipt(config):
    require_rabbitmq()
    with PoliceSide(config, auto_receipt=True) as police, closing(SPEC.connect(config)) as conn:
        conn.send(_call(2))
        assert _eventually(lambda: police.depth() == 1)
        ctx = RecordingPollContext(lambda _c: None, now=dt.datetime.now(SHANGHAI))  # type: ignore[arg-type,return-value]
        SPEC.poll(ctx, config)
        close_links()
    assert ctx.emitted_ids() == ["receipt_signed"]


def test_a_package_for_an_unbound_division_comes_back_as_unroutable(config):
    require_rabbitmq()
    with (
        PoliceSide(config, bindings=("fj.350322.*",), auto_receipt=False) as police,
        closing(SPEC.connect(config)) as connection,
    ):
        with pytest.raises(Unroutable) as caught:
            connection.send(_call(1))  # 350802 新罗: no police queue bound
        connection.send(_call(0))  # the link is still usable afterwards
        assert _eventually(lambda: police.transfer_numbers() == ["YS-350322-2025-0004"])
    assert caught.value.code == "AMQP312"
    assert caught.value.retry_after == 3600.0
    assert isinstance(caught.value, TransientError)


def test_a_missing_exchange_is_permanent_and_never_declared(config):
    require_rabbitmq()
    with closing(SPEC.connect(config)) as connection, pytest.raises(PermanentError) as caught:
        connection.send(_call(0))
    assert caught.value.code == "AMQP404"


def test_refused_credentials_are_permanent():
    require_rabbitmq()
    config = make_config(password="not-the-password")
    with closing(SPEC.connect(config)) as connection, pytest.raises(PermanentError) as caught:
        connection.send(_call(0))
    assert caught.value.code == "AMQP403"
    assert "not-the-password" not in str(caught.value)


def test_an_unreachable_broker_is_transient():
    config = make_config(port=1, connect_timeout_s=1.0)
    with closing(SPEC.connect(config)) as connection, pytest.raises(TransientError) as caught:
        connection.send(_call(0))
    assert caught.value.code == "AMQP_CONNECTION"


def test_a_dropped_link_is_reopened_and_the_package_sent_again(police: PoliceSide, config):
    with closing(SPEC.connect(config)) as connection:
        connection.send(_call(0))
        connection.peer._connection.connection.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        connection.send(_call(1))
    assert _eventually(lambda: len(police.transfer_numbers()) == 2)


def test_a_resent_package_is_signed_afresh_with_the_same_message_id(police: PoliceSide, config):
    document = _call(0).body
    with closing(SPEC.connect(config)) as connection:
        for nonce in ("0" * 32, "1" * 32):
            call = CallContext(now=dt.datetime.now(SHANGHAI), nonce=nonce)
            connection.send(SPEC.outgoing("transfer_package", document, config, call))
    assert _eventually(lambda: len(police.packages) == 2)
    first, second = police.packages
    assert first.properties["message_id"] == second.properties["message_id"]
    assert police.refused == []
