"""The demo peer of 联合惩戒 in the real demo (``run_demo`` with this system alone): the platform's
case has both parties checked (the enrich step) and found dishonest, the measures applied are
stored as feedback, the feedback of a measure of another field is dead-lettered once."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from adapters.joint_punishment.demo import (
    DEMO,
    JointPunishmentDemo,
    measure_feedbacks,
    platform_case,
)
from adapters.joint_punishment.simulator import MEASURES
from runner.adapter_api import SystemCounts
from schemas import parse_envelope
from schemas.timeutil import SHANGHAI
from tests.adapters.demo_runs import run_alone, summary_row

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{14}(?:[0-9]{2}[0-9Xx])?(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    return run_alone(DEMO, tmp_path_factory, cap_s=60)


def _summary_row(text: str) -> list[int]:
    return summary_row(text, DEMO.system)


def test_the_demo_settles_as_expected(demo_text):
    code, text = demo_text
    assert code == 0, text[-3000:]
    assert "result: as expected" in text


def test_both_parties_are_checked_and_one_feedback_stored_one_refused(demo_text):
    _, text = demo_text
    _received, mapped, delivered, _retried, dead = _summary_row(text)
    assert (mapped, delivered, dead) == (2, 1, 1)
    assert "joint_punishment delivery 40005: 1" in text
    assert "both found dishonest" in text


def test_no_id_number_is_printed(demo_text):
    _, text = demo_text
    assert not ID_NUMBER.search(text)


def test_the_platform_messages_are_canonical_and_the_refused_measure_is_of_another_field():
    at = dt.datetime(2026, 5, 6, 10, 0, tzinfo=SHANGHAI)
    case = platform_case(at)
    parse_envelope(case, draft=True)
    assert [p["kind"] for p in case["payload"]["parties"]] == ["legal_person", "natural_person"]
    peer = JointPunishmentDemo()
    try:
        assert peer.expected_dead_letters == {}  # no DemoBatch: nothing scripted
        assert peer.finished()
        assert peer.check(SystemCounts()) == []
    finally:
        peer.stop()
    stored, refused = measure_feedbacks(at)
    for feedback in (stored, refused):
        parse_envelope(feedback, draft=True)
        assert feedback["source_system"] == "platform"
    fields = MEASURES["CJ061"][1]
    assert fields is not None
    assert "STHJ" in fields
    assert "SCJG" not in fields
    assert stored["payload"]["agency"]["domain"] == "HJ"
    assert refused["payload"]["agency"]["domain"] == "SC"
