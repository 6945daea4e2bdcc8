"""The socket-level changes of ``runner.bus._amqp_io``: buffered reads, corked writes, no polls.

``_buffered_read`` is checked on a fake transport over a real socket pair; the rest against the
real RabbitMQ (skipped when it is unreachable, failing when ``CI`` is set), on temporary queues
that are deleted afterwards.
"""

from __future__ import annotations

import copy
import errno
import socket
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import amqp
import kombu
import pytest
from amqp.transport import TCPTransport

from runner.bus import ACK, Message, OutMessage
from runner.bus._amqp import AmqpBus
from runner.bus._amqp_io import (
    READ_CHUNK,
    _buffered_read,
    _tcp_transport,
    buffer_reads,
    corked,
    skip_publish_polls,
)
from runner.bus.api import Disposition
from tests.services import AMQP_URL, require_rabbitmq

from .conftest import Consumer, Names, declare

_Connection: Any = kombu.connection.Connection  # untyped in kombu


# --- helpers -------------------------------------------------------------------------------------


def _fake_transport(recv: Callable[[int], bytes]) -> Any:
    """An object with just what ``_buffered_read`` uses, and ``_read`` bound to it."""
    transport = types.SimpleNamespace(
        _quick_recv=recv, _read_buffer=b"", raise_on_initial_eintr=True
    )
    transport._read = types.MethodType(_buffered_read, transport)
    return transport


class _ScriptedRecv:
    """A ``recv`` that plays a script: bytes are returned, exceptions raised; sizes recorded."""

    def __init__(self, *script: bytes | BaseException) -> None:
        self.script = list(script)
        self.sizes: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.sizes.append(size)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


class _WriteSpy:
    """Wraps a transport's ``_write``: records each call (a copy of its data) and passes it on."""

    def __init__(self, write: Callable[[Any], None]) -> None:
        self.write = write
        self.calls: list[bytes] = []

    def __call__(self, data: Any) -> None:
        self.calls.append(bytes(data))
        self.write(data)


class _RecvCounter:
    """Wraps a transport's ``_quick_recv`` and counts the calls."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self.recv = recv
        self.calls = 0

    def __call__(self, size: int) -> bytes:
        self.calls += 1
        return self.recv(size)


def _unconnected_tcp_transport() -> Any:
    """A real (never connected) ``TCPTransport`` given the attributes a connected one has."""
    transport = TCPTransport("127.0.0.1:1")
    transport._quick_recv = _ScriptedRecv()
    transport._write = _WriteSpy(lambda _: None)
    return transport


# --- _buffered_read on a socket pair ------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Our end (5 s timeout, so a bug fails instead of hanging) and the peer's."""
    ours, peer = socket.socketpair()
    ours.settimeout(5)
    yield ours, peer
    ours.close()
    peer.close()


def test_data_sent_in_one_piece_comes_back_in_exact_pieces(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    transport = _fake_transport(ours.recv)
    peer.sendall(b"0123456789")

    assert transport._read(3) == b"012"
    assert transport._read_buffer == b"3456789"  # read ahead, kept for the next read
    assert transport._read(4, True) == b"3456"
    assert transport._read(3) == b"789"
    assert transport._read_buffer == b""


def test_a_read_returns_bytes(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    transport = _fake_transport(ours.recv)
    peer.sendall(b"abc")
    piece = transport._read(2)
    assert type(piece) is bytes
    assert piece == b"ab"


def test_a_read_asks_the_socket_for_a_whole_chunk() -> None:
    recv = _ScriptedRecv(b"abcdefgh")
    transport = _fake_transport(recv)
    assert transport._read(2) == b"ab"
    assert recv.sizes == [READ_CHUNK]


def test_a_read_larger_than_a_chunk_asks_for_what_it_needs() -> None:
    recv = _ScriptedRecv(b"a" * 10, b"b" * (READ_CHUNK + 5))
    transport = _fake_transport(recv)
    assert transport._read(READ_CHUNK + 15) == b"a" * 10 + b"b" * (READ_CHUNK + 5)
    assert recv.sizes == [READ_CHUNK + 15, READ_CHUNK + 5]


def test_reads_larger_than_a_chunk(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    data = bytes(i % 251 for i in range(3 * READ_CHUNK + 5))
    writer = threading.Thread(target=peer.sendall, args=(data,))  # may exceed the socket buffer
    writer.start()
    try:
        transport = _fake_transport(ours.recv)
        first = transport._read(2 * READ_CHUNK + 1)
        second = transport._read(READ_CHUNK + 4)
    finally:
        writer.join(5)
    assert first == data[: 2 * READ_CHUNK + 1]
    assert second == data[2 * READ_CHUNK + 1 :]
    assert transport._read_buffer == b""


def test_a_timeout_keeps_what_was_read(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    ours.settimeout(0.05)
    transport = _fake_transport(ours.recv)
    peer.sendall(b"abc")

    with pytest.raises(TimeoutError):
        transport._read(7)
    assert transport._read_buffer == b"abc"

    peer.sendall(b"defg")
    assert transport._read(7) == b"abcdefg"
    assert transport._read_buffer == b""


def test_a_timeout_keeps_bytes_read_ahead_before_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    ours.settimeout(0.05)
    transport = _fake_transport(ours.recv)
    peer.sendall(b"12345")
    assert transport._read(2) == b"12"  # "345" read ahead

    with pytest.raises(TimeoutError):
        transport._read(6)
    assert transport._read_buffer == b"345"
    peer.sendall(b"678")
    assert transport._read(6) == b"345678"


def test_a_closed_peer_raises_oserror_and_keeps_what_was_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    transport = _fake_transport(ours.recv)
    peer.sendall(b"ab")
    peer.close()

    with pytest.raises(OSError, match="closed") as raised:
        transport._read(5)
    assert not isinstance(raised.value, TimeoutError)
    assert transport._read_buffer == b"ab"


def test_an_empty_recv_ends_the_read_at_once() -> None:
    transport = _fake_transport(_ScriptedRecv(b"ab", b""))  # a third recv would fail the test
    with pytest.raises(OSError, match="closed"):
        transport._read(5)
    assert transport._read_buffer == b"ab"


def test_nothing_to_read_on_a_non_blocking_socket_is_a_timeout_for_a_frame_start(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    # py-amqp polls with timeout 0: a non-blocking socket, EAGAIN before a frame's first byte
    ours, _ = pair
    ours.setblocking(False)
    transport = _fake_transport(ours.recv)
    with pytest.raises(TimeoutError):
        transport._read(7, True)
    assert transport._read_buffer == b""


def test_eagain_at_a_frame_start_keeps_the_partial_header() -> None:
    recv = _ScriptedRecv(b"ab", BlockingIOError(errno.EAGAIN, "again"))
    transport = _fake_transport(recv)
    with pytest.raises(TimeoutError):
        transport._read(7, True)
    assert transport._read_buffer == b"ab"


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EINTR])
def test_eagain_and_eintr_are_retried_within_a_frame(code: int) -> None:
    recv = _ScriptedRecv(b"ab", OSError(code, "retry"), b"cdef")
    transport = _fake_transport(recv)
    assert transport._read(4) == b"abcd"
    assert transport._read_buffer == b"ef"


def test_eintr_at_a_frame_start_is_retried_when_the_transport_says_so() -> None:
    recv = _ScriptedRecv(OSError(errno.EINTR, "interrupted"), b"abc")
    transport = _fake_transport(recv)
    transport.raise_on_initial_eintr = False
    assert transport._read(3, True) == b"abc"


def test_other_socket_errors_propagate_and_keep_what_was_read() -> None:
    reset = ConnectionResetError(errno.ECONNRESET, "reset")
    transport = _fake_transport(_ScriptedRecv(b"xy", reset))
    with pytest.raises(ConnectionResetError):
        transport._read(4)
    assert transport._read_buffer == b"xy"


# --- transports we do not know -------------------------------------------------------------------


def _foreign_connections() -> list[Any]:
    class OtherTransport(TCPTransport):  # type: ignore[misc]  # a subclass is not the one we know
        pass

    subclassed = OtherTransport("127.0.0.1:1")
    subclassed._quick_recv = _ScriptedRecv()
    subclassed._write = _WriteSpy(lambda _: None)
    unconnected = TCPTransport("127.0.0.1:1")  # no _quick_recv before it connects
    write_spy = _WriteSpy(lambda _: None)
    return [
        types.SimpleNamespace(),
        types.SimpleNamespace(transport=types.SimpleNamespace(_write=write_spy)),
        types.SimpleNamespace(connection=types.SimpleNamespace(transport=object())),
        types.SimpleNamespace(transport=subclassed),
        types.SimpleNamespace(connection=types.SimpleNamespace(transport=unconnected)),
    ]


@pytest.mark.parametrize("connection", _foreign_connections())
def test_an_unknown_transport_is_left_alone(connection: Any) -> None:
    raw = getattr(connection, "connection", connection)
    transport = getattr(raw, "transport", None)
    before = dict(vars(transport)) if hasattr(transport, "__dict__") else None

    assert _tcp_transport(connection) is None
    assert buffer_reads(connection) is False
    ran = False
    with corked(connection):
        ran = True
    assert ran
    if before is not None:
        assert vars(transport) == before  # no _read installed, _write untouched


def test_corked_on_an_unknown_transport_writes_straight_through() -> None:
    spy = _WriteSpy(lambda _: None)
    connection = types.SimpleNamespace(transport=types.SimpleNamespace(_write=spy))
    with corked(connection):
        connection.transport._write(b"one")
        assert spy.calls == [b"one"]  # not held back
        connection.transport._write(b"two")
    assert spy.calls == [b"one", b"two"]
    assert connection.transport._write is spy


def test_corked_passes_an_exception_of_an_unknown_transport_through() -> None:
    connection = types.SimpleNamespace(transport=object())
    with pytest.raises(KeyError), corked(connection):
        raise KeyError("boom")


def test_a_known_transport_is_found_directly_and_under_a_wrapper() -> None:
    transport = _unconnected_tcp_transport()
    assert _tcp_transport(types.SimpleNamespace(transport=transport)) is transport
    wrapped = types.SimpleNamespace(connection=types.SimpleNamespace(transport=transport))
    assert _tcp_transport(wrapped) is transport


def test_corked_copies_each_frame_of_a_reused_buffer() -> None:
    # py-amqp hands _write views of one buffer it overwrites for the next frame
    transport = _unconnected_tcp_transport()
    spy = transport._write
    buffer = bytearray(b"frame-1")
    with corked(types.SimpleNamespace(transport=transport)):
        transport._write(memoryview(buffer))
        buffer[:] = b"frame-2"
        transport._write(memoryview(buffer))
        assert spy.calls == []
    assert spy.calls == [b"frame-1frame-2"]
    assert transport._write is spy


def test_an_empty_corked_block_writes_nothing() -> None:
    transport = _unconnected_tcp_transport()
    with corked(types.SimpleNamespace(transport=transport)):
        pass
    assert transport._write.calls == []


# --- skip_publish_polls without a broker ---------------------------------------------------------


@pytest.mark.parametrize(
    "connection",
    [
        types.SimpleNamespace(),
        object(),
        types.SimpleNamespace(client_properties={}),
        types.SimpleNamespace(client_properties={"capabilities": None}),
        types.SimpleNamespace(connection=types.SimpleNamespace()),
    ],
)
def test_skip_publish_polls_ignores_a_connection_without_the_capability(connection: Any) -> None:
    raw = getattr(connection, "connection", connection)
    before = copy.deepcopy(getattr(raw, "__dict__", None))
    skip_publish_polls(connection)  # must not raise
    assert getattr(raw, "__dict__", None) == before


def test_skip_publish_polls_turns_the_capability_off_under_a_wrapper() -> None:
    raw = types.SimpleNamespace(
        client_properties={"capabilities": {"connection.blocked": True, "other": True}}
    )
    skip_publish_polls(types.SimpleNamespace(connection=raw))
    assert raw.client_properties["capabilities"] == {"connection.blocked": False, "other": True}


# --- against RabbitMQ ----------------------------------------------------------------------------


@pytest.fixture
def connection() -> Iterator[Any]:
    """A connected kombu connection, as ``AmqpBus._connect`` makes them."""
    require_rabbitmq()
    with _Connection(AMQP_URL, connect_timeout=10) as connection:
        connection.connect()
        yield connection


@pytest.fixture
def names() -> Iterator[Names]:
    names = Names()
    yield names
    require_rabbitmq()
    with _Connection(AMQP_URL) as connection:
        channel = connection.channel()
        for queue in names.queues:
            channel.queue_delete(queue)


@pytest.fixture
def temp_queue(connection: Any, names: Names) -> str:
    """A fresh queue on the broker (deleted by ``names``)."""
    queue = names("io")
    channel = connection.channel()
    channel.queue_declare(queue, durable=False, auto_delete=False)
    channel.close()
    return queue


def _get_all(channel: Any, queue: str, count: int, timeout: float = 10.0) -> list[bytes]:
    """Up to ``count`` bodies from ``queue`` by ``basic_get`` (acknowledged), within ``timeout``."""
    bodies: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        message = channel.basic_get(queue, no_ack=True)
        if message is None:
            time.sleep(0.01)
            continue
        bodies.append(bytes(message.body))
    return bodies


def _depth(channel: Any, queue: str) -> int:
    return int(channel.queue_declare(queue, passive=True).message_count)


def _is_buffered(connection: Any) -> bool:
    read = getattr(connection.connection.transport, "_read", None)
    return getattr(read, "__func__", None) is _buffered_read


@pytest.mark.integration
def test_buffer_reads_applies_to_a_plain_amqp_connection(connection: Any) -> None:
    assert type(connection.connection.transport) is TCPTransport
    assert not _is_buffered(connection)
    assert buffer_reads(connection) is True
    assert _is_buffered(connection)
    assert connection.connection.transport._read.__self__ is connection.connection.transport


@pytest.mark.integration
def test_buffered_reads_take_fewer_recv_calls_than_messages(
    connection: Any, temp_queue: str
) -> None:
    count = 50
    channel = connection.channel()
    for i in range(count):
        channel.basic_publish(amqp.Message(f"m{i:02d}".encode()), "", temp_queue)
    deadline = time.monotonic() + 10
    while _depth(channel, temp_queue) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buffer_reads(connection)

    got: list[bytes] = []
    tag = channel.basic_consume(
        temp_queue, callback=lambda m: got.append(bytes(m.body)), no_ack=True
    )
    time.sleep(0.3)  # let the broker push every delivery into our socket's buffer
    transport = connection.connection.transport
    counter = _RecvCounter(transport._quick_recv)
    transport._quick_recv = counter
    while len(got) < count and time.monotonic() < deadline:
        connection.drain_events(timeout=1)
    channel.basic_cancel(tag)  # or deleting the queue cancels it, and closing raises
    assert got == [f"m{i:02d}".encode() for i in range(count)]
    # unbuffered, py-amqp makes three recv calls per frame and three frames per message
    assert 0 < counter.calls < count


@pytest.mark.integration
def test_frames_of_every_size_arrive_intact_and_in_order_through_the_bus(
    amqp_bus: AmqpBus, names: Names
) -> None:
    queue = names("sizes")
    declare(amqp_bus, queue)
    sizes = [0, 1, 7, 100, 1000, 4000, READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1]
    bodies = [
        bytes((i + j) % 256 for j in range(sizes[i % len(sizes)] if i % 50 else 200)) + b"|%d" % i
        for i in range(500)
    ]
    bodies[123] = b"L" * (20 * 1024) + b"|123"  # larger than one read chunk
    bodies[321] = bytes(j % 253 for j in range(300_000)) + b"|321"  # larger than frame_max
    for start in range(0, len(bodies), 50):
        amqp_bus.publish(queue, [OutMessage(b) for b in bodies[start : start + 50]])

    got: list[bytes] = []
    buffered: list[bool] = []
    done = threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        got.extend(m.body for m in batch)
        buffered.extend(_is_buffered(c) for c in list(amqp_bus._connections))
        if len(got) >= len(bodies):
            done.set()
        return [ACK] * len(batch)

    consumer = Consumer(amqp_bus, queue, handler)
    consumer.start()
    try:
        assert done.wait(30), f"only {len(got)} of {len(bodies)} messages arrived"
    finally:
        consumer.stop()
    assert buffered
    assert all(buffered), "a bus connection does not read ahead"
    assert len(got) == len(bodies)
    for i, (body, expected) in enumerate(zip(got, bodies, strict=True)):
        assert body == expected, f"message {i} differs"


@pytest.mark.integration
def test_corked_sends_a_batch_with_one_write(connection: Any, temp_queue: str) -> None:
    transport = connection.connection.transport
    spy = _WriteSpy(transport._write)
    transport._write = spy
    channel = connection.channel()
    spy.calls.clear()
    bodies = [f"corked-{i:02d}".encode() * (i + 1) for i in range(20)]

    with corked(connection):
        for body in bodies:
            channel.basic_publish(amqp.Message(body), "", temp_queue)
        assert spy.calls == []  # held back until the block ends
    assert len(spy.calls) == 1
    assert transport._write is spy
    assert all(body in spy.calls[0] for body in bodies)
    assert _get_all(channel, temp_queue, len(bodies)) == bodies


@pytest.mark.integration
def test_corked_sends_nothing_when_the_block_fails(connection: Any, temp_queue: str) -> None:
    transport = connection.connection.transport
    channel = connection.channel()
    spy = _WriteSpy(transport._write)
    transport._write = spy

    def publish_then_fail() -> None:
        with corked(connection):
            for i in range(5):
                channel.basic_publish(amqp.Message(b"lost %d" % i), "", temp_queue)
            raise RuntimeError("mid-batch")

    with pytest.raises(RuntimeError, match="mid-batch"):
        publish_then_fail()
    assert spy.calls == []
    assert transport._write is spy
    assert _depth(channel, temp_queue) == 0  # a synchronous call: anything sent came first

    spy.calls.clear()
    channel.basic_publish(amqp.Message(b"after"), "", temp_queue)  # writes go out again
    assert len(spy.calls) == 1
    assert _get_all(channel, temp_queue, 1) == [b"after"]


@pytest.mark.integration
def test_skip_publish_polls_on_a_real_connection(connection: Any, temp_queue: str) -> None:
    capabilities = connection.connection.client_properties["capabilities"]
    assert capabilities["connection.blocked"] is True  # what py-amqp negotiates by default
    skip_publish_polls(connection)
    assert capabilities["connection.blocked"] is False

    transport = connection.connection.transport
    counter = _RecvCounter(transport._quick_recv)
    transport._quick_recv = counter
    channel = connection.channel()
    counter.calls = 0
    for i in range(5):
        channel.basic_publish(amqp.Message(b"%d" % i), "", temp_queue)
    assert counter.calls == 0  # no poll of the socket before each publish
    assert _get_all(channel, temp_queue, 5) == [b"0", b"1", b"2", b"3", b"4"]


@pytest.mark.integration
def test_bus_publishers_do_not_poll_before_publishing(amqp_bus: AmqpBus, names: Names) -> None:
    queue = names("nopoll")
    declare(amqp_bus, queue)
    amqp_bus.publish(queue, [OutMessage(b"x")])
    connections = list(amqp_bus._connections)
    assert connections
    for c in connections:
        assert c.connection.client_properties["capabilities"]["connection.blocked"] is False
    assert amqp_bus.depth(queue) == 1
