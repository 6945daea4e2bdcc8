"""The daily package (日包): ``cases.xml`` and ``decisions.xml`` in a byte-exact ZIP (README §3.1).

The outbound mapping ``upload_daily_package`` turns each canonical case or decision into one
package record (its elements, with the code tables W1–W7 applied) and renders the call's
records as JSON::

    {"records": [{"type": "CASE", "key": "FJ35…", "received_at": "…" | null,
                  "element": {"recordId": "FJ35…", "caseNo": "…", …}}, …]}

``build_package`` — a pure function of that document, the org code and the business date —
keeps the latest version of each record (by ``key``: the case_code of a case, the decision_no
of a decision; latest = latest ``received_at``, else the later one in the input), sorts the
records by ``recordId`` (Unicode code points) and writes the two files exactly as the spec
says (UTF-8, declaration, LF, two-space indent, root attributes ``orgCode`` ``bizDate``
``count``, optional elements without a value omitted), then the ZIP: STORED, modification time
``bizDate`` 00:00:00, ``0o644 << 16``, made by Unix, no extra fields or comments.

``read_package`` is its inverse for the simulator (hardened ZIP reading).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters._transports.safezip import read_members
from runner.adapter_api import MessageRejected, parse_xml

__all__ = [
    "FILES",
    "PACKAGE_NS",
    "Package",
    "PackageRecord",
    "build_package",
    "package_zip",
    "read_package",
    "write_list",
]

PACKAGE_NS = "urn:mct:whsc:package:2.0"
FILES = ("cases.xml", "decisions.xml")
"""The package's members, in ZIP order."""
_LISTS = {
    "CASE": ("cases.xml", "CaseList", "Case"),
    "DECISION": ("decisions.xml", "DecisionList", "Decision"),
}
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

PackageRecord = tuple[str, str]
"""One record of a package: ``(recordType, recordId)`` — ``CASE`` or ``DECISION``."""


@dataclass(frozen=True)
class Package:
    """One built package: its files, the ZIP, its SHA-256 and its records in package order
    (the ``Case`` s, then the ``Decision`` s: the indexes of ``queryBatchResult`` outcomes)."""

    biz_date: str
    files: Mapping[str, bytes]
    zip_bytes: bytes
    sha256: str
    records: tuple[PackageRecord, ...]


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _pruned(value: Any) -> Any:
    """``value`` without its empty parts (an element without a value is omitted)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _empty(v)}
    if isinstance(value, list):
        return [item for item in (_pruned(v) for v in value) if not _empty(item)]
    return value


def _element(tag: str, value: Any, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if isinstance(value, list):
        for item in value:
            _element(tag, item, depth, out)
    elif isinstance(value, dict):
        out.append(f"{pad}<{tag}>")
        for child, child_value in value.items():
            _element(child, child_value, depth + 1, out)
        out.append(f"{pad}</{tag}>")
    else:
        text = value if isinstance(value, str) else json.dumps(value)
        out.append(f"{pad}<{tag}>{text.translate(_ESCAPES)}</{tag}>")


def write_list(
    root: str, item: str, elements: Sequence[Mapping[str, Any]], org_code: str, biz_date: str
) -> bytes:
    """One package file: ``<root>`` with one ``<item>`` per element, as README §3.1 fixes it."""
    out = [
        _DECLARATION,
        f'<{root} xmlns="{PACKAGE_NS}" orgCode="{org_code}" bizDate="{biz_date}" '
        f'count="{len(elements)}">',
    ]
    for element in elements:
        _element(item, _pruned(dict(element)), 1, out)
    out.append(f"</{root}>")
    return ("\n".join(out) + "\n").encode("utf-8")


def package_zip(files: Mapping[str, bytes], biz_date: str) -> bytes:
    """The ZIP of ``files`` (in ``FILES`` order), byte-exact per README §3.1."""
    day = dt.datetime.strptime(biz_date, "%Y%m%d")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in FILES:
            info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, files[name])
    return buffer.getvalue()


def _refuse(reason: str, rule: str, field: str = "records") -> MessageRejected:
    return MessageRejected(
        reason, system="culture_tourism_national", message="upload_daily_package",
        field=field, rule=rule,
    )  # fmt: skip


def _records(document: bytes) -> list[Mapping[str, Any]]:
    try:
        records = json.loads(document)["records"]
    except (ValueError, KeyError, TypeError):
        raise _refuse("the rendered package is not {records: [...]}", "package_document") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise _refuse("the rendered package records are not objects", "package_document")
    return records


def _latest(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Per record type, the latest version of each key, sorted by ``recordId``."""
    order = sorted(range(len(records)), key=lambda i: (str(records[i].get("received_at") or ""), i))
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for index in order:
        record = records[index]
        kind = record.get("type")
        if kind not in _LISTS:
            raise _refuse(f"record type '{kind}' is neither CASE nor DECISION", "package_document")
        element = record.get("element")
        if not isinstance(element, dict) or not element.get("recordId"):
            raise _refuse(f"record {index + 1}: no recordId", "required", "recordId")
        latest[(str(kind), str(record.get("key") or element["recordId"]))] = element
    grouped: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in _LISTS}
    for (kind, _), element in latest.items():
        grouped[kind].append(element)
    for elements in grouped.values():
        elements.sort(key=lambda e: str(e["recordId"]))
    return grouped


def build_package(document: bytes, org_code: str, biz_date: str) -> Package:
    """The package of ``biz_date`` (``yyyyMMdd``) from the rendered records ``document``
    (possibly none: a day without messages still gets a package with two empty lists)."""
    grouped = _latest(_records(document)) if document else {kind: [] for kind in _LISTS}
    files: dict[str, bytes] = {}
    records: list[PackageRecord] = []
    for kind, (name, root, item) in _LISTS.items():
        files[name] = write_list(root, item, grouped[kind], org_code, biz_date)
        records += [(kind, str(e["recordId"])) for e in grouped[kind]]
    data = package_zip(files, biz_date)
    return Package(biz_date, files, data, hashlib.sha256(data).hexdigest(), tuple(records))


def read_package(data: bytes, *, max_bytes: int) -> tuple[PackageRecord, ...]:
    """The records of an uploaded package ZIP (what the ministry's side reads), in package
    order; a broken archive or file raises ``MessageRejected``."""
    members = read_members(data, FILES, field="packageZipBase64", max_bytes=max_bytes)
    records: list[PackageRecord] = []
    for kind, (name, root, item) in _LISTS.items():
        tree = parse_xml(members[name])
        if tree.tag != f"{{{PACKAGE_NS}}}{root}":
            raise MessageRejected(f"{name} is not a {root}", field=name, rule="package_root")
        for node in tree.iterfind(f"{{{PACKAGE_NS}}}{item}"):
            record_id = node.findtext(f"{{{PACKAGE_NS}}}recordId")
            if not record_id:
                raise MessageRejected(
                    f"a {item} of {name} has no recordId", field=name, rule="required"
                )
            records.append((kind, record_id))
    return tuple(records)
