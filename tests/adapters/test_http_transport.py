"""The shared HTTP transport maps httpx failures to the bus's error types (unit tests, respx)."""

from __future__ import annotations

import httpx
import pytest
import respx

from adapters._transports.http import HttpTransport
from runner.adapter_api import Outgoing, TransientError

BASE = "https://peer.example.gov.cn"


@pytest.fixture
def transport():
    client = HttpTransport("peer", BASE)
    yield client
    client.close()


@respx.mock
def test_an_answer_comes_back_with_its_status_and_lower_cased_headers(transport):
    respx.post(f"{BASE}/push").mock(
        return_value=httpx.Response(503, headers={"Retry-After": "30"}, content=b"<html/>")
    )
    answer = transport.send(Outgoing(b"{}", {"content-type": "application/json"}, "POST", "/push"))
    assert answer.meta["status"] == "503"
    assert answer.headers["retry-after"] == "30"
    assert answer.body == b"<html/>"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(httpx.ConnectTimeout("slow"), "TIMEOUT", id="a connect timeout"),
        pytest.param(httpx.ReadTimeout("slow"), "TIMEOUT", id="a read timeout"),
        pytest.param(httpx.ConnectError("refused"), "CONNECTION", id="a refused connection"),
        pytest.param(httpx.RemoteProtocolError("dropped"), "CONNECTION", id="a dropped answer"),
    ],
)
@respx.mock
def test_no_answer_is_a_transient_error_keeping_its_cause(transport, error, code):
    respx.post(f"{BASE}/push").mock(side_effect=error)
    with pytest.raises(TransientError) as caught:
        transport.send(Outgoing(b"{}", {}, "POST", "/push"))
    assert caught.value.code == code
    assert caught.value.__cause__ is error
