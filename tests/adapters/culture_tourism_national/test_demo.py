"""The demo peer plays its script against the simulator and checks what the jobs did."""

from __future__ import annotations

from adapters.culture_tourism_national.demo import DEMO
from runner.adapter_api import SystemCounts


def test_the_demo_script_runs_the_three_job_runs_and_finds_no_problem():
    peer = DEMO.start()
    try:
        assert not peer.finished()
        notes = [line for t in (1.0, 2.0, 3.0) for line in peer.tick(t)]
        assert len(notes) == 3
        assert "refused whole [sha256_mismatch]" in notes[1]
        assert peer.finished()
        assert peer.check(SystemCounts()) == []
        assert all("350502" not in line for line in notes)  # no ID number narrated
    finally:
        peer.stop()
