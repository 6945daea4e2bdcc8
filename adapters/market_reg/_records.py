"""Record lines (README §3, layout.md §3) read into the JSON Lines document the mappings read.

``prepare`` (``SPEC.prepare``) turns a verified data file into one JSON line per physical line
of the file, in order, so that a mapping rejection's "record N of M" is line N of the file::

    {"line": 1, "skip": false, "problem": null, "data": {"jlid": "SCAJ-…/AJ-05", "ajly": "1", …}}
    {"line": 2, "skip": true, "problem": null, "data": {}}                 # blank, or a repeat
    {"line": 3, "skip": false, "problem": {"rule": "malformed_json", …}, "data": {}}

What it normalises, once, so that the mappings stay declarative:

- keys lower-cased at every level (records migrated from 2018 use ``AJBH``, ``DSR``); the same
  key twice (in any case) is a ``problem`` of that record (rule ``duplicate_key``);
- strings NFC-normalised and trimmed; ``""``, white space and ``"null"`` (any case) → null;
- numbers (legacy records) → their decimal text; the codes ``ajly``, ``ajzt`` and
  ``dsr.dsrlx`` left-padded with ``0`` to the width of their table (``6`` → ``"06"``);
- a ``jlid`` seen earlier in the file (the exporter's join duplication, README §2.3) → ``skip``;
- a line that is not a JSON object, not UTF-8, or longer than the limit → a ``problem``: the
  mapping rejects that record alone (``record_problem``), the others go on.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.market_reg._config import as_config
from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage
from schemas.text import normalize_text

__all__ = ["CODE_WIDTHS", "Line", "prepare", "read_lines"]

CODE_WIDTHS = {("ajly",): 1, ("ajzt",): 2, ("dsr", "dsrlx"): 2}
"""Code fields and the width of their table's codes (README §3: numeric codes are padded)."""
_ABSENT = "null"
_BOM = codecs.BOM_UTF8


class _Problem(Exception):
    def __init__(self, reason: str, rule: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.rule, self.field = reason, rule, field


@dataclass(frozen=True)
class Line:
    """One physical line of a data file, read."""

    line: int
    skip: bool
    problem: dict[str, str | None] | None
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The line as the mapping reads it."""
        return {"line": self.line, "skip": self.skip, "problem": self.problem, "data": self.data}


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        folded = key.lower()
        if folded in out:
            raise _Problem(
                f"key '{folded}' appears twice (in any letter case)", "duplicate_key", folded
            )
        out[folded] = value
    return out


def _constant(name: str) -> Any:
    raise _Problem(f"JSON constant {name} is not allowed", "malformed_json")


def _scalar(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        text = normalize_text(value)
        return None if not text or text.lower() == _ABSENT else text
    if isinstance(value, int) and not isinstance(value, bool):
        width = CODE_WIDTHS.get(path)
        return str(value).zfill(width) if width and value >= 0 else str(value)
    if isinstance(value, Decimal):
        return str(value)
    return value  # true, false and null: the mapping judges them


def _clean(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item, path) for item in value]
    return _scalar(value, path)


def _record(raw_line: bytes, limit: int) -> dict[str, Any]:
    if len(raw_line) > limit:
        raise _Problem(f"line of {len(raw_line)} bytes exceeds {limit} bytes", "line_too_long")
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Problem(
            f"bytes {exc.start}-{exc.end} of the line are not UTF-8", "undecodable"
        ) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        raise _Problem(f"not JSON at column {exc.colno}: {exc.msg}", "malformed_json") from None
    except RecursionError:
        raise _Problem("JSON nested too deeply", "malformed_json") from None
    if not isinstance(value, dict):
        raise _Problem("the line is not a JSON object", "not_an_object")
    cleaned = _clean(value, ())
    assert isinstance(cleaned, dict)
    return cleaned


def read_lines(data: bytes, max_line_bytes: int = 1024 * 1024) -> list[Line]:
    """Every physical line of a data file (BOM dropped, LF or CRLF), read and normalised."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    chunks = body.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()  # the last record's line break ends the file
    seen: set[str] = set()
    lines: list[Line] = []
    for number, chunk in enumerate(chunks, start=1):
        raw_line = chunk.removesuffix(b"\r")
        if not raw_line.strip():
            lines.append(Line(number, True, None, {}))
            continue
        try:
            record = _record(raw_line, max_line_bytes)
        except _Problem as exc:
            problem = {
                "reason": f"line {number}: {exc.reason}",
                "rule": exc.rule,
                "field": exc.field,
            }
            lines.append(Line(number, False, problem, {}))
            continue
        jlid = record.get("jlid")
        repeat = isinstance(jlid, str) and jlid in seen
        if isinstance(jlid, str):
            seen.add(jlid)
        lines.append(Line(number, repeat, None, record))
    return lines


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``SPEC.prepare``: a data file as JSON Lines of ``{line, skip, problem, data}``."""
    if message_id not in ("cases", "decisions"):
        raise MessageRejected(f"{message_id} is not a data file", rule="not_data")
    limit = as_config(config).max_line_bytes
    out = "\n".join(
        json.dumps(line.as_json(), ensure_ascii=False, default=str)
        for line in read_lines(raw.body, limit)
    )
    return out.encode("utf-8")
