"""The night's manifest (README §2.2, layout.md §4): parse it, check its signature, check a file.

Verification order (layout.md §4): ``sign`` first (a bad one refuses the whole night), then for
each listed file ``size``, ``sha256`` (over all bytes as stored, BOM included), the BOM, and
``lines`` (the non-blank lines); each of those refuses that file only. Every refusal is a
``MessageRejected`` naming the field and rule, never a record's content::

    manifest = parse_manifest(manifest_bytes)
    check_signature(manifest, secret)                   # rule bad_signature
    entry = manifest.entry("cases")
    check_file(entry, data)                             # size_mismatch, sha256_mismatch, …

``verify`` is ``SPEC.verify``: a data file is mapped only once its manifest (``meta['manifest']``
= a path, for ``ebus map … --meta manifest=PATH``; or ``meta['manifest_json']`` = its text, as
the nightly import emits it) verifies.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.market_reg._config import as_config
from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage

__all__ = [
    "KINDS",
    "MAX_MANIFEST_BYTES",
    "FileEntry",
    "Manifest",
    "check_file",
    "check_signature",
    "count_lines",
    "parse_manifest",
    "sign_manifest",
    "string_to_sign",
    "verify",
]

KINDS = ("cases", "decisions")
"""The data files of a night, in processing order (README §2.4)."""
MAX_MANIFEST_BYTES = 64 * 1024
"""A manifest names two files: anything larger is not one."""
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{8}$")
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class FileEntry:
    """One ``files[]`` entry: name, non-blank line count, size in bytes, SHA-256 hex."""

    file: str
    lines: int
    size: int
    sha256: str

    @property
    def kind(self) -> str | None:
        """``cases`` or ``decisions`` by the name's prefix, else None."""
        prefix = self.file.split("_", 1)[0]
        return prefix if prefix in KINDS else None


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest (its signature not yet checked)."""

    export_date: str
    system: str
    generated_at: str
    batch: int
    files: tuple[FileEntry, ...]
    sign: str

    @property
    def date(self) -> dt.date:
        """The data date."""
        return dt.datetime.strptime(self.export_date, "%Y%m%d").date()

    def entry(self, kind: str) -> FileEntry | None:
        """The entry of the ``kind`` file (``cases`` / ``decisions``), None when not listed."""
        return next((e for e in self.files if e.kind == kind), None)


def _refuse(reason: str, field: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, field=field, rule=rule)


def _integer(value: Any, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _refuse(
            f"{field} must be an integer ≥ {minimum}", f"manifest.{field}", "manifest_format"
        )
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _refuse(f"{field} must be a non-empty string", f"manifest.{field}", "manifest_format")
    return value


def _entry(item: Any, index: int) -> FileEntry:
    where = f"files[{index}]"
    if not isinstance(item, dict):
        raise _refuse(f"{where} is not an object", f"manifest.{where}", "manifest_format")
    digest = _text(item.get("sha256"), f"{where}.sha256")
    if not _HEX64.fullmatch(digest):
        raise _refuse(
            "sha256 is not 64 lower-case hex characters",
            f"manifest.{where}.sha256",
            "manifest_format",
        )
    return FileEntry(
        file=_text(item.get("file"), f"{where}.file"),
        lines=_integer(item.get("lines"), f"{where}.lines", 0),
        size=_integer(item.get("size"), f"{where}.size", 0),
        sha256=digest,
    )


def parse_manifest(data: bytes) -> Manifest:
    """Parse manifest bytes (UTF-8, no BOM, one JSON object); else ``MessageRejected`` with
    rule ``manifest_format`` (the whole night is refused)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise _refuse(f"manifest of {len(data)} bytes is too large", "manifest", "manifest_format")
    if data.startswith(_BOM):
        raise _refuse(
            "manifest starts with a BOM (layout.md §1: none)", "manifest", "manifest_format"
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _refuse("manifest is not UTF-8 JSON", "manifest", "manifest_format") from None
    if not isinstance(document, dict):
        raise _refuse("manifest is not a JSON object", "manifest", "manifest_format")
    export_date = _text(document.get("export_date"), "export_date")
    try:
        if not _DATE.fullmatch(export_date):
            raise ValueError
        dt.datetime.strptime(export_date, "%Y%m%d")
    except ValueError:
        raise _refuse(
            "export_date is not a yyyyMMdd date", "manifest.export_date", "manifest_format"
        ) from None
    files = document.get("files")
    if not isinstance(files, list):
        raise _refuse("files must be a list", "manifest.files", "manifest_format")
    sign = _text(document.get("sign"), "sign")
    return Manifest(
        export_date=export_date,
        system=_text(document.get("system"), "system"),
        generated_at=str(document.get("generated_at") or ""),
        batch=_integer(document.get("batch"), "batch", 1),
        files=tuple(_entry(item, i) for i, item in enumerate(files)),
        sign=sign,
    )


def string_to_sign(manifest: Manifest) -> str:
    """README §2.2: export_date, batch, then ``file:lines:size:sha256`` per entry; LF-joined."""
    lines = [manifest.export_date, str(manifest.batch)]
    lines += [f"{e.file}:{e.lines}:{e.size}:{e.sha256}" for e in manifest.files]
    return "\n".join(lines)


def sign_manifest(manifest: Manifest, secret: str) -> str:
    """The lower-case hex HMAC-SHA256 of the manifest's string to sign."""
    message = string_to_sign(manifest).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def check_signature(manifest: Manifest, secret: str, system_code: str = "FJSCJG-AJBL") -> None:
    """Refuse a manifest whose ``sign`` is wrong (constant-time compare), or that is not of the
    export job, or that does not name exactly one file of each kind."""
    expected = sign_manifest(manifest, secret)
    if not hmac.compare_digest(expected, manifest.sign.lower()):
        raise _refuse(
            "manifest sign does not verify (HMAC-SHA256)", "manifest.sign", "bad_signature"
        )
    if manifest.system != system_code:
        raise _refuse(f"manifest system is not {system_code}", "manifest.system", "manifest_format")
    for kind in KINDS:
        listed = [e for e in manifest.files if e.kind == kind]
        wanted = f"{kind}_{manifest.export_date}.jsonl"
        if len(listed) != 1 or listed[0].file != wanted:
            raise _refuse(
                f"manifest must list {wanted} exactly once", "manifest.files", "manifest_format"
            )


def count_lines(data: bytes) -> int:
    """The non-blank lines of a JSON Lines file (BOM, CR and white space ignored)."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    return sum(1 for line in body.split(b"\n") if line.strip())


def check_file(entry: FileEntry, data: bytes) -> str:
    """Refuse ``data`` unless it is what ``entry`` announces; returns its SHA-256.

    Rules, in this order: ``size_mismatch``, ``sha256_mismatch``, ``missing_bom``,
    ``lines_mismatch`` (README §2.2 step 4, layout.md §4).
    """
    field = f"manifest.files[{entry.file}]"
    if len(data) != entry.size:
        raise _refuse(
            f"size mismatch: manifest {entry.size} bytes, file {len(data)}", field, "size_mismatch"
        )
    digest = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(digest, entry.sha256):
        raise _refuse("sha256 mismatch", field, "sha256_mismatch")
    if not data.startswith(_BOM):
        raise _refuse("the file does not start with the UTF-8 BOM", field, "missing_bom")
    lines = count_lines(data)
    if lines != entry.lines:
        raise _refuse(
            f"lines mismatch: manifest {entry.lines}, file {lines}", field, "lines_mismatch"
        )
    return digest


def _manifest_bytes(raw: RawMessage) -> bytes:
    text = raw.meta.get("manifest_json")
    if text is not None:
        return text.encode("utf-8")
    path = raw.meta.get("manifest")
    if not path:
        raise _refuse(
            "no manifest: a data file is imported only with its night's manifest "
            "(--meta manifest=PATH)",
            "manifest",
            "manifest_missing",
        )
    try:
        with Path(path).open("rb") as handle:
            return handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise _refuse(
            f"manifest cannot be read ({exc.strerror or type(exc).__name__})",
            "manifest",
            "manifest_missing",
        ) from None


def verify(message_id: str, raw: RawMessage, config: AdapterConfig) -> None:
    """``SPEC.verify``: the file's manifest verifies, and the file is the one it lists.

    The manifest's entry of the message's kind gives size, lines and digest; when the raw
    message names its file (``meta['file']``) the entry must name the same file.
    """
    settings = as_config(config)
    manifest = parse_manifest(_manifest_bytes(raw))
    check_signature(manifest, settings.export_secret.get_secret_value(), settings.system_code)
    entry = manifest.entry(message_id)
    if entry is None:  # check_signature made sure both kinds are listed
        raise _refuse(f"manifest lists no {message_id} file", "manifest.files", "not_listed")
    name = raw.meta.get("file")
    if name is not None and name != entry.file:
        raise _refuse(f"manifest lists {entry.file}, not {name}", "manifest.files", "not_listed")
    check_file(entry, raw.body)
