"""Every canonical sample of the specs validates and round-trips through the models unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import DeliveryOutcome, parse_envelope
from schemas.inputs import DishonestQuery, NoticeFetch, SubjectLookup
from tests.conftest import load_items, sample_files

STAMPED = {"message_id", "causation_id", "occurred_at", "received_at"}
EXPECTED = sample_files("*.expected.json")
INPUTS = sample_files("*.input.json")


def _id(path: Path) -> str:
    return f"{path.parts[-3]}/{path.name}"


def test_the_specs_hold_the_samples_the_contract_tests_need():
    assert len(EXPECTED) >= 90
    assert len(INPUTS) >= 30


@pytest.mark.parametrize("path", EXPECTED, ids=_id)
def test_expected_sample_validates_and_round_trips_unchanged(path: Path):
    for item in load_items(path):
        if "outcome" in item:
            dumped = DeliveryOutcome.model_validate(item).model_dump(mode="json")
        else:
            envelope = parse_envelope(item, draft=True)
            dumped = envelope.model_dump(mode="json", exclude=STAMPED)
        assert dumped == item


def _parse_input(item: dict[str, object]) -> dict[str, object]:
    if "schema" in item:
        return parse_envelope(item, draft=True).model_dump(mode="json", exclude_unset=True)
    for model in (DishonestQuery, NoticeFetch, SubjectLookup):
        if set(item) <= set(model.model_fields):
            return model.model_validate(item).model_dump(mode="json", exclude_unset=True)
    raise AssertionError(f"no input model has the fields {sorted(item)}")


@pytest.mark.parametrize("path", INPUTS, ids=_id)
def test_input_sample_validates_and_round_trips_unchanged(path: Path):
    for item in load_items(path):
        assert _parse_input(item) == item
