"""The demo peer of the 两法衔接 platform.

With a notice route (a test-only ``two_laws-notices`` route, which the repository does not have
yet) the runtime polls every notice once and dead-letters the one of an unknown type; the
transfer reports the workflow publishes meet the busy platform, are sent again and stored; the
peer's own check passes. Without a route it says so and expects no notice."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.two_laws import SPEC
from adapters.two_laws.demo import (
    BUSY_CALLS,
    LIVE_NOTICES,
    NOTICE_GRACE_S,
    NOTICES,
    REPORT_GRACE_S,
    TwoLawsDemo,
)
from runner.demo import AuditTally, DemoBatch
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import REPO_ROOT, load_project
from runner.registry import Registry
from runner.settings import Settings
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

NOTICE_ROUTE = {
    "id": "two_laws-notices",
    "description": "test only: supervision notices polled onto their feed",
    "from": {"system": "two_laws", "message": "fetch_notices_response"},
    "to": [{"feed": "enforcement.supervision_notice.v1"}],
}


def _config_root(root: Path) -> Path:
    """two_laws's mappings and code tables, its transfers route with a 1 s retry delay, and
    the test's notice route."""
    shutil.copytree(REPO_ROOT / "mappings" / "two_laws", root / "mappings" / "two_laws")
    codes = root / "mappings" / "codes" / "two_laws"
    shutil.copytree(REPO_ROOT / "mappings" / "codes" / "two_laws", codes)
    (root / "routes").mkdir()
    transfers = yaml.safe_load((REPO_ROOT / "routes" / "two_laws-transfers.yaml").read_text())
    transfers["to"][0]["retry"]["initial"] = "1s"
    for route in (transfers, NOTICE_ROUTE):
        text = yaml.safe_dump(route, allow_unicode=True)
        (root / "routes" / f"{route['id']}.yaml").write_text(text, encoding="utf-8")
    return root


def _reports() -> list[dict[str, Any]]:
    """The spec's transfer samples (02 transferred, 03 filed) as the workflow publishes them."""
    folder = SPECS / "systems" / "two_laws" / "samples"
    found = []
    for stem in ("submit_case-2", "submit_case-3"):
        envelope = copy.deepcopy(json.loads((folder / f"{stem}.input.json").read_bytes()))
        found.append(envelope | {"source_system": "platform"})
    return found


@pytest.fixture(scope="module")
def played(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TwoLawsDemo, Services, list[str]]]:
    tmp_path = tmp_path_factory.mktemp("two_laws_demo")
    project = load_project(_config_root(tmp_path / "config"), Registry([SPEC]))
    assert project.issues == []
    peer = TwoLawsDemo()
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"two_laws": {**SPEC.demo_config, **peer.settings}},
    )
    services = Services.open(project, settings)
    runtime = Runtime(services)
    runtime.prepare()
    runtime.start()
    notes = peer.intro()
    try:
        DemoBatch(services, runtime).publish(_reports(), dt.datetime.now(SHANGHAI))
        started = time.monotonic()
        while not peer.finished():
            notes += peer.tick(time.monotonic() - started)
            assert time.monotonic() - started < 60, notes
            time.sleep(0.05)
        time.sleep(0.5)  # the audit rows of the last answers
        yield peer, services, notes
    finally:
        runtime.shutdown()
        peer.stop()
        services.close()


def test_with_a_notice_route_every_notice_is_read_once_and_the_bad_one_dead_lettered(played):
    peer, services, notes = played
    tally = AuditTally(services.db, [])
    tally.refresh()
    counts = tally.counts["two_laws"]
    assert counts.mapped == len(NOTICES) + len(LIVE_NOTICES) - 1
    letters = services.dead_letters.list(status="dead", system="two_laws")
    assert Counter(d.rule for d in letters) == Counter(peer.expected_dead_letters)
    assert peer.expected_dead_letters == {"unknown_code": 1}
    assert any("repeats older ones" in n for n in notes)


def test_the_reports_meet_the_busy_platform_and_are_stored_in_the_end(played):
    peer, services, notes = played
    tally = AuditTally(services.db, [])
    tally.refresh()
    counts = tally.counts["two_laws"]
    assert counts.delivered == 2
    assert counts.retried >= 1
    assert [code for _key, code in peer.platform.answered()][:BUSY_CALLS] == ["9001"] * BUSY_CALLS
    assert peer.check(counts) == []
    assert any("met the busy platform" in n for n in notes)


def test_without_a_notice_route_the_peer_says_so_and_stops_waiting():
    peer = TwoLawsDemo()
    try:
        peer.tick(5.0)
        notes = peer.tick(NOTICE_GRACE_S)
        assert any("does not poll supervision notices" in n for n in notes)
        assert peer.expected_dead_letters == {}
        assert not peer.finished()  # it still waits for a transfer report
        peer.tick(REPORT_GRACE_S)
        assert peer.finished()
    finally:
        peer.stop()
