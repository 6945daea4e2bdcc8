"""The publicity (公示) view and the log view mask what the contract says, and nothing else."""

from __future__ import annotations

import json

import pytest

from schemas import log_view, parse_envelope, publicity_view
from schemas.masking import mask_id_number, mask_person_name, mask_phone
from tests.conftest import SPECS, load_items

PUSH = load_items(SPECS / "systems/credit_fj/samples/penalty_push-1.input.json")
ORGANISATION, PERSON = (parse_envelope(item, draft=True) for item in PUSH)
CLUE = parse_envelope(
    load_items(SPECS / "systems/hotline_12345/samples/workorders_page-1.expected.json")[0],
    draft=True,
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("王五福", "王**"), ("李", "李")],
)
def test_a_natural_persons_name_keeps_its_first_character(name: str, masked: str):
    assert mask_person_name(name) == masked


def test_an_id_number_keeps_its_first_six_and_last_four_characters():
    assert mask_id_number("350427197511203154") == "350427********3154"


def test_a_phone_keeps_its_first_three_and_last_four_digits():
    assert mask_phone("13705912468") == "137****2468"


def test_publicity_masks_a_natural_person_party_as_the_credit_wire_sample_does():
    party = publicity_view(PERSON)["payload"]["party"]
    wire = json.loads((SPECS / "systems/credit_fj/samples/penalty_push-1.json").read_bytes())
    record = wire["records"][1]
    assert (party["name"], party["id_number"]) == (record["CF_XDR_MC"], record["CF_XDR_ZJHM"])


def test_publicity_leaves_organisations_and_their_representatives_alone():
    assert publicity_view(ORGANISATION) == ORGANISATION.model_dump(mode="json")


def test_publicity_does_not_change_the_model():
    publicity_view(PERSON)
    assert PERSON.payload.party.name == "王五福"


def test_the_log_view_masks_every_l3_value_and_keeps_l1_and_l2():
    party = log_view(PERSON)["payload"]["party"]
    assert party["id_number"] == "350427********3154"
    assert party["address"] == "***"
    assert party["name"] == "王五福"  # L2 may be logged
    assert party["division_code"] == "350427"


def test_the_log_view_masks_a_reporters_phone():
    reporter = log_view(CLUE)["payload"]["reporter"]
    assert reporter["phone"] == mask_phone(CLUE.payload.reporter.phone)
    assert CLUE.payload.reporter.phone not in json.dumps(log_view(CLUE))


def test_the_log_view_masks_the_content_of_a_sensitive_notice():
    notice = parse_envelope(
        load_items(SPECS / "systems/two_laws/samples/fetch_notices_response-1.expected.json")[0],
        draft=True,
    )
    assert notice.classification == "L4"
    assert log_view(notice)["payload"]["content"] == "***"
