"""Fewer system calls on py-amqp's plain TCP sockets: buffered reads and corked batch writes.

py-amqp reads a frame with one ``recv`` for its 7-byte header, one for its payload and one for
its end octet, so a consumed message (method, header and body frames) costs about nine system
calls; and it writes each published message with its own ``sendall``. On a loaded machine
those calls are a large share of a worker's CPU. Two small changes, applied per connection:

- ``buffer_reads``: the transport's ``_read`` asks the socket for up to ``READ_CHUNK`` bytes
  instead of exactly the bytes it needs; what it does not need yet stays in the transport's own
  ``_read_buffer``, which py-amqp already keeps between reads (and restores on a timeout);
- ``corked``: while a batch is published, the frames are collected and written with one
  ``sendall``;
- ``skip_publish_polls``: py-amqp polls the socket (a read with timeout 0, usually a timeout
  exception) before every publish when the broker may send ``connection.blocked``; a publisher
  that waits for its confirms after each batch reads such a notice then anyway.

They touch py-amqp's ``TCPTransport`` internals (``_read``, ``_read_buffer``, ``_write``,
``_quick_recv``; stable since py-amqp 2.x) and its ``client_properties``, so each checks for
them first and leaves any other transport (TLS, or a py-amqp that changed) as it is: a missed
optimisation, never a failure.
"""

from __future__ import annotations

import errno
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from amqp.transport import TCPTransport

__all__ = ["READ_CHUNK", "buffer_reads", "corked", "skip_publish_polls"]

READ_CHUNK: Final = 16384
"""Bytes asked of the socket per read. Small enough that keeping the rest (a slice copy per
read) stays cheap, large enough to hold tens of small messages."""

_RETRY_ERRNOS: Final = (errno.EAGAIN, errno.EINTR)


def _tcp_transport(connection: Any) -> Any | None:
    """The py-amqp TCP transport under a kombu or py-amqp connection, if it is one we know."""
    raw = getattr(connection, "connection", connection)  # kombu wraps the py-amqp connection
    transport = getattr(raw, "transport", None)
    if type(transport) is not TCPTransport:
        return None
    if not all(hasattr(transport, a) for a in ("_read_buffer", "_quick_recv", "_write")):
        return None
    return transport


def _buffered_read(self: Any, n: int, initial: bool = False) -> bytes:
    """py-amqp's ``TCPTransport._read`` (read exactly ``n`` bytes), reading ahead."""
    recv = self._quick_recv
    rbuf = self._read_buffer
    try:
        while len(rbuf) < n:
            try:
                chunk = recv(max(n - len(rbuf), READ_CHUNK))
            except OSError as exc:
                if exc.errno in _RETRY_ERRNOS:
                    if initial and self.raise_on_initial_eintr:
                        raise TimeoutError from exc  # socket.timeout is an alias
                    continue
                raise
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            rbuf += chunk
    except BaseException:
        self._read_buffer = rbuf  # what was read stays for the next read, as py-amqp does
        raise
    result, self._read_buffer = rbuf[:n], rbuf[n:]
    return bytes(result)


def buffer_reads(connection: Any) -> bool:
    """Make the connection's socket reads read ahead; False when the transport is not one we
    know (nothing changed)."""
    transport = _tcp_transport(connection)
    if transport is None:
        return False
    transport._read = types.MethodType(_buffered_read, transport)
    return True


@contextmanager
def corked(connection: Any) -> Iterator[None]:
    """Within the block, what py-amqp writes on ``connection`` is collected and sent with one
    ``sendall`` at the end (nothing is sent if the block fails: the caller drops the
    connection). Frames come as views of a buffer py-amqp reuses, so each is copied."""
    transport = _tcp_transport(connection)
    if transport is None:
        yield
        return
    send = transport._write
    frames: list[bytes] = []
    transport._write = lambda data: frames.append(bytes(data))
    try:
        yield
    finally:
        transport._write = send
    if frames:
        send(b"".join(frames))


def skip_publish_polls(connection: Any) -> None:
    """Stop py-amqp from polling the socket before each publish on ``connection`` (the broker
    still sends ``connection.blocked``: it was negotiated; the next read handles it)."""
    raw = getattr(connection, "connection", connection)
    capabilities = getattr(raw, "client_properties", {}).get("capabilities")
    if isinstance(capabilities, dict) and capabilities.get("connection.blocked"):
        capabilities["connection.blocked"] = False
