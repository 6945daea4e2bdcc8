"""Reading a YJZF push: its encoding (README §2.3), its structure (``yjzf.xsd``) and its Head.

``prepare`` is the adapter's ``SPEC.prepare``: it turns the raw request body into the UTF-8
document the mappings read, or refuses it with a ``MessageRejected`` naming the element and the
rule. Steps, in order:

1. size (2 MiB, §2.1);
2. the encoding, decided from the bytes exactly as §2.3 says (BOM → UTF-8; else the XML
   declaration's ``encoding``: ``UTF-8``, or ``GB2312``/``GBK``/``GB18030``/``CP936`` decoded as
   GB18030 because client 2.x writes GBK under the GB2312 label; anything else refused; no
   declaration → UTF-8). The HTTP ``charset`` is ignored. Bytes invalid in that encoding are
   refused, never re-guessed;
3. the hardened parser of the runner (no DTD, no entities, no network);
4. the structure of ``yjzf.xsd`` (names, nesting, order, cardinality), a ``Head`` with every
   required value, a ``msgId`` of the §3.1 form, and a ``msgType`` that is this message type's
   and agrees with the ``Body`` element.

The result is the same document as UTF-8 bytes without a declaration (CDATA already text).
"""

from __future__ import annotations

import codecs
import logging
import re
import threading
from pathlib import Path

from lxml import etree

from adapters.emergency._config import as_config
from adapters.emergency.transforms import is_absent, parse_datetime
from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage, parse_xml
from schemas.text import fold_width

__all__ = [
    "BODY_ELEMENTS",
    "MESSAGE_TYPES",
    "MSG_ID",
    "XSD",
    "check_size",
    "decode_body",
    "message_type_of",
    "msg_id_of",
    "parse_body",
    "prepare",
    "wire_encoding",
]

log = logging.getLogger("ebus.adapters.emergency")

XSD = Path(__file__).with_name("yjzf.xsd")
"""The document structure of the interface (a copy of the spec's ``yjzf.xsd``)."""
MESSAGE_TYPES = {"SAFETY_INSPECTION": "safety_inspection", "PENALTY_DECISION": "penalty_decision"}
"""Wire ``msgType`` → bus message type."""
BODY_ELEMENTS = {"safety_inspection": "JCJL", "penalty_decision": "CFJD"}
"""Bus message type → the one element its ``<Body>`` holds."""
MSG_ID = re.compile(r"YJZF\d{20}")
"""``YJZF`` + ``yyyyMMddHHmmss`` + a 6-digit sequence (README §3.1)."""

_DECLARATION = re.compile(rb"[ \t\r\n]*<\?xml[ \t\r\n](?P<pseudo>[^?>]*)\?>")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""")
_GB_LABELS = frozenset({"GB2312", "GBK", "GB18030", "CP936"})
_HEAD = ("msgId", "msgType", "sendTime", "sender")
_MSG_ID_BYTES = re.compile(rb"<msgId>[ \t\r\n]*([A-Za-z0-9]{1,40})[ \t\r\n]*</msgId>")
_MSG_TYPE_BYTES = re.compile(rb"<msgType>[ \t\r\n]*([A-Z_]{1,40})[ \t\r\n]*</msgType>")


def check_size(body: bytes, limit: int) -> None:
    """Refuse a body over ``limit`` bytes (rule ``too_large``: HTTP 413, Ack code 2)."""
    if len(body) > limit:
        raise MessageRejected(
            f"body of {len(body)} bytes exceeds the interface's {limit} bytes (README §2.1)",
            field="body",
            rule="too_large",
        )


def wire_encoding(body: bytes) -> tuple[str, int]:
    """The codec §2.3 chooses for ``body`` and how many leading bytes to skip (a BOM).

    Raises ``MessageRejected`` (``unsupported_encoding``) for a declared encoding other than
    UTF-8 or the GB family.
    """
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    declaration = _DECLARATION.match(body, 0, 1024)
    if declaration is None:
        return "utf-8", 0
    encoding = _ENCODING.search(declaration["pseudo"])
    if encoding is None:
        return "utf-8", 0
    label = (encoding["dq"] if encoding["dq"] is not None else encoding["sq"]) or b""
    name = label.decode("ascii", "replace").upper().replace("-", "").replace("_", "")
    if name == "UTF8":
        return "utf-8", 0
    if name in _GB_LABELS:
        return "gb18030", 0
    raise MessageRejected(
        "declared encoding is not UTF-8, GB2312, GBK, GB18030 or CP936 (README §2.3)",
        field="encoding",
        rule="unsupported_encoding",
    )


def decode_body(body: bytes) -> str:
    """The document text of ``body``, decoded as §2.3 says (``undecodable`` when invalid)."""
    codec, skip = wire_encoding(body)
    try:
        return body[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        raise MessageRejected(
            f"bytes {exc.start + skip}-{exc.end + skip} are not valid {codec} (README §2.3)",
            field="encoding",
            rule="undecodable",
        ) from None


_local = threading.local()


def _schema() -> etree.XMLSchema:
    """The compiled ``yjzf.xsd``, one per thread (an lxml validator keeps per-call state)."""
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        schema = etree.XMLSchema(etree.parse(str(XSD), parser))
        _local.schema = schema
    return schema


def _element_path(path: str | None) -> str:
    """``/YJZFMessage/Body/JCJL/BJCDW/DWMC[1]`` → ``BJCDW/DWMC`` (as the README names it)."""
    steps = [re.sub(r"\[\d+\]$", "", step) for step in (path or "").split("/") if step]
    for anchor in ("JCJL", "CFJD", "YJZFMessage"):
        if anchor in steps:
            steps = steps[steps.index(anchor) + 1 :]
            break
    return "/".join(steps) or "YJZFMessage"


def _check_structure(root: etree._Element) -> None:
    if root.tag != "YJZFMessage":
        raise MessageRejected(
            f"root element is <{str(root.tag)[:40]}>, not <YJZFMessage>",
            field="YJZFMessage",
            rule="schema",
        )
    schema = _schema()
    if not schema.validate(root):
        last = getattr(schema.error_log, "last_error", None)  # not in lxml-stubs
        message, path = (str(last.message), last.path) if last is not None else ("", None)
        raise MessageRejected(
            f"not valid per yjzf.xsd: {message[:200]}",
            field=_element_path(path),
            rule="schema",
        )


def _head(root: etree._Element, message_id: str) -> dict[str, str]:
    head: dict[str, str] = {}
    for name in _HEAD:
        text = root.findtext(f"Head/{name}")
        if is_absent(text):
            raise MessageRejected(
                "a required value is missing", field=f"Head/{name}", rule="required"
            )
        head[name] = fold_width(str(text)).strip()
    if not MSG_ID.fullmatch(head["msgId"]):
        raise MessageRejected(
            "msgId is not YJZF + yyyyMMddHHmmss + 6 digits (README §3.1)",
            field="Head/msgId",
            rule="msg_id_format",
        )
    wire_type = MESSAGE_TYPES.get(head["msgType"])
    if wire_type is None:
        raise MessageRejected(
            "msgType is neither SAFETY_INSPECTION nor PENALTY_DECISION",
            field="Head/msgType",
            rule="unknown_code",
        )
    if wire_type != message_id:
        raise MessageRejected(
            f"msgType {head['msgType']} is not message type {message_id}",
            field="Head/msgType",
            rule="wrong_message_type",
        )
    if root.find(f"Body/{BODY_ELEMENTS[message_id]}") is None:
        raise MessageRejected(
            f"msgType {head['msgType']} needs <Body><{BODY_ELEMENTS[message_id]}>",
            field="Body",
            rule="wrong_message_type",
        )
    try:
        parse_datetime(head["sendTime"])  # one of the §3.4 spellings
    except MessageRejected as exc:
        exc.field = "Head/sendTime"
        raise
    return head


def parse_body(message_id: str, body: bytes, limit: int) -> etree._Element:
    """Decode, parse and check a push of ``message_id``; its root ``<YJZFMessage>``."""
    check_size(body, limit)
    root = parse_xml(decode_body(body))
    _check_structure(root)
    head = _head(root, message_id)
    log.debug(
        "yjzf push %s %s sent %s by %s",
        head["msgId"],
        head["msgType"],
        head["sendTime"],
        head["sender"],
    )
    return root


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``SPEC.prepare``: the checked document as UTF-8 bytes for the mapping (see module doc)."""
    root = parse_body(message_id, raw.body, as_config(config).max_body_bytes)
    return etree.tostring(root, encoding="utf-8")


def msg_id_of(body: bytes) -> str:
    """The ``Head/msgId`` of a body, read without parsing (for an Ack to any request, even a
    malformed one); the empty string when there is none of a sane form."""
    match = _MSG_ID_BYTES.search(body, 0, 64 * 1024)
    return match[1].decode("ascii") if match else ""


def message_type_of(body: bytes) -> str | None:
    """The bus message type a body declares in ``Head/msgType`` (None when it names none):
    how one endpoint (``POST /inbound/emergency``) tells its two message types apart."""
    match = _MSG_TYPE_BYTES.search(body, 0, 64 * 1024)
    return MESSAGE_TYPES.get(match[1].decode("ascii")) if match else None
