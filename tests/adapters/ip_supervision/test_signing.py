"""The AuthHeader signature over the GBK bytes of xmlData, and the GBK codec (§2.2, §2.3, Q2)."""

from __future__ import annotations

import hashlib

import pytest

from adapters.ip_supervision import encode_gbk, read_call, sign
from adapters.ip_supervision._signing import data_hash, timestamp, verify
from adapters.ip_supervision.simulator import APP_ID, APP_SECRET
from tests.adapters.ip_supervision._support import OUTBOUND, sample

WORKED = "60e25d5a8a77f37074d31d45bbf79e915b71745b67700b0ebd6497227579eb80"


def test_the_worked_example_signs_to_the_readme_value():
    xml_data = sample("upload_inspection-1.xmlData.xml")
    assert len(xml_data) == 956
    assert data_hash(xml_data) == (
        "375059844ebe085dfdfbd95b64779059e0cbb1b69c9c314f9245f177fc12777a"
    )
    stamp, nonce = "20240305101500", "5d2c8e1a9f3b4c7d8e6a0b2c4d6e8f01"
    assert sign(APP_SECRET, APP_ID, "XZJC", stamp, nonce, xml_data) == WORKED


def test_hashing_the_utf8_encoding_instead_gives_another_hash():
    text = sample("upload_inspection-1.xmlData.xml").decode("gbk")
    assert hashlib.sha256(text.encode("utf-8")).hexdigest().startswith("3e38e3db")
    assert data_hash(encode_gbk(text)) != hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("stem", OUTBOUND)
def test_every_sample_envelope_carries_the_signature_of_its_own_xml_data(stem: str):
    fields = read_call(sample(f"{stem}.xml"))
    assert encode_gbk(fields["xmlData"]) == sample(f"{stem}.xmlData.xml")
    assert verify(
        APP_SECRET,
        fields["appId"],
        fields["dataType"],
        fields["timestamp"],
        fields["nonce"],
        encode_gbk(fields["xmlData"]),
        fields["sign"],
    )


def test_a_changed_byte_of_xml_data_breaks_the_signature():
    xml_data = sample("upload_inspection-1.xmlData.xml")
    stamp, nonce = "20240305101500", "5d2c8e1a9f3b4c7d8e6a0b2c4d6e8f01"
    changed = xml_data.replace(b"<JCJG>2</JCJG>", b"<JCJG>1</JCJG>")
    assert not verify(APP_SECRET, APP_ID, "XZJC", stamp, nonce, changed, WORKED)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        pytest.param("林䶮清", "林&#x4DAE;清".encode("gbk"), id="CJK extension A"),
        pytest.param("142mg/m³", b"142mg/m&#xB3;", id="superscript three"),
        pytest.param("𠮷野家", "&#x20BB7;野家".encode("gbk"), id="beyond the BMP"),
        pytest.param("福州市", "福州市".encode("gbk"), id="plain GBK unchanged"),
    ],
)
def test_characters_outside_gbk_become_upper_case_hex_references(text: str, encoded: bytes):
    assert encode_gbk(text) == encoded
    assert text.encode("gbk-ncr") == encoded


def test_the_timestamp_is_beijing_time_without_separators():
    import datetime as dt  # noqa: PLC0415

    moment = dt.datetime(2024, 3, 5, 2, 15, tzinfo=dt.UTC)
    assert timestamp(moment) == "20240305101500"
    assert timestamp(moment.replace(tzinfo=None)) == "20240305021500"
