"""Reading a ZIP from the other side with ``zipfile``, hardened, for every adapter that is sent
archives (culture_tourism_national's daily package and blacklist download).

An archive is refused as a whole, with a ``MessageRejected`` naming the field and the rule,
when it:

==============================================  =================
cannot be read (not a ZIP, truncated, CRC error)  ``zip_unreadable``
is encrypted or uses an unsupported method        ``zip_unreadable``
has more members than expected                    ``zip_members``
has a name that is not UTF-8/CP437 text           ``zip_name``
has a name with a path (``..``, ``/``, ``\\``, ``:``) ``zip_path``
lacks an expected member or repeats one           ``zip_members``
expands beyond the size limit or ratio (a bomb)   ``zip_bomb``
==============================================  =================

Members are read with a bounded read, so a lying size header cannot make us inflate more than
the limit. Example::

    members = read_members(body, ["blacklist.xml"], field="blacklist", max_bytes=8 << 20)
    document = members["blacklist.xml"]
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence

from runner.adapter_api import MessageRejected

__all__ = ["MAX_RATIO", "read_members"]

MAX_RATIO = 200
"""Largest accepted expansion (uncompressed / compressed) of a deflated member."""
_UNSAFE = ("/", "\\", ":", "\x00")


def _refuse(field: str, reason: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, field=field, rule=rule)


def _open(data: bytes, field: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError:
        raise _refuse(field, "a member name in the ZIP is not decodable text", "zip_name") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise _refuse(
            field, f"the ZIP cannot be read ({type(exc).__name__})", "zip_unreadable"
        ) from None


def _check_name(name: str, field: str) -> None:
    if not name.isprintable():
        raise _refuse(field, "a member name in the ZIP holds control characters", "zip_name")
    if any(mark in name for mark in _UNSAFE) or name in ("", ".", "..") or ".." in name:
        raise _refuse(field, f"ZIP member '{name[:60]}' has a path (only plain names)", "zip_path")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, field: str) -> bytes:
    if info.flag_bits & 0x1:
        raise _refuse(field, f"ZIP member '{info.filename}' is encrypted", "zip_unreadable")
    if info.file_size > limit:
        raise _refuse(
            field, f"ZIP member '{info.filename}' expands beyond {limit} bytes", "zip_bomb"
        )
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise _refuse(
            field, f"ZIP member '{info.filename}' expands more than {MAX_RATIO}:1", "zip_bomb"
        )
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error, EOFError) as exc:
        raise _refuse(
            field,
            f"ZIP member '{info.filename}' cannot be read ({type(exc).__name__})",
            "zip_unreadable",
        ) from None
    if len(data) > limit:
        raise _refuse(
            field, f"ZIP member '{info.filename}' expands beyond {limit} bytes", "zip_bomb"
        )
    return data


def read_members(
    data: bytes, names: Sequence[str], *, field: str, max_bytes: int
) -> dict[str, bytes]:
    """The members ``names`` of the ZIP ``data`` (exactly those, each at most ``max_bytes``
    uncompressed, all together at most ``max_bytes``), checked as the module docstring says."""
    with _open(data, field) as archive:
        infos = archive.infolist()
        if len(infos) > len(names):
            raise _refuse(
                field,
                f"the ZIP has {len(infos)} members; {len(names)} expected ({', '.join(names)})",
                "zip_members",
            )
        for info in infos:
            _check_name(info.filename, field)
        found = [info.filename for info in infos]
        if sorted(found) != sorted(names):
            raise _refuse(
                field,
                f"the ZIP holds {', '.join(found) or 'nothing'}; expected {', '.join(names)}",
                "zip_members",
            )
        members: dict[str, bytes] = {}
        budget = max_bytes
        for info in infos:
            members[info.filename] = _read(archive, info, budget, field)
            budget -= len(members[info.filename])
        return members
