"""A loopback HTTP server for simulators, with fault injection.

A simulator supplies ``handle(request) -> Response``; ``HttpSimulator`` runs it on a real
``ThreadingHTTPServer`` bound to 127.0.0.1 and, before each request, applies the faults queued
with ``inject``: latency, an HTTP error status (with ``Retry-After``), a dropped connection, or a
malformed body. Every request is recorded in ``requests`` so tests can count deliveries.

``ServedSimulator`` is the base of a simulator that serves one path on its own ``HttpSimulator``
(a SOAP service, say): it holds the life cycle, the URLs and the HTTP faults once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["Fault", "HttpSimulator", "Request", "Response", "ServedSimulator"]


@dataclass(frozen=True)
class Request:
    """One request as the simulator received it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """What the simulator answers."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """A fault applied to the next matching request instead of (or before) the normal answer.

    ``kind``: ``delay`` (sleep ``seconds`` then answer normally), ``status`` (answer ``status``
    with ``body`` and ``retry_after``), ``drop`` (close the connection without an answer),
    ``malformed`` (answer 200 with ``body``, e.g. broken XML).
    """

    kind: Literal["delay", "status", "drop", "malformed"]
    status: int = 503
    seconds: float = 0.0
    retry_after: int | None = None
    body: bytes = b""
    path_prefix: str = ""
    content_type: str = "text/html; charset=utf-8"


Handler = Callable[[Request], Response]


class HttpSimulator:
    """Runs ``handler`` on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests whose path starts with its prefix."""
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        """Forget the faults not yet applied (a test's leftovers, before the next test)."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    self._faults.remove(fault)
                    return fault
        return None

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no request is being answered (a delayed one included); False on timeout.

        A test that left a request in flight (its client gave up on a delayed answer) must not
        have that request land on the next test's state."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout_s)

    def start(self) -> HttpSimulator:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms per call).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                """Silence the default stderr access log."""

            def _serve(self) -> None:
                with simulator._lock:
                    simulator._in_flight += 1
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test)
                finally:
                    with simulator._idle:
                        simulator._in_flight -= 1
                        simulator._idle.notify_all()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with simulator._lock:
                    simulator.requests.append(request)
                fault = simulator._take_fault(parts.path)
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.seconds)
                    fault = None
                if fault is not None and fault.kind == "status":
                    headers = {"Content-Type": fault.content_type}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(fault.retry_after)
                    response = Response(fault.status, fault.body or b"<html>error</html>", headers)
                elif fault is not None and fault.kind == "malformed":
                    response = Response(200, fault.body or b"<broken", {})
                else:
                    response = simulator.handler(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = _serve  # noqa: N815  (the names http.server calls)
            do_POST = _serve  # noqa: N815
            do_PUT = _serve  # noqa: N815

        return _Handler


class ServedSimulator:
    """Base of a simulator that answers at ``path`` on its own ``HttpSimulator`` (``http``).

    It gives what every such simulator needs besides its behaviour: ``start``/``stop`` (or use it
    as a context manager), ``endpoint`` and ``wsdl_url``, and ``inject`` for HTTP-level faults.
    A subclass supplies ``handle(request) -> Response``::

        class Service(ServedSimulator):
            def handle(self, request: Request) -> Response:
                return Response(200, b"<ok/>")

        with Service("/services/Exchange") as service:
            ...  # service.endpoint, service.wsdl_url
    """

    wsdl_query = "wsdl"
    """What ``wsdl_url`` puts after the ``?`` (ASMX services write ``WSDL``)."""

    def __init__(self, path: str, port: int = 0) -> None:
        self.path = path
        self.http = HttpSimulator(self.handle, port)

    def handle(self, request: Request) -> Response:
        """Answer one request (the ``HttpSimulator`` handler)."""
        raise NotImplementedError

    @property
    def endpoint(self) -> str:
        """The service URL: ``http://127.0.0.1:<port><path>``."""
        return self.http.url + self.path

    @property
    def wsdl_url(self) -> str:
        """Where the WSDL is served: ``<endpoint>?wsdl`` (or ``?WSDL``, see ``wsdl_query``)."""
        return f"{self.endpoint}?{self.wsdl_query}"

    def start(self) -> Self:
        """Start serving."""
        self.http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Queue an HTTP-level fault: latency, a status with Retry-After, a drop, a malformed
        body (``HttpSimulator.inject``)."""
        self.http.inject(fault, times)
