"""downloadBlacklist answers (README §3.3, §5, quirks 3–8): the whole download is refused when
it cannot be opened; a bad entry is refused alone; the wire's odd spellings map cleanly."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest

from adapters.culture_tourism_national.simulator import blacklist_xml, blacklist_zip
from runner.adapter_api import MessageRejected
from tests.adapters.culture_tourism_national._support import mapped, sample, unstamped

ENTRY = {
    "entryId": "WLHMD-20240305-000099",
    "listType": "1",
    "action": "A",
    "subjectType": "1",
    "name": "福州市鼓楼区示例旅行社有限公司",
    "creditCode": "91350100M000100Y43",
    "legalRep": "陈示例",
    "areaCode": "350102",
    "decisionOrg": "福建省文化和旅游厅",
    "decisionNo": "闽文旅失信〔2024〕1号",
    "decisionDate": "2024-03-05",
    "measures": "WLSC01;WLSC02",
    "eventTime": "2024-03-05 10:00:00",
}
PERSON = {
    **{k: v for k, v in ENTRY.items() if k not in ("creditCode", "legalRep")},
    "entryId": "WLHMD-20240305-000100",
    "subjectType": "2",
    "name": "王示例",
    "idNo": "11010519491231002X",
}


def answer(data: bytes, *, sha: str | None = None, mime: bool = True, code: str = "0") -> bytes:
    """A downloadBlacklistResponse around the ZIP ``data``."""
    text = base64.b64encode(data).decode()
    if mime:
        text = "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    digest = sha or hashlib.sha256(data).hexdigest()
    return (
        '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
        '<ns2:downloadBlacklistResponse xmlns:ns2="http://exchange.whsc.mct.gov.cn/"><return>'
        f"<code>{code}</code><message>成功</message><bizDate>20240305</bizDate>"
        "<generatedTime>2024-03-06 06:10:00</generatedTime><count>1</count>"
        f"<dataZipBase64>{text}</dataZipBase64><sha256>{digest}</sha256></return>"
        "</ns2:downloadBlacklistResponse></S:Body></S:Envelope>"
    ).encode()


def of(*entries: dict[str, str], bom: bool = False, mime: bool = True) -> bytes:
    content = blacklist_xml("20240305", "2024-03-06 06:10:00", list(entries), utf8_bom=bom)
    return answer(blacklist_zip(content, "20240305"), mime=mime)


def one(body: bytes) -> dict:
    result = mapped("download_blacklist", body)
    assert result.rejected == []
    (envelope,) = unstamped(result)
    return envelope


@pytest.mark.parametrize("mime", [True, False], ids=["MIME lines", "one line"])
def test_mime_and_one_line_base64_both_open(mime: bool):
    assert one(of(ENTRY, mime=mime))["source_message_id"] == ENTRY["entryId"]


def test_a_utf8_file_with_a_bom_and_no_declaration_opens_like_a_gbk_one():
    assert one(of(ENTRY, bom=True)) == one(of(ENTRY))


def test_a_gb18030_only_character_in_a_gbk_declared_file_decodes():
    content = blacklist_xml("20240305", "2024-03-06 06:10:00", [ENTRY]).replace(
        "陈示例".encode("gbk"), "陈𠀀".encode("gb18030")
    )
    body = answer(blacklist_zip(content, "20240305"))
    assert one(body)["payload"]["party"]["legal_representative"] == "陈𠀀"


def test_quirks_null_words_padding_full_width_and_compact_dates_are_cleaned():
    entry = {
        **ENTRY,
        "creditCode": " ９１３５０１００Ｍ０００１００Ｙ４３ ",
        "legalRep": "null",
        "name": "  福州市鼓楼区示例旅行社有限公司　",
        "decisionDate": "20240305",
        "measures": "WLSC01；WLSC02，WLSC02",
    }
    payload = one(of(entry))["payload"]
    assert payload["party"]["uscc"] == "91350100M000100Y43"
    assert payload["party"]["legal_representative"] is None
    assert payload["party"]["name"] == "福州市鼓楼区示例旅行社有限公司"
    assert payload["cases"][0]["published_at"] == "2024-03-05T00:00:00+08:00"
    assert payload["measures"] == ["WLSC01", "WLSC02"]


def test_a_person_with_a_15_digit_id_number_gets_the_upgraded_number_and_l3():
    envelope = one(of({**PERSON, "idNo": "350502930411513"}))
    assert envelope["payload"]["party"]["id_number"] == "350502199304115132"
    assert envelope["payload"]["party"]["id_type"] == "resident_id"  # absent idType → 111
    assert envelope["classification"] == "L3"


def test_a_focus_list_entry_is_not_a_dishonesty_finding_and_a_removal_clears_everything():
    assert one(of({**ENTRY, "listType": "2"}))["payload"]["is_dishonest"] is False
    removal = one(of({**ENTRY, "action": "D"}))["payload"]
    assert (removal["is_dishonest"], removal["cases"], removal["measures"]) == (False, [], [])


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        pytest.param({"listType": "3"}, "listed", "unknown_code", id="an unknown list type"),
        pytest.param({"action": "X"}, "action", "unknown_code", id="an unknown action"),
        pytest.param({"subjectType": "9"}, "subject", "unknown_code", id="an unknown subject type"),
        pytest.param(
            {"measures": "WLSC01;WLSC99"},
            "payload.measures",
            "unknown_code",
            id="an unknown measure",
        ),
        pytest.param(
            {"measures": "null"}, "payload.measures", "required", id="no measures on a listing"
        ),
        pytest.param(
            {"creditCode": "91350100M000100Y44"},
            "payload.party.uscc",
            "uscc_check",
            id="a USCC failing its check",
        ),
        pytest.param(
            {"decisionOrg": "null"},
            "payload.cases",
            "required",
            id="a listing without its deciding authority",
        ),
    ],
)
def test_a_bad_entry_is_refused_alone_and_the_others_are_mapped(change, field, rule):
    result = mapped("download_blacklist", of({**ENTRY, **change}, PERSON))
    assert [e.source_message_id for e in result.envelopes] == [PERSON["entryId"]]
    (refused,) = result.rejected
    assert refused.rule == rule
    assert (refused.field or "").startswith(field)
    assert refused.system == "culture_tourism_national"
    assert refused.message == "download_blacklist"


def test_a_refused_person_entry_names_no_id_number():
    result = mapped("download_blacklist", of({**PERSON, "idNo": "110105194912310021"}, ENTRY))
    (refused,) = result.rejected
    assert refused.rule.startswith("id_number")
    assert "110105194912310021" not in str(refused)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bad_name() -> bytes:
    """A ZIP whose member name is flagged UTF-8 (bit 11) but is not UTF-8."""
    data = bytearray(
        _zip({"blacklist.xml": b"<BlackList/>"}).replace(b"blacklist.xml", b"bl\xffcklist.xml")
    )
    data[7] |= 0x08  # local header flags
    data[bytes(data).find(b"PK\x01\x02") + 9] |= 0x08  # central directory flags
    return bytes(data)


DTD_FILE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><BlackList>&a;</BlackList>'
GOOD = blacklist_xml("20240305", "2024-03-06 06:10:00", [ENTRY])


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        pytest.param(
            answer(blacklist_zip(GOOD, "20240305"), sha="0" * 64),
            "sha256",
            "sha256_mismatch",
            id="a sha256 that does not match",
        ),
        pytest.param(
            answer(b"not a zip"), "dataZipBase64", "zip_unreadable", id="bytes that are no ZIP"
        ),
        pytest.param(
            of(ENTRY).replace(b"<dataZipBase64>", b"<dataZipBase64>@@"),
            "dataZipBase64",
            "base64",
            id="characters outside Base64",
        ),
        pytest.param(
            answer(_zip({"blacklist.xml": b"<" + b" " * 5_000_000 + b"/>"}, zipfile.ZIP_DEFLATED)),
            "dataZipBase64",
            "zip_bomb",
            id="a zip bomb",
        ),
        pytest.param(
            answer(_zip({"../blacklist.xml": GOOD})),
            "dataZipBase64",
            "zip_path",
            id="path traversal in a member name",
        ),
        pytest.param(
            answer(_zip({"blacklist.xml": GOOD, "extra.xml": GOOD})),
            "dataZipBase64",
            "zip_members",
            id="too many members",
        ),
        pytest.param(
            answer(_bad_name()), "dataZipBase64", "zip_name", id="an undecodable member name"
        ),
        pytest.param(
            answer(
                blacklist_zip(
                    DTD_FILE,
                    "20240305",
                )
            ),
            None,
            "xml_dtd",
            id="a DTD with an entity",
        ),
        pytest.param(
            answer(
                blacklist_zip(
                    b'<?xml version="1.0" encoding="GBK"?><BlackList>\xff\xff</BlackList>',
                    "20240305",
                )
            ),
            "blacklist.xml",
            "encoding",
            id="bytes that are not GBK",
        ),
        pytest.param(
            answer(blacklist_zip(b"<Other/>", "20240305")),
            "blacklist.xml",
            "blacklist_root",
            id="a file that is not a BlackList",
        ),
    ],
)
def test_a_download_that_cannot_be_opened_is_refused_whole_with_field_and_rule(body, field, rule):
    with pytest.raises(MessageRejected) as caught:
        mapped("download_blacklist", body)
    assert caught.value.rule == rule
    assert caught.value.system == "culture_tourism_national"
    if field:
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("3001", "batch_retry"), ("4290", "batch_retry"), ("1003", "batch_failed")],
)
def test_an_error_answer_is_a_delivery_outcome(code: str, outcome: str):
    body = sample("download_blacklist-2.xml").replace(
        b"<code>0</code>", f"<code>{code}</code>".encode()
    )
    result = mapped("download_blacklist", body)
    assert result.outcome is not None
    assert (result.outcome.outcome, result.outcome.code) == (outcome, code)


def test_an_unknown_error_code_is_refused_not_guessed():
    body = sample("download_blacklist-2.xml").replace(b"<code>0</code>", b"<code>7777</code>")
    with pytest.raises(MessageRejected, match="unknown_code"):
        mapped("download_blacklist", body)
