"""Contract tests without a broker: every outbound sample renders to its wire bytes, properties
and signed headers; every inbound sample's signature verifies; bad input is refused with a rule."""

from __future__ import annotations

import codecs
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.admin_criminal import SPEC
from adapters.admin_criminal._signing import key_bytes, sign, verify
from adapters.admin_criminal._wire import routing_key
from runner.adapter_api import MessageRejected, RawMessage
from runner.cli import app
from runner.dryrun import map_message, render_message
from runner.mapping.transforms import get_transform
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.adapters.admin_criminal.conftest import INBOUND, PACKAGES, SAMPLES, facts

PROJECT = load_project()
end_of_day_plus, plus_hours = get_transform("end_of_day_plus"), get_transform("plus_hours")
POLICE_KEY = key_bytes(str(SPEC.demo_config["police_key"]))
BUS_KEY = key_bytes(str(SPEC.demo_config["bus_key"]))


def _input(package: Path) -> dict[str, Any]:
    return json.loads(package.with_name(package.name.replace(".json", ".input.json")).read_text())


def _render(package: Path) -> Any:
    headers = facts(package)["headers"]
    return render_message(
        PROJECT,
        "admin_criminal",
        "transfer_package",
        [_input(package)],
        {"timestamp": headers["x-timestamp"], "nonce": headers["x-nonce"]},
    )


def _mapped(body: bytes, message: str) -> list[dict[str, Any]]:
    result = map_message(PROJECT, "admin_criminal", message, RawMessage(body))
    stamped = ("message_id", "causation_id", "occurred_at", "received_at")
    return [
        {k: v for k, v in e.model_dump(mode="json").items() if k not in stamped}
        for e in result.envelopes
    ]


def _rejection(body: bytes, message: str) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        map_message(PROJECT, "admin_criminal", message, RawMessage(body))
    return caught.value


def _edited(name: str, **changes: Any) -> bytes:
    document = json.loads((SAMPLES / name).read_bytes())
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return json.dumps(document, ensure_ascii=False).encode()


# --- outbound ---------------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES, ids=[p.stem for p in PACKAGES])
def test_transfer_package_renders_to_the_sample_bytes(package: Path):
    assert _render(package).body == package.read_bytes()


@pytest.mark.parametrize("package", PACKAGES, ids=[p.stem for p in PACKAGES])
def test_transfer_package_carries_the_sample_properties_headers_and_routing_key(package: Path):
    call, expected = _render(package), facts(package)
    properties = {k: v for k, v in call.headers.items() if not k.startswith("x-")}
    signed = {k: v for k, v in call.headers.items() if k.startswith("x-")}
    assert call.path == expected["routing_key"]
    assert properties == {k: str(v) for k, v in expected["properties"].items()}
    assert signed == expected["headers"]


def test_worked_example_is_signed_as_the_readme_shows():
    call = render_message(
        PROJECT,
        "admin_criminal",
        "transfer_package",
        [_input(PACKAGES[0])],
        {"now": "2025-05-06T10:00:03+08:00", "nonce": "223845e54e680a5bfbbb0549fd23c229"},
    )
    assert call.headers["x-body-sm3"] == (
        "8d41ec8b348760986de1afc50c78e327024962a9b488eb1e90a1b92ee6eebe0d"
    )
    assert call.headers["x-signature"] == (
        "33d53ed1b99723768cfe5aeb8db36ecfaa40aadaf17612c0e52b6b95464af098"
    )
    assert call.headers["timestamp"] == "1746496803"


def test_ebus_render_prints_the_sample_bytes(tmp_path: Path):
    package = PACKAGES[1]
    headers = facts(package)["headers"]
    result = CliRunner().invoke(
        app,
        [
            "render",
            "admin_criminal",
            "transfer_package",
            str(package.with_name(package.name.replace(".json", ".input.json"))),
            f"--meta=timestamp={headers['x-timestamp']}",
            f"--meta=nonce={headers['x-nonce']}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == package.read_bytes()


def test_a_rendered_package_verifies_with_the_bus_key_only():
    call = _render(PACKAGES[0])
    properties = {k: v for k, v in call.headers.items() if not k.startswith("x-")}
    headers = {k: v for k, v in call.headers.items() if k.startswith("x-")}
    verify(BUS_KEY, "fjzf-esb", call.body, properties, headers)
    with pytest.raises(MessageRejected, match="bad_signature"):
        verify(POLICE_KEY, "fjzf-esb", call.body, properties, headers)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        pytest.param({"status": "received"}, "not_accepted", id="an answer is not a package"),
        pytest.param(
            {"direction": "criminal_to_admin"}, "not_accepted", id="a reverse transfer is not sent"
        ),
    ],
)
def test_only_transferred_admin_to_criminal_messages_are_packages(change, rule):
    envelope = _input(PACKAGES[0])
    envelope["payload"] |= change
    with pytest.raises(MessageRejected) as caught:
        render_message(PROJECT, "admin_criminal", "transfer_package", [envelope], {})
    assert caught.value.rule == rule


def test_a_sha256_evidence_digest_cannot_go_on_the_sm3_link():
    envelope = _input(PACKAGES[0])
    envelope["payload"]["evidence"][1]["digest_algorithm"] = "sha256"
    with pytest.raises(MessageRejected) as caught:
        render_message(PROJECT, "admin_criminal", "transfer_package", [envelope], {})
    assert caught.value.rule == "unknown_code"
    assert "evidence" in (caught.value.field or "")


def test_a_package_without_its_approval_is_refused():
    envelope = _input(PACKAGES[0])
    envelope["payload"]["history"] = envelope["payload"]["history"][1:]
    with pytest.raises(MessageRejected) as caught:
        render_message(PROJECT, "admin_criminal", "transfer_package", [envelope], {})
    assert (caught.value.rule, caught.value.field) == ("required", "body.approvedAt")


def test_routing_key_is_division_and_lower_case_domain():
    assert routing_key("350802", "HJ") == "fj.350802.hj"


# --- inbound signatures -----------------------------------------------------------------------


@pytest.mark.parametrize("sample", INBOUND, ids=[p.stem for p in INBOUND])
def test_every_inbound_sample_verifies_with_the_police_key(sample: Path):
    wire = facts(sample)
    verify(POLICE_KEY, "fjga-xxxj", sample.read_bytes(), wire["properties"], wire["headers"])


@pytest.mark.parametrize(
    ("spoil", "rule"),
    [
        pytest.param(lambda b, p, h: (b + b" ", p, h), "bad_body_digest", id="a changed body"),
        pytest.param(
            lambda b, p, h: (b, p | {"type": "LAJD"}, h), "bad_signature", id="a changed type"
        ),
        pytest.param(
            lambda b, p, h: (b, p | {"correlation_id": ""}, h),
            "bad_signature",
            id="a dropped correlation id",
        ),
        pytest.param(
            lambda b, p, h: (b, p, {k: v for k, v in h.items() if k != "x-nonce"}),
            "missing_header",
            id="a missing nonce",
        ),
        pytest.param(
            lambda b, p, h: (b, p, h | {"x-app-id": "fjzf-esb"}),
            "unknown_sender",
            id="the bus's own app id",
        ),
        pytest.param(
            lambda b, p, h: (b, p, h | {"x-sign-alg": "HMAC-SHA256"}),
            "unsupported_sign_alg",
            id="another algorithm",
        ),
    ],
)
def test_a_spoilt_answer_fails_verification_with_its_rule(spoil, rule):
    sample = SAMPLES / "receipt_signed-1.json"
    wire = facts(sample)
    body, properties, headers = spoil(sample.read_bytes(), wire["properties"], wire["headers"])
    with pytest.raises(MessageRejected) as caught:
        verify(POLICE_KEY, "fjga-xxxj", body, properties, headers)
    assert caught.value.rule == rule
    assert "dd41d1bb" not in str(caught.value)  # never the key


def test_an_integer_timestamp_from_an_old_java_client_verifies():
    body = (SAMPLES / "filing_decision-1.json").read_bytes()
    signed = sign(
        POLICE_KEY,
        app_id="fjga-xxxj",
        message_id="GA350322-20250509-000402",
        correlation_id="FJ3503222025SC28FBB248",
        msg_type="LAJD",
        timestamp="1746756312000",
        nonce="7ea02647f998cb8ea4da7c2ebc03aa49",
        body=body,
    )
    properties = facts(SAMPLES / "filing_decision-1.json")["properties"]
    headers: dict[str, Any] = signed.headers() | {"x-timestamp": 1746756312000}
    verify(POLICE_KEY, "fjga-xxxj", body, properties, headers)
    assert signed.headers() == facts(SAMPLES / "filing_decision-1.json")["headers"]


# --- inbound mapping: quirks and refusals -----------------------------------------------------


def test_the_old_gateways_bom_and_crlf_pretty_print_map_like_the_compact_body():
    sample = SAMPLES / "receipt_signed-2.json"
    document = json.loads(sample.read_bytes())
    pretty = json.dumps(document, ensure_ascii=False, indent=2).replace("\n", "\r\n")
    body = codecs.BOM_UTF8 + pretty.encode()
    assert _mapped(body, "receipt_signed") == _mapped(sample.read_bytes(), "receipt_signed")


def test_a_full_width_receiving_agency_uscc_is_folded_before_its_check():
    body = json.loads((SAMPLES / "reverse_transfer-2.json").read_bytes())
    body["toAgency"]["uscc"] = "１１３５０３２２ＭＢ１Ｐ２２１３２Ｋ"
    envelopes = _mapped(json.dumps(body, ensure_ascii=False).encode(), "reverse_transfer")
    assert envelopes[0]["case_code"] == "FJ3503222025WJD2331FA3"


@pytest.mark.parametrize(
    ("message", "body", "rule", "field"),
    [
        pytest.param(
            "receipt_signed", b'{"msgType":"QSHZ",', "malformed_json", None, id="truncated JSON"
        ),
        pytest.param(
            "receipt_signed", b"\xff\xfe{}", "undecodable", None, id="bytes that are not UTF-8"
        ),
        pytest.param(
            "receipt_signed",
            _edited("filing_decision-1.json"),
            "pattern",
            "msg_type",
            id="a filing decision on the receipt mapping",
        ),
        pytest.param(
            "receipt_signed",
            _edited("receipt_signed-1.json", signTime=None),
            "required",
            "sign_time",
            id="a receipt without its sign time",
        ),
        pytest.param(
            "receipt_signed",
            _edited("receipt_signed-1.json", sendTime="2025/05/06 15:21"),
            "datetime_format",
            "send_time",
            id="a time in another format",
        ),
        pytest.param(
            "non_filing_decision",
            _edited("non_filing_decision-1.json", reasonCode="09"),
            "unknown_code",
            "reason_code",
            id="an unknown non-filing reason (T6)",
        ),
        pytest.param(
            "reconsideration_decision",
            _edited("reconsideration_decision-2.json", filingNo=None),
            "required",
            "filing_no",
            id="a reconsideration that files without a filing number",
        ),
        pytest.param(
            "forward_notice",
            _edited("forward_notice-1.json", forwardTo={"name": "某机关", "organType": "ZZ"}),
            "unknown_code",
            "payload.to_organ.kind",
            id="an unknown organ type (T3)",
        ),
        pytest.param(
            "reverse_transfer",
            _edited(
                "reverse_transfer-2.json",
                toAgency={
                    "name": "仙游县卫生健康局",
                    "uscc": "11350322MB1P22132A",
                    "divisionCode": "350322",
                    "domain": "WJ",
                },
            ),
            "uscc_check",
            "agency_uscc",
            id="a receiving agency uscc failing GB 32100",
        ),
        pytest.param(
            "reverse_transfer",
            _edited("reverse_transfer-1.json", basisCode="07"),
            "unknown_code",
            "payload.triggered_by.rule_id",
            id="an unknown reverse transfer basis (T8)",
        ),
    ],
)
def test_bad_answers_are_refused_naming_message_field_and_rule(message, body, rule, field):
    error = _rejection(body, message)
    assert (error.system, error.message, error.rule) == ("admin_criminal", message, rule)
    if field is not None:
        assert error.field == field


def test_a_huge_answer_is_refused_unread():
    error = _rejection(
        b'{"msgType":"QSHZ","x":"' + b"a" * (9 * 1024 * 1024) + b'"}', "receipt_signed"
    )
    assert error.rule == "too_large"


# --- deadlines --------------------------------------------------------------------------------


def test_three_days_end_at_midnight_of_the_third_calendar_day_after():
    signed = dt.datetime(2025, 5, 6, 15, 20, tzinfo=SHANGHAI)
    due = end_of_day_plus.fn(signed, end_of_day_plus.params(days=3))
    assert due.isoformat() == "2025-05-09T23:59:59+08:00"
    late = dt.datetime(2025, 5, 6, 23, 59, 59, tzinfo=SHANGHAI)
    assert end_of_day_plus.fn(late, end_of_day_plus.params(days=3)) == due


def test_twenty_four_hours_are_wall_clock():
    received = dt.datetime(2025, 7, 1, 10, 15, tzinfo=SHANGHAI)
    due = plus_hours.fn(received, plus_hours.params(hours=24))
    assert due.isoformat() == "2025-07-02T10:15:00+08:00"
