"""The GBK text codec of ``xmlData`` (README §2.2, quirk Q2), registered as ``gbk-ncr``.

``xmlData`` is declared GBK; every character GBK cannot encode (``䶮`` U+4DAE, ``³`` U+00B3,
``𠮷`` U+20BB7) is written as a numeric character reference with upper-case hex
(``&#x4DAE;``). Python's ``xmlcharrefreplace`` writes decimal references, so the outbound
mappings name this codec instead: ``encoding: gbk-ncr``. It decodes as plain GBK.

The shared XML writer encodes with ``str.encode(encoding)`` (strict errors), so the codec is the
one place the references can be produced; ``register`` adds it to Python's codec registry once
(it answers only its own name).
"""

from __future__ import annotations

import codecs

__all__ = ["CODEC", "encode_gbk", "register"]

CODEC = "gbk-ncr"
_NAMES = frozenset({"gbk_ncr", "gbk-ncr"})


def _reference(char: str) -> str:
    return f"&#x{ord(char):X};"


def encode_gbk(text: str) -> bytes:
    """``text`` in GBK, each character outside GBK as ``&#xHEX;`` (upper-case hex)."""
    try:
        return text.encode("gbk")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for char in text:
        try:
            out += char.encode("gbk")
        except UnicodeEncodeError:
            out += _reference(char).encode("ascii")
    return bytes(out)


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return encode_gbk(text), len(text)


def _decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    return codecs.decode(data, "gbk", errors), len(data)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.lower() not in _NAMES:
        return None
    return codecs.CodecInfo(_encode, _decode, name=CODEC)  # type: ignore[arg-type]


_registered = False


def register() -> None:
    """Make ``gbk-ncr`` known to ``codecs`` (idempotent)."""
    global _registered  # noqa: PLW0603  (one registration per process)
    if not _registered:
        codecs.register(_search)
        _registered = True
