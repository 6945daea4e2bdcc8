"""Contract: every sample of the culture_tourism_national spec renders or maps exactly (README §8).

Inbound answers are also covered by the shared tests/contract (with the package records of
query_batch_result-2/-3 as prose facts); here: the outbound samples byte for byte — the SOAP
request, the ZIP, its two files, the signatures — and the request sidecars of the answers.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from lxml import etree
from typer.testing import CliRunner

from adapters.culture_tourism_national import (
    SERVICE,
    build_package,
    download_blacklist_request,
    query_batch_result_request,
    sign,
)
from adapters.culture_tourism_national._signing import auth_fields
from runner.cli import app
from runner.dryrun import render_message
from tests.adapters.culture_tourism_national._support import (
    PROJECT,
    SAMPLES,
    SECRET,
    config,
    mapped,
    render_document,
    sample,
    sample_json,
    signing_clock,
    unstamped,
)

UPLOADS = ("upload_daily_package-1", "upload_daily_package-2")
REQUESTS = ("query_batch_result-1", "download_blacklist-1", "download_blacklist-2")


def _facts(stem: str) -> dict[str, str]:
    now, nonce = signing_clock(stem)
    return {
        "now": now.isoformat(),
        "nonce": nonce,
        "bizDate": sample_json(f"{stem}.signing.json")["bizDate"],
    }


@pytest.mark.parametrize("stem", UPLOADS)
def test_every_upload_input_renders_to_the_exact_soap_request(stem: str):
    call = render_message(
        PROJECT, "culture_tourism_national", "upload_daily_package",
        sample_json(f"{stem}.input.json"), _facts(stem),
    )  # fmt: skip
    assert call.body == sample(f"{stem}.xml")
    assert call.headers["SOAPAction"] == '""'
    assert call.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert call.operation == "uploadDailyPackage"


@pytest.mark.parametrize("stem", UPLOADS)
def test_ebus_render_prints_the_exact_soap_request_with_an_empty_soapaction(stem: str):
    args = ["render", "culture_tourism_national", "upload_daily_package"]
    args += [str(SAMPLES / f"{stem}.input.json"), "--headers"]
    args += [f"--meta={k}={v}" for k, v in _facts(stem).items()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    assert head.splitlines()[0] == b"POST /exchange/ProvinceExchangeService"
    assert b'SOAPAction: ""' in head
    assert body == sample(f"{stem}.xml")


@pytest.mark.parametrize("stem", UPLOADS)
def test_the_package_zip_and_its_files_are_reproduced_byte_for_byte(stem: str):
    facts = sample_json(f"{stem}.signing.json")
    package = build_package(
        render_document(sample_json(f"{stem}.input.json")), "350000", facts["bizDate"]
    )
    assert package.files["cases.xml"] == sample(f"{stem}.cases.xml")
    assert package.files["decisions.xml"] == sample(f"{stem}.decisions.xml")
    assert package.zip_bytes == sample(f"{stem}.zip")
    assert len(package.zip_bytes) == facts["zip_bytes"]
    assert (
        package.sha256 == facts["zip_sha256"] == hashlib.sha256(sample(f"{stem}.zip")).hexdigest()
    )


@pytest.mark.parametrize("stem", [*UPLOADS, *REQUESTS], ids=lambda s: f"{s}.signing.json")
def test_every_signature_is_the_upper_case_sm3_of_key_timestamp_nonce_and_secret(stem: str):
    facts = sample_json(f"{stem}.signing.json")
    assert sign("FJWLT350000", facts["timestamp"], facts["nonce"], SECRET) == facts["signature"]


def test_the_worked_example_of_the_readme_signs_as_documented():
    assert sign("FJWLT350000", "20240306013012", "k3v9q2x7m1p8w4z6", SECRET) == (
        "012476E9D1ED48012E838F465F720C1B65AC87A344D9D639ECF5B0CFC41E6F19"
    )


@pytest.mark.parametrize("stem", REQUESTS)
def test_every_request_sidecar_is_the_exact_request_the_jobs_build(stem: str):
    now, nonce = signing_clock(stem)
    tree = etree.fromstring(sample(f"{stem}.request.xml"))
    settings = config("https://whscjg-test.mct.gov.cn/exchange/ProvinceExchangeService")
    if stem.startswith("query"):
        call = query_batch_result_request(settings, tree.findtext(".//batchId"), now, nonce)
    else:
        call = download_blacklist_request(settings, tree.findtext(".//bizDate"), now, nonce)
    assert call.body == sample(f"{stem}.request.xml")


def _shape(element: etree._Element) -> tuple[object, ...]:
    """Qualified names, texts and children: the XML without prefixes and layout."""
    return (element.tag, (element.text or "").strip(), [_shape(c) for c in element])


def test_zeep_builds_the_same_request_from_the_wsdl_with_unqualified_children():
    """The hand-written envelope (exact bytes) and zeep's envelope from the WSDL are the same XML
    once the layout white space is removed: wrapper qualified, children unqualified."""
    now, nonce = signing_clock("query_batch_result-1")
    auth = dict(auth_fields("FJWLT350000", SECRET, now, nonce))
    ours = query_batch_result_request(config(), "WLSC-35-20240305-0001", now, nonce).body
    theirs = SERVICE.envelope(
        "queryBatchResult", {"AuthHeader": auth}, batchId="WLSC-35-20240305-0001"
    )
    parsed = etree.fromstring(ours, etree.XMLParser(remove_blank_text=True))
    ours_body = parsed.find("{*}Body/{*}queryBatchResult")
    theirs_body = theirs.find("{*}Body/{*}queryBatchResult")
    assert [c.tag for c in ours_body] == [c.tag for c in theirs_body] == ["batchId"]
    assert _shape(parsed) == _shape(theirs)
    assert parsed.find("{*}Header/{*}AuthHeader/appKey") is not None  # unqualified children
    assert SERVICE.soap_action("uploadDailyPackage") == ""


@pytest.mark.parametrize("n", [1, 2])
def test_blacklist_samples_map_in_file_order_with_the_sidecar_file_inside(n: int):
    result = mapped("download_blacklist", sample(f"download_blacklist-{n}.xml"))
    assert unstamped(result) == json.loads(sample(f"download_blacklist-{n}.expected.json"))
    assert result.rejected == []
