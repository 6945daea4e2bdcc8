"""The manifest (README §2.2, layout.md §4): the worked example, the signature, each file check."""

from __future__ import annotations

import json

import pytest

from adapters.market_reg import DEMO_SECRET, parse_manifest, sign_manifest
from adapters.market_reg._manifest import check_file, check_signature, count_lines, string_to_sign
from runner.adapter_api import MessageRejected
from tests.adapters.market_reg._support import sample


def test_the_worked_example_string_to_sign_and_sign_are_reproduced():
    manifest = parse_manifest(sample("manifest-1.json"))
    assert string_to_sign(manifest) == (
        "20240305\n1\n"
        "cases_20240305.jsonl:3:3830:3273b72d35a1567847d6b092e20a0322200fa4ddfe77a64ddfa375f33f6394cd\n"
        "decisions_20240305.jsonl:2:2441:21e8f81d5edae6368e9824bcd6e6e84babd047b5489c395b775ef8456a88f968"
    )
    assert sign_manifest(manifest, DEMO_SECRET) == (
        "99e72d45998df3730a840397ce423276cb12e73856c6c300fed6fc344dea1df0"
    )


@pytest.mark.parametrize("night", [1, 2, 3], ids=lambda n: f"sample night {n}")
def test_every_sample_night_verifies_with_the_test_secret(night: int):
    manifest = parse_manifest(sample(f"manifest-{night}.json"))
    check_signature(manifest, DEMO_SECRET)
    for kind in ("cases", "decisions"):
        entry = manifest.entry(kind)
        assert entry is not None
        check_file(entry, sample(f"{kind}-{night}.jsonl"))


def test_a_manifest_signed_with_another_secret_is_refused():
    manifest = parse_manifest(sample("manifest-1.json"))
    with pytest.raises(MessageRejected) as caught:
        check_signature(manifest, "not-the-secret")
    assert (caught.value.rule, caught.value.field) == ("bad_signature", "manifest.sign")


def test_a_changed_line_count_breaks_the_signature():
    document = json.loads(sample("manifest-1.json"))
    document["files"][0]["lines"] = 4
    manifest = parse_manifest(json.dumps(document).encode())
    with pytest.raises(MessageRejected, match="bad_signature"):
        check_signature(manifest, DEMO_SECRET)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        pytest.param(b"\xef\xbb\xbf{}", "manifest_format", id="a manifest with a BOM"),
        pytest.param(b'{"export_date": ', "manifest_format", id="a manifest that is not JSON"),
        pytest.param(b"[]", "manifest_format", id="a manifest that is not an object"),
        pytest.param(b"\xff\xfe{}", "manifest_format", id="a manifest that is not UTF-8"),
        pytest.param(b" " * 70000, "manifest_format", id="a huge manifest"),
    ],
)
def test_a_manifest_that_cannot_be_read_is_refused(data: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        parse_manifest(data)
    assert caught.value.rule == rule


def test_a_manifest_with_a_string_batch_is_refused():
    document = json.loads(sample("manifest-1.json"))
    document["batch"] = "1"
    with pytest.raises(MessageRejected) as caught:
        parse_manifest(json.dumps(document).encode())
    assert caught.value.field == "manifest.batch"


def _entry():
    manifest = parse_manifest(sample("manifest-1.json"))
    entry = manifest.entry("decisions")
    assert entry is not None
    return entry


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        pytest.param(lambda d: d + b"\n", "size_mismatch", id="one byte more"),
        pytest.param(lambda d: d[:-3] + b"xx\n", "sha256_mismatch", id="same size, other bytes"),
    ],
)
def test_a_file_that_differs_from_its_entry_is_refused(change, rule: str):
    with pytest.raises(MessageRejected) as caught:
        check_file(_entry(), change(sample("decisions-1.jsonl")))
    assert caught.value.rule == rule


def test_a_file_without_bom_is_refused_even_when_size_and_digest_match():
    import hashlib  # noqa: PLC0415

    from adapters.market_reg._manifest import FileEntry  # noqa: PLC0415

    data = sample("decisions-1.jsonl")[3:]
    entry = FileEntry("decisions_20240305.jsonl", 2, len(data), hashlib.sha256(data).hexdigest())
    with pytest.raises(MessageRejected) as caught:
        check_file(entry, data)
    assert caught.value.rule == "missing_bom"


def test_blank_lines_and_crlf_are_not_counted_as_lines():
    assert count_lines(b"\xef\xbb\xbf{}\r\n{}\r\n \r\n\r\n") == 2
    assert count_lines(b"\xef\xbb\xbf") == 0
