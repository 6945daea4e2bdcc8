"""The demo peer of 12345 in the real demo (``run_demo`` with this system alone): two poll
cycles read every work order once, each good dispatch is accepted (after the planned 429), the
complaint checks go back as feedback, and each bad message gives exactly its dead letter."""

from __future__ import annotations

import re

import pytest

from adapters.hotline_12345.demo import BACKLOG, DEMO, LIVE, Hotline12345Demo
from runner.adapter_api import SystemCounts
from tests.adapters.demo_runs import run_alone, summary_row

PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    return run_alone(DEMO, tmp_path_factory, cap_s=75)


def _summary_row(text: str) -> list[int]:
    return summary_row(text, DEMO.system)


def test_the_demo_settles_as_expected(demo_text):
    code, text = demo_text
    assert code == 0, text[-3000:]
    assert "result: as expected" in text


def test_each_dispatch_is_read_once_and_each_good_one_accepted(demo_text):
    _, text = demo_text
    received, mapped, delivered, retried, dead = _summary_row(text)
    dispatches = len(BACKLOG) + 1 + 2 + 2 + len(LIVE)  # + re-push, re-dispatch (2), refused (2)
    assert received == dispatches
    assert mapped == len(BACKLOG) + 2 + len(LIVE)  # the re-push is the same clue
    assert delivered == len(BACKLOG) + 1 + len(LIVE) + 2  # accepts, and two feedbacks
    assert retried >= 1  # the 429 held the key
    assert dead == 4
    assert "re-reads recognised as duplicates (one message id each): hotline_12345 1" in text


def test_every_bad_message_is_dead_lettered_with_its_rule(demo_text):
    _, text = demo_text
    for rule in ("inbound unknown_code", "inbound uscc_check", "delivery 2005", "delivery length"):
        assert f"hotline_12345 {rule}: 1" in text


def test_the_script_is_narrated_and_no_phone_is_printed(demo_text):
    _, text = demo_text
    assert "call with HTTP 429: no request with the key for 2 s" in text
    assert "办结反馈 stored for" in text
    assert not PHONE.search(text)


def test_without_a_demo_batch_there_is_no_feedback_to_expect():
    peer = Hotline12345Demo()
    try:
        assert peer.expected_dead_letters == {"unknown_code": 1, "uscc_check": 1, "2005": 1}
        assert "办结反馈" not in peer.intro()[0]
        assert not peer.finished()  # nothing polled yet
        assert peer.check(SystemCounts()) != []
    finally:
        peer.stop()
