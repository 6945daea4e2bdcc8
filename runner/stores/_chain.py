"""The audit hash chain: the hash recipe, the L3 guard, and the walk that verifies a chain.

The recipe, so that an auditor can check a chain with nothing but ``sha256`` and a JSON encoder::

    hash(seq) = sha256( prev_hash as ASCII hex  +  canonical_json(record) ).hexdigest()
    prev_hash(1) = "0" * 64;  prev_hash(n) = hash(n - 1)

``canonical_json(record)`` is the UTF-8 JSON object of ``seq`` and every field of the record
(``kind``, ``at``, ``system``, ``message_type``, ``route``, ``destination``, ``message_id``,
``source_message_id``, ``case_code``, ``detail``; absent values as ``null``) with sorted keys, no
whitespace (``separators=(",", ":")``), non-ASCII characters as themselves and no NaN/Infinity.
``at`` is the UTC time as stored, e.g. ``"2024-05-01T02:00:00.000000+00:00"``; ``detail`` is the
JSON object itself, not its text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "CanonicalRecord",
    "ChainWalker",
    "Problem",
    "VerifyReport",
    "canonical_json",
    "chain_hash",
    "detail_json",
    "refuse_l3_values",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record."""

HASHED_FIELDS = (
    "kind",
    "at",
    "system",
    "message_type",
    "route",
    "destination",
    "message_id",
    "source_message_id",
    "case_code",
)
"""The record fields hashed beside ``seq`` and ``detail``, as stored (``at`` as its text)."""

MAX_PROBLEMS = 1000
"""Problems kept in a report; the counts stay exact beyond it."""


# The canonical encoder, built once: ``json.dumps`` with options builds one per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(seq: int, fields: Mapping[Any, Any], detail: Any) -> bytes:
    """The canonical serialisation of one record (see the module docstring)."""
    document = {name: fields.get(name) for name in HASHED_FIELDS}
    document["seq"] = seq
    document["detail"] = detail
    return _CANONICAL.encode(document).encode("utf-8")


def chain_hash(prev_hash: str, seq: int, fields: Mapping[Any, Any], detail: Any) -> str:
    """The hash of one record chained to ``prev_hash``."""
    return hashlib.sha256(
        prev_hash.encode("ascii") + canonical_json(seq, fields, detail)
    ).hexdigest()


def detail_json(detail: Any) -> str:
    """The canonical JSON text of a detail: the stored text, and the hashed form of the detail.

    ``TypeError`` for a value JSON cannot hold, ``ValueError`` for NaN or infinity.
    """
    return _CANONICAL.encode(detail)


# The keys of canonical_json's document in their serialised (sorted) order, split around "seq",
# each with its ``"key":`` text.
_KEYS = sorted((*HASHED_FIELDS, "seq", "detail"))
_BEFORE_SEQ = tuple((name, f'"{name}":') for name in _KEYS[: _KEYS.index("seq")])
_AFTER_SEQ = tuple((name, f'"{name}":') for name in _KEYS[_KEYS.index("seq") + 1 :])


@dataclass(frozen=True, slots=True)
class CanonicalRecord:
    """A record's ``canonical_json`` serialised once, before its seq is known.

    The text is split around the value of ``seq`` so that chaining it costs a hash and no JSON;
    ``CanonicalRecord.of(fields, detail_json(detail)).hash(prev, seq)`` equals
    ``chain_hash(prev, seq, fields, detail)``.
    """

    before_seq: bytes
    after_seq: bytes

    @classmethod
    def of(cls, fields: Mapping[Any, Any], detail_text: str) -> CanonicalRecord:
        """The record of ``fields`` (the hashed fields) and its detail as ``detail_json`` text."""
        values = {name: _value_json(fields.get(name)) for name in HASHED_FIELDS}
        values["detail"] = detail_text
        before = ",".join([key + values[name] for name, key in _BEFORE_SEQ])
        after = ",".join([key + values[name] for name, key in _AFTER_SEQ])
        return cls(f'{{{before},"seq":'.encode(), f",{after}}}".encode())

    def hash(self, prev_hash: str, seq: int) -> str:
        """The hash of this record at ``seq``, chained to ``prev_hash``."""
        text = b"".join((prev_hash.encode("ascii"), self.before_seq, b"%d" % seq, self.after_seq))
        return hashlib.sha256(text).hexdigest()


def _value_json(value: Any) -> str:
    return "null" if value is None else _CANONICAL.encode(value)


# "Looks like" on purpose: a last line of defence must not depend on a valid check digit.
# Bounded by anything but an ASCII letter or digit, so that a run of digits inside an identifier
# (a ULID, a USCC) is not taken for one, while Chinese text around a number is.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}(?![0-9A-Za-z])"
)


def refuse_l3_values(detail: Any, path: str = "detail") -> None:
    """Raise ``ValueError`` when a key or value in ``detail`` looks like an L3 value in clear.

    Checked: resident ID numbers (17 digits and a digit or ``X``) and mainland mobile numbers
    (``1[3-9]`` and 9 digits, also behind ``86``/``+86`` or written 3-4-4 with spaces or
    hyphens), in strings and integers at any depth, unless part of a longer run of ASCII letters
    and digits (an identifier). The message names the path, never the value.
    """
    # The walk that names paths costs a string per value: run it only where the scan finds one.
    if _holds_l3(detail):
        _refuse(detail, path)


def _holds_l3(detail: Any) -> bool:
    """Whether ``_refuse`` would raise for ``detail``: the same tests, without the paths."""
    if isinstance(detail, Mapping):
        return any(_l3_scalar(key) or _holds_l3(value) for key, value in detail.items())
    if isinstance(detail, list | tuple):
        return any(_holds_l3(value) for value in detail)
    return _l3_scalar(detail)


def _l3_scalar(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value)
    # Shorter texts cannot hold a match (a mobile number has 11 characters at least).
    if len(text) < _SHORTEST_L3:
        return False
    return bool(_RESIDENT_ID.search(text) or _MOBILE.search(text))


_SHORTEST_L3 = 11


def _refuse(detail: Any, path: str) -> None:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            _refuse_scalar(key, f"{path} key")
            _refuse(value, f"{path}.{key}")
    elif isinstance(detail, list | tuple):
        for index, value in enumerate(detail):
            _refuse(value, f"{path}[{index}]")
    else:
        _refuse_scalar(detail, path)


def _refuse_scalar(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return
    text = str(value)
    what = None
    if _RESIDENT_ID.search(text):
        what = "a resident ID number"
    elif _MOBILE.search(text):
        what = "a mobile phone number"
    if what:
        raise ValueError(
            f"audit {path} looks like {what}: audit records must never hold L3 values in clear"
        )


ProblemKind = Literal["changed", "inserted", "deleted"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One break in the chain; ``seq`` is None for a problem with the head row itself."""

    seq: int | None
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "head"
        return f"{self.kind:8} {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of walking the chain: counts of records changed, inserted and deleted."""

    records_checked: int
    last_seq: int
    head_seq: int | None
    head_hash: str | None
    changed: int
    inserted: int
    deleted: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when the chain and its head are intact."""
        return not self.problems and self.changed + self.inserted + self.deleted == 0

    @property
    def first_broken_seq(self) -> int | None:
        """The lowest seq at which the chain is broken (a kept problem), if any."""
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None


@dataclass(slots=True)
class ChainWalker:
    """Checks records fed in seq order against the chain and the head read before the walk.

    - changed: the stored hash is not the hash of the record's content (or the content is
      unreadable), or the head's hash is not the last record's hash;
    - inserted: a record's ``prev_hash`` is not the hash of the record before it, or the record
      lies beyond the head;
    - deleted: a gap in seq, or the head names records that are not there.
    """

    head_seq: int | None
    head_hash: str | None
    records_checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    problems: list[Problem] = field(default_factory=list)

    def check(self, seq: int, prev_hash: str, stored_hash: str, fields: Mapping[Any, Any]) -> None:
        """Check the next record; ``fields`` holds the hashed fields and ``detail`` as text."""
        expected = self.last_seq + 1
        linked = True
        if seq > expected:
            missing = f"seq {expected}" if seq == expected + 1 else f"seqs {expected}-{seq - 1}"
            self._report(expected, "deleted", f"{missing} missing", count=seq - expected)
        elif seq < expected or prev_hash != self.last_hash:
            self._report(seq, "inserted", f"prev_hash is not the hash of seq {seq - 1}")
            linked = False
        if linked and self.head_seq is not None and seq > self.head_seq:
            self._report(seq, "inserted", f"beyond the audit head (seq {self.head_seq})")
        if _content_hash(prev_hash, seq, fields) != stored_hash:
            self._report(seq, "changed", "content does not match its hash")
        self.records_checked += 1
        self.last_seq = max(seq, self.last_seq)
        self.last_hash = stored_hash

    def finish(self) -> VerifyReport:
        """The report, after comparing the last record with the head."""
        if self.head_seq is None:
            if self.records_checked:
                self._report(None, "deleted", "the audit head row is missing", count=0)
        elif self.head_seq > self.last_seq:
            first, last = self.last_seq + 1, self.head_seq
            missing = f"seq {first}" if first == last else f"seqs {first}-{last}"
            detail = f"{missing} missing at the tail (the head names them)"
            self._report(first, "deleted", detail, count=last - self.last_seq)
        elif self.head_seq == self.last_seq and self.head_hash != self.last_hash:
            self._report(self.last_seq, "changed", "the head hash is not this record's hash")
        return VerifyReport(
            records_checked=self.records_checked,
            last_seq=self.last_seq,
            head_seq=self.head_seq,
            head_hash=self.head_hash,
            changed=self.counts["changed"],
            inserted=self.counts["inserted"],
            deleted=self.counts["deleted"],
            problems=tuple(self.problems),
        )

    def _report(self, seq: int | None, kind: ProblemKind, detail: str, *, count: int = 1) -> None:
        self.counts[kind] += count
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, kind, detail))


_KINDS: tuple[ProblemKind, ...] = ("changed", "inserted", "deleted")


def _content_hash(prev_hash: str, seq: int, fields: Mapping[Any, Any]) -> str | None:
    try:
        detail = json.loads(fields["detail"])
        return chain_hash(prev_hash, seq, fields, detail)
    except (TypeError, ValueError, UnicodeError):
        return None  # unreadable content counts as changed
