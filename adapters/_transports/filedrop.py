"""The file-drop transport: a drop directory on an fsspec filesystem (local or SFTP).

Systems that exchange files instead of calls (the 双随机 platform ``market_platform``, the
market-entity registration feed ``market_reg``) share these mechanics:

- a drop directory given by a URL (``file:///var/drop`` or ``sftp://fjzf_esb@host:22/fjzf``;
  SFTP with public-key authentication and a pinned host key);
- a file is ready only when its **marker** (``<name>.ok`` by default) exists: the writer writes
  the file first, then the marker; a file without a marker may still be growing and is never
  opened;
- a marker is one ASCII line ``<file name>|<record count>|<md5 hex>`` + CRLF, or empty (older
  writers); ``Marker.check`` verifies one against the file's bytes;
- a processed file (then its marker) moves to ``archive/<yyyyMMdd>/``; a refused one moves to
  ``error/`` with a one-line ``<name>.err`` reason file;
- an outbound file is written under ``.<name>.tmp`` (a dot name the reader ignores), renamed,
  then its marker is written the same way; a file of that name not yet collected by the reader
  is never overwritten (``TransientError``: try again later).

Filesystem and SSH failures are translated here, once, into ``TransientError`` (code ``DROP_IO``
or ``TIMEOUT``), keeping the cause: retry decisions look only at our types.

A server that allows a user only so many SFTP sessions at once is kept to them with
``max_sessions``: every drop of that user at that server in this process (a poller's, the
delivery connection's) takes a slot of one shared cap (``adapters._transports.pacing``) while
its session is open, and gives it back on ``close``. A drop that finds no slot free within
``connect_timeout_s`` raises ``TransientError`` (``DROP_BUSY``). The children of ``ebus run
--processes N`` each keep 1/N of the sessions (at least one).

Example (an adapter's config model and poll cycle)::

    class MyConfig(FileDropConfig):
        poll_interval_s: int = 300

    with closing(FileDrop.from_config("my_system", config)) as drop:
        for name in drop.ready("inbox", re.compile(r"^TASK_\\d{8}_\\d{3}\\.csv$")):
            data = drop.read("inbox", name)
            marker = Marker.parse(drop.read_marker("inbox", name))
            ...
            drop.archive("inbox", name, "20250409")
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import fsspec
import paramiko
from pydantic import Field, SecretStr, field_validator

from adapters._transports.pacing import PACERS, Pacer
from runner.adapter_api import AdapterConfig, MessageRejected, TransientError

__all__ = [
    "ARCHIVE",
    "ERROR",
    "FileDrop",
    "FileDropConfig",
    "Marker",
    "PinnedHostKey",
    "map_drop_errors",
    "md5_hex",
]

ARCHIVE = "archive"
"""Where processed files go, under a ``<yyyyMMdd>`` folder."""
ERROR = "error"
"""Where refused files go, each with a ``<name>.err`` reason file."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data`` as 32 lower-case hex digits (the markers' integrity check)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class FileDropConfig(AdapterConfig):
    """Settings of a drop directory; a file-drop adapter's config model extends it.

    Example::

        url: sftp://fjzf_esb@sftp.scjgj.fujian.gov.cn:22/fjzf   # or file:///var/drop/market
        key_file: /etc/ebus/keys/market_platform_ed25519        # SFTP only: public-key auth
        key_passphrase: ${EBUS_MARKET_PLATFORM_KEY_PASSPHRASE}  # when the key file is encrypted
        host_key_sha256: "SHA256:Qm9n…"                         # the pinned host key fingerprint
        connect_timeout_s: 15
        operation_timeout_s: 60
    """

    url: str
    """The drop directory: ``file:///absolute/path`` or ``sftp://user@host[:port]/path``."""
    key_file: Path | None = None
    """SFTP: the private key file (Ed25519 or RSA) of the bus's user; no password login."""
    key_passphrase: SecretStr | None = None
    """SFTP: the passphrase of ``key_file`` when it is encrypted."""
    host_key_sha256: str | None = None
    """SFTP: the server's host key fingerprint as OpenSSH prints it (``SHA256:…``); a server
    presenting another key is refused. Required for SFTP (pin the key from the registration
    form)."""
    connect_timeout_s: float = Field(15.0, gt=0)
    """Seconds to establish the SSH session."""
    operation_timeout_s: float = Field(60.0, gt=0)
    """Seconds one SFTP operation may take."""
    idle_reconnect_s: float = Field(300.0, gt=0)
    """A session unused this long is reopened before use (servers close idle sessions)."""
    max_file_bytes: int = Field(64 * 1024 * 1024, gt=0)
    """The largest file read; a larger one is refused unread."""
    max_sessions: int | None = Field(None, ge=1)
    """SFTP: sessions of the user this process holds at once (the server's limit per user);
    ``null``: no cap. A ``file://`` drop has no sessions."""

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("file", "sftp"):
            raise ValueError(f"url scheme '{scheme}' is not file or sftp")
        return value


@contextlib.contextmanager
def map_drop_errors(system: str, action: str) -> Iterator[None]:
    """Translate filesystem and SSH errors into ``TransientError`` (the cause is kept).

    The reason names the action (``list inbox``), never a file's content.
    """
    try:
        yield
    except TimeoutError as exc:
        raise TransientError(f"{system}: drop timed out ({action})", code="TIMEOUT") from exc
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise TransientError(
            f"{system}: drop unavailable ({action}: {type(exc).__name__})", code="DROP_IO"
        ) from exc


@dataclass(frozen=True)
class Marker:
    """A ``.ok`` marker: file name, record count and MD5, or empty (``name`` None: a writer
    that predates markers with content; nothing can be checked then)."""

    name: str | None
    count: int | None
    md5: str | None

    @classmethod
    def for_file(cls, name: str, count: int, data: bytes) -> Marker:
        """The marker announcing ``data`` as file ``name`` with ``count`` records."""
        return cls(name, count, md5_hex(data))

    @classmethod
    def parse(cls, raw: bytes) -> Marker:
        """Read a marker; a malformed one is ``MessageRejected`` (rule ``bad_marker``)."""
        if not raw.strip():
            return cls(None, None, None)
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise MessageRejected("marker is not ASCII", rule="bad_marker") from None
        parts = text.split("|")
        if len(parts) != 3 or not parts[1].isdigit() or not _MD5.fullmatch(parts[2].lower()):
            raise MessageRejected(
                "marker is not '<file name>|<count>|<md5>'", field="marker", rule="bad_marker"
            )
        return cls(parts[0], int(parts[1]), parts[2].lower())

    def render(self) -> bytes:
        """The marker's bytes: one ASCII line with CRLF (empty for an empty marker)."""
        if self.name is None:
            return b""
        return f"{self.name}|{self.count}|{self.md5}\r\n".encode("ascii")

    def check(self, name: str, data: bytes, count: int | None = None) -> None:
        """Refuse ``data`` unless it is what the marker announces (name, MD5, record count).

        ``count`` is the number of records the caller counted (None: not checked here). An
        empty marker checks nothing. Rules: ``marker_name``, ``md5_mismatch``,
        ``count_mismatch``.
        """
        if self.name is None:
            return
        if self.name != name:
            raise MessageRejected(
                f"marker names '{self.name}', not the file", field="marker", rule="marker_name"
            )
        digest = md5_hex(data)
        if digest != self.md5:
            raise MessageRejected(
                f"md5 mismatch: marker {self.md5}, file {digest}",
                field="marker",
                rule="md5_mismatch",
            )
        if count is not None and count != self.count:
            raise MessageRejected(
                f"count mismatch: marker {self.count} rows, file {count}",
                field="marker",
                rule="count_mismatch",
            )


class PinnedHostKey(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Accept an SSH server only if its host key has the pinned SHA-256 fingerprint."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint.strip().removeprefix("SHA256:").rstrip("=")

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        """Refuse a host key other than the pinned one."""
        got = key.fingerprint.removeprefix("SHA256:").rstrip("=")
        if got != self.fingerprint:
            raise paramiko.SSHException(f"host key of {hostname} is not the pinned key")


def _safe(name: str) -> str:
    """A plain file name (no folder, no parent, no leading dot), else ``ValueError``."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"'{name}' is not a plain file name")
    return name


class FileDrop:
    """One drop directory. Opens its filesystem lazily; ``close`` releases it.

    Folders are relative to the drop root (``inbox``, ``outbox``); names are plain file names.
    """

    def __init__(
        self,
        system: str,
        url: str,
        *,
        key_file: Path | None = None,
        key_passphrase: str | None = None,
        host_key_sha256: str | None = None,
        connect_timeout_s: float = 15.0,
        operation_timeout_s: float = 60.0,
        idle_reconnect_s: float = 300.0,
        max_file_bytes: int = 64 * 1024 * 1024,
        marker_suffix: str = ".ok",
        max_sessions: int | None = None,
    ) -> None:
        self.system = system
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.root = unquote(parts.path).rstrip("/") or "/"
        self._parts = parts
        self._key_file = key_file
        self._passphrase = key_passphrase
        self._host_key = host_key_sha256
        self._connect_timeout = connect_timeout_s
        self._operation_timeout = operation_timeout_s
        self._idle = idle_reconnect_s
        self.max_file_bytes = max_file_bytes
        self.marker_suffix = marker_suffix
        self._fs: Any = None
        self._used = 0.0
        if self.scheme == "sftp" and not host_key_sha256:
            raise ValueError(f"{system}: an sftp drop needs host_key_sha256 (pin the host key)")
        self._sessions: Pacer | None = None
        if self.scheme == "sftp" and max_sessions is not None:
            user = f"{parts.username}@{parts.hostname}:{parts.port or 22}"
            self._sessions = PACERS.pacer(system, user, None, max_sessions)
        self._slot: Pacer | None = None

    @classmethod
    def from_config(cls, system: str, config: FileDropConfig, **options: Any) -> FileDrop:
        """A drop from a ``FileDropConfig`` (``options``: e.g. ``marker_suffix``)."""
        return cls(
            system,
            config.url,
            key_file=config.key_file,
            key_passphrase=(
                config.key_passphrase.get_secret_value() if config.key_passphrase else None
            ),
            host_key_sha256=config.host_key_sha256,
            connect_timeout_s=config.connect_timeout_s,
            operation_timeout_s=config.operation_timeout_s,
            idle_reconnect_s=config.idle_reconnect_s,
            max_file_bytes=config.max_file_bytes,
            max_sessions=config.max_sessions,
            **options,
        )

    # --- the filesystem ---------------------------------------------------------------------

    def _open(self) -> Any:
        if self.scheme == "file":
            return fsspec.filesystem("file", skip_instance_cache=True)
        options: dict[str, Any] = {
            "port": self._parts.port or 22,
            "username": unquote(self._parts.username or ""),
            "key_filename": str(self._key_file) if self._key_file else None,
            "passphrase": self._passphrase,
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": self._connect_timeout,
            "banner_timeout": self._connect_timeout,
            "auth_timeout": self._connect_timeout,
            "host_key_policy": PinnedHostKey(str(self._host_key)),
            "skip_instance_cache": True,
        }
        fs = fsspec.filesystem("sftp", host=self._parts.hostname, **options)
        fs.ftp.get_channel().settimeout(self._operation_timeout)
        return fs

    def _filesystem(self, action: str) -> Any:
        now = time.monotonic()
        if self._fs is not None and now - self._used > self._idle:
            self.close()
        if self._fs is None:
            self._take_slot(action)
            try:
                with map_drop_errors(self.system, f"connect for {action}"):
                    self._fs = self._open()
            finally:
                if self._fs is None:
                    self._free_slot()
        self._used = now
        return self._fs

    def _take_slot(self, action: str) -> None:
        """A slot of the user's session cap, or ``TransientError`` when none comes free."""
        sessions = self._sessions
        if sessions is None:
            return
        if not sessions.acquire(timeout=self._connect_timeout):
            raise TransientError(
                f"{self.system}: every SFTP session of the user is in use ({action})",
                code="DROP_BUSY",
            )
        self._slot = sessions

    def _free_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot.release()

    @contextlib.contextmanager
    def _io(self, action: str) -> Iterator[Any]:
        """The filesystem for one action; on failure the session is dropped and reopened next
        time, and the error becomes a ``TransientError``."""
        fs = self._filesystem(action)
        try:
            with map_drop_errors(self.system, action):
                yield fs
        except TransientError:
            self.close()
            raise

    def path(self, folder: str, name: str | None = None) -> str:
        """The full path of ``folder`` (and ``name`` in it) under the drop root."""
        base = posixpath.join(self.root, folder) if folder else self.root
        return posixpath.join(base, _safe(name)) if name is not None else base

    def marker_name(self, name: str) -> str:
        """The marker's file name of ``name``."""
        return name + self.marker_suffix

    def close(self) -> None:
        """Release the session (an SFTP connection); the next use opens a new one."""
        fs, self._fs = self._fs, None
        client = getattr(fs, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):  # closing a dead session may fail: ignore
                client.close()
        self._free_slot()

    # --- reading ----------------------------------------------------------------------------

    def names(self, folder: str) -> list[str]:
        """The plain file names in ``folder``, sorted."""
        with self._io(f"list {folder}") as fs:
            entries = fs.ls(self.path(folder), detail=True)
        return sorted(
            posixpath.basename(str(e["name"]).rstrip("/")) for e in entries if e["type"] == "file"
        )

    def ready(self, folder: str, pattern: re.Pattern[str]) -> list[str]:
        """Names in ``folder`` matching ``pattern`` whose marker exists (oldest name first).

        A matching file without its marker may still be written: it is not listed.
        """
        names = self.names(folder)
        present = set(names)
        return [n for n in names if pattern.fullmatch(n) and self.marker_name(n) in present]

    def exists(self, folder: str, name: str) -> bool:
        """True when ``folder/name`` exists."""
        with self._io(f"stat {folder}") as fs:
            return bool(fs.exists(self.path(folder, name)))

    def read(self, folder: str, name: str) -> bytes:
        """The bytes of ``folder/name``; larger than ``max_file_bytes`` is ``MessageRejected``
        (rule ``too_large``), read no further."""
        path = self.path(folder, name)
        with self._io(f"read {folder}") as fs:
            size = int(fs.size(path))
            if size > self.max_file_bytes:
                raise MessageRejected(
                    f"file of {size} bytes exceeds the limit of {self.max_file_bytes} bytes",
                    rule="too_large",
                )
            with fs.open(path, "rb") as handle:
                data = handle.read(self.max_file_bytes + 1)
        if len(data) > self.max_file_bytes:
            raise MessageRejected("file grew beyond the size limit", rule="too_large")
        return bytes(data)

    def read_marker(self, folder: str, name: str) -> bytes:
        """The bytes of the marker of ``name`` (at most 4 KiB are read)."""
        with (
            self._io(f"read marker in {folder}") as fs,
            fs.open(self.path(folder, self.marker_name(name)), "rb") as handle,
        ):
            return bytes(handle.read(4096))

    # --- moving -----------------------------------------------------------------------------

    def _require_root(self, fs: Any) -> None:
        """Folders are created only inside an existing drop (a missing root is an outage,
        e.g. an unmounted share, never something to recreate)."""
        if not fs.isdir(self.root):
            raise FileNotFoundError(f"drop root of {self.system} is missing")

    def _move(self, fs: Any, source: str, target_folder: str, name: str) -> None:
        self._require_root(fs)
        fs.makedirs(self.path(target_folder), exist_ok=True)
        fs.mv(source, self.path(target_folder, name))

    def archive(self, folder: str, name: str, day: str) -> None:
        """Move ``name``, then its marker, to ``archive/<day>/`` (either may be gone already:
        a crash between the two moves is finished by the next call)."""
        target = posixpath.join(ARCHIVE, _safe(day))
        with self._io(f"archive from {folder}") as fs:
            for item in (name, self.marker_name(name)):
                if fs.exists(self.path(folder, item)):
                    self._move(fs, self.path(folder, item), target, item)

    def refuse(self, folder: str, name: str, reason: str) -> str:
        """Move ``name`` and its marker to ``error/`` beside ``<name>.err`` (one line, UTF-8,
        the reason). Returns the name used in ``error/`` (``<name>.<n>`` if taken already)."""
        line = " ".join(reason.split()) + "\n"
        with self._io(f"refuse from {folder}") as fs:
            self._require_root(fs)
            fs.makedirs(self.path(ERROR), exist_ok=True)
            stored = name
            count = 1
            while fs.exists(self.path(ERROR, stored)) or fs.exists(
                self.path(ERROR, stored + ".err")
            ):
                stored = f"{name}.{count}"
                count += 1
            fs.pipe_file(self.path(ERROR, stored + ".err"), line.encode("utf-8"))
            for item, target in ((name, stored), (self.marker_name(name), stored + ".ok")):
                if fs.exists(self.path(folder, item)):
                    fs.mv(self.path(folder, item), self.path(ERROR, target))
        return stored

    def move(self, folder: str, name: str, target_folder: str) -> str | None:
        """Move ``folder/name`` into ``target_folder`` (created inside the drop), never over a
        file there: a taken name gets ``.<n>``. Returns the name used, None when ``name`` is
        gone already (a crash between two moves is finished by the next call)."""
        with self._io(f"move from {folder}") as fs:
            source = self.path(folder, name)
            if not fs.exists(source):
                return None
            stored, count = name, 1
            while fs.exists(self.path(target_folder, stored)):
                stored, count = f"{name}.{count}", count + 1
            self._move(fs, source, target_folder, stored)
        return stored

    # --- writing ----------------------------------------------------------------------------

    def _write_atomic(self, fs: Any, folder: str, name: str, data: bytes) -> None:
        temporary = posixpath.join(self.path(folder), f".{_safe(name)}.tmp")
        fs.pipe_file(temporary, data)
        fs.mv(temporary, self.path(folder, name))

    def put(self, folder: str, name: str, data: bytes) -> None:
        """Write ``folder/name`` (created inside the drop) under a dot-tmp name, then rename it,
        replacing a file of that name: for files the bus owns, such as a report."""
        with self._io(f"write to {folder}") as fs:
            self._require_root(fs)
            fs.makedirs(self.path(folder), exist_ok=True)
            self._write_atomic(fs, folder, name, data)

    def deliver(self, folder: str, name: str, data: bytes, marker: Marker) -> None:
        """Write ``name`` then its marker into ``folder``, each under a dot-tmp name + rename.

        ``TransientError`` (code ``NOT_COLLECTED``) when ``name`` or its marker is still there:
        the reader has not collected the previous file, which is never overwritten.
        """
        with self._io(f"write to {folder}") as fs:
            self._require_root(fs)
            fs.makedirs(self.path(folder), exist_ok=True)
            for item in (name, self.marker_name(name)):
                if fs.exists(self.path(folder, item)):
                    raise TransientError(
                        f"{self.system}: {folder}/{name} is not collected yet; not overwritten",
                        code="NOT_COLLECTED",
                    )
            self._write_atomic(fs, folder, name, data)
            self._write_atomic(fs, folder, self.marker_name(name), marker.render())
