"""README §2.3: the encoding comes from the bytes (BOM, else the declaration), never the header."""

from __future__ import annotations

import codecs

import pytest

from adapters.emergency import decode_body, prepare
from adapters.emergency._wire import wire_encoding
from runner.adapter_api import MessageRejected, RawMessage
from tests.adapters.emergency._support import CONFIG, SAMPLES

GBK_NAMES = "王一镕 林堃 陈喆"  # GBK characters outside GB2312 (README §2.3)


def _doc(declaration: str, text: str = GBK_NAMES) -> str:
    return f"{declaration}<YJZFMessage><Head><msgId>{text}</msgId></Head></YJZFMessage>"


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0" encoding="GB2312"?>',
        "<?xml version='1.0' encoding='gb2312'?>",
        '<?xml version="1.0" encoding="GBK"?>',
        '<?xml version="1.0" encoding="gb_18030"?>',
        '<?xml version="1.0" encoding="cp936"?>',
        '\r\n  <?xml version="1.0" encoding="Gb-2312" standalone="yes"?>',
    ],
)
def test_a_gb_family_label_is_decoded_as_gb18030_even_for_gbk_only_characters(declaration: str):
    body = _doc(declaration).encode("gb18030")
    assert GBK_NAMES in decode_body(body)
    assert wire_encoding(body)[0] == "gb18030"


def test_a_bom_means_utf8_whatever_the_declaration_says():
    body = codecs.BOM_UTF8 + _doc('<?xml version="1.0" encoding="GB2312"?>').encode("utf-8")
    assert decode_body(body).startswith("<?xml")
    assert GBK_NAMES in decode_body(body)


@pytest.mark.parametrize(
    "declaration",
    [
        "",
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="utf_8"?>',
        "<?xml version='1.0' encoding='UTF-8'?>",
    ],
    ids=["no declaration", "no encoding", "utf_8", "single quotes"],
)
def test_utf8_is_the_default_and_the_utf8_label(declaration: str):
    assert GBK_NAMES in decode_body(_doc(declaration).encode("utf-8"))


@pytest.mark.parametrize("label", ["ISO-8859-1", "UTF-16", "Big5", ""])
def test_another_declared_encoding_is_refused(label: str):
    body = _doc(f'<?xml version="1.0" encoding="{label}"?>', "x").encode("ascii")
    with pytest.raises(MessageRejected) as caught:
        decode_body(body)
    assert caught.value.rule == "unsupported_encoding"


def test_gb_bytes_under_a_utf8_label_are_refused_not_guessed():
    body = _doc('<?xml version="1.0" encoding="UTF-8"?>').encode("gb18030")
    with pytest.raises(MessageRejected) as caught:
        decode_body(body)
    assert caught.value.rule == "undecodable"


def test_utf8_bytes_under_a_gb2312_label_are_refused_when_invalid_gb18030():
    body = _doc('<?xml version="1.0" encoding="GB2312"?>', "\u00e9\u00e9").encode("utf-8")[:-3]
    body += b"\x80</msgId></Head></YJZFMessage>"
    with pytest.raises(MessageRejected) as caught:
        decode_body(body)
    assert caught.value.rule == "undecodable"


def test_the_http_charset_is_ignored_for_the_gb2312_sample():
    path = SAMPLES / "safety_inspection-2.xml"
    raw = RawMessage(body=path.read_bytes(), headers={"content-type": "text/xml; charset=UTF-8"})
    prepared = prepare("safety_inspection", raw, CONFIG).decode("utf-8")
    assert "惠安县崇武石材有限公司" in prepared
    assert "encoding" not in prepared[:100]


def test_a_dtd_is_refused_before_anything_is_resolved():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE YJZFMessage [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<YJZFMessage>&x;</YJZFMessage>"
    )
    with pytest.raises(MessageRejected) as caught:
        prepare("safety_inspection", RawMessage(body=body), CONFIG)
    assert caught.value.rule == "xml_dtd"


def test_a_body_over_2_mib_is_refused_unread():
    with pytest.raises(MessageRejected) as caught:
        prepare("safety_inspection", RawMessage(body=b" " * (2 * 1024 * 1024 + 1)), CONFIG)
    assert caught.value.rule == "too_large"
