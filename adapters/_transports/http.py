"""The HTTP transport every REST and SOAP adapter uses: one httpx client per endpoint.

``send`` makes one call and returns the answer as a ``RawMessage`` (``meta['status']`` holds the
HTTP status) for the answer's inbound mapping to turn into a delivery outcome. httpx errors are
translated here, once, into ``TransientError`` (timeouts, refused or dropped connections):
retry decisions look only at our types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx

from runner.adapter_api import AdapterConfig, Outgoing, RawMessage, TransientError
from runner.stamp import now

__all__ = ["HttpTransport", "http_connector", "map_httpx_errors"]


@contextmanager
def map_httpx_errors(system: str) -> Iterator[None]:
    """Translate httpx's exceptions into ``TransientError`` (the cause is kept)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(f"{system}: timed out ({type(exc).__name__})", code="TIMEOUT") from exc
    except httpx.TransportError as exc:
        raise TransientError(
            f"{system}: connection failed ({type(exc).__name__})", code="CONNECTION"
        ) from exc


class HttpTransport:
    """Calls one system's endpoint with the timeouts its spec recommends."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        default_headers: Mapping[str, str] | None = None,
        verify: str | bool = True,
    ) -> None:
        self.system = system
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            headers=dict(default_headers or {}),
            verify=verify,
        )

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call``; the answer comes back whatever its status (mapping decides)."""
        with map_httpx_errors(self.system):
            response = self._client.request(
                call.method, call.path, content=call.body, headers=dict(call.headers)
            )
        return RawMessage(
            body=response.content,
            headers={k.lower(): v for k, v in response.headers.items()},
            meta={"status": str(response.status_code), "method": call.method, "path": call.path},
            received_at=now(),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def http_connector(
    system: str, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0
) -> Callable[[AdapterConfig], HttpTransport]:
    """An ``AdapterSpec.connect`` for systems reached over HTTP at ``config.endpoint``."""

    def connect(config: AdapterConfig) -> HttpTransport:
        endpoint = getattr(config, "endpoint", None)
        if endpoint is None:
            raise ValueError(f"{system} config has no endpoint")
        return HttpTransport(
            system,
            str(endpoint),
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
        )

    return connect
