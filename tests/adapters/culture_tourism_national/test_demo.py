"""The demo peer drives its jobs through the runtime: the sample day is archived, the jobs run
through the batch path, and their messages show in the progress table and the dead letters."""

from __future__ import annotations

import re

import pytest

from adapters.culture_tourism_national.demo import DEMO
from runner.adapter_api import SystemCounts
from tests.adapters.demo_runs import run_alone, summary_row

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{14}(?:[0-9]{2}[0-9Xx])?(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def demo_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    return run_alone(DEMO, tmp_path_factory, cap_s=60)


def _summary_row(text: str) -> list[int]:
    return summary_row(text, DEMO.system)


def test_the_demo_runs_the_jobs_through_the_runtime_and_ends_as_expected(demo_text):
    code, text = demo_text
    assert code == 0, text[-3000:]
    assert "result: as expected" in text
    assert "daily_upload" in text
    assert ": PARTIAL (5 records)" in text  # the archived day went into the package


def test_the_jobs_messages_are_counted_and_the_bad_ones_dead_lettered(demo_text):
    _, text = demo_text
    received, mapped, delivered, retried, dead = _summary_row(text)
    # delivered: the package (received by the ministry) and the 4 records it accepted
    assert (mapped, delivered, retried, dead) == (3, 5, 0, 3)
    # the download, its refused entry, the corrupt download; the upload's and the query's answers
    assert received == 5
    assert "culture_tourism_national delivery E103: 1" in text  # the decision it refused
    assert "culture_tourism_national inbound sha256_mismatch: 1" in text
    assert "culture_tourism_national inbound unknown_code: 1" in text
    assert not ID_NUMBER.search(text)  # the 15-digit ID number of an entry is never printed


def test_a_peer_left_without_the_batch_runner_plays_nothing():
    peer = DEMO.start()
    try:
        assert peer.tick(10.0) == []
        assert not peer.finished()
        assert peer.check(SystemCounts(mapped=3)) != []  # its runs are missing
    finally:
        peer.stop()
