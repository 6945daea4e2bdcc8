"""The demo peer of 互联网+监管 in the real demo (``run_demo`` with this system alone): the
platform's records reach the service, the planned R09 is resent and stored, the planned R03 is
dead-lettered once, the maintenance window is retried, and the peer's own check passes."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.ip_supervision._transforms import load_supervision_items
from adapters.ip_supervision.demo import DEMO, IpSupervisionDemo, platform_records
from runner.adapter_api import SystemCounts
from schemas import parse_envelope
from schemas.timeutil import SHANGHAI
from tests.adapters.demo_runs import run_alone, summary_row


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    return run_alone(DEMO, tmp_path_factory, cap_s=60)


def _summary_row(text: str) -> list[int]:
    return summary_row(text, DEMO.system)


def test_the_demo_settles_as_expected(demo_text):
    code, text = demo_text
    assert code == 0, text[-3000:]
    assert "result: as expected" in text


def test_every_platform_record_is_stored_but_the_refused_one(demo_text):
    _, text = demo_text
    received, mapped, delivered, retried, dead = _summary_row(text)
    records = 2 * len(platform_records(0, dt.datetime.now(SHANGHAI)))
    assert (received, mapped, delivered, dead) == (0, 0, records - 1, 1)
    assert retried >= 2  # the R09 record, and the records of a call in the maintenance window
    assert "ip_supervision delivery R03: 1" in text


def test_the_script_is_narrated_as_it_plays(demo_text):
    _, text = demo_text
    assert "answered R03" in text
    assert "answered R09" in text
    assert "stored when resent" in text
    assert "calls got the Fault)" in text
    assert "maintenance over (0 calls" not in text


def test_the_platform_records_are_canonical_and_their_supervision_items_are_mapped():
    records = platform_records(1, dt.datetime(2026, 5, 6, 10, 0, tzinfo=SHANGHAI))
    table = load_supervision_items()
    for record in records:
        parse_envelope(record, draft=True)
        payload = record["payload"]
        agency = payload["agency"]["domain"]
        if "decision_no" in payload:
            assert (agency, "XZCF", payload["violation_type"]) in table
        else:
            assert (agency, "XZJC", payload["items"][0]["code"]) in table
    numbers = [r["payload"].get("decision_no") or r["payload"]["inspection_id"] for r in records]
    assert len(set(numbers)) == len(records)
    assert {r["source_system"] for r in records} == {"platform"}


def test_without_a_demo_batch_the_peer_only_answers():
    peer = IpSupervisionDemo()
    try:
        assert peer.tick(30.0) == []
        assert peer.finished()
        assert dict(peer.expected_dead_letters) == {"no_supervision_item": range(0, 100_000)}
        assert peer.check(SystemCounts()) == []
        assert "other systems" in peer.intro()[0]
    finally:
        peer.stop()
