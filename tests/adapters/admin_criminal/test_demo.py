"""The admin_criminal peer in the real demo (``run_demo`` with this system alone): a case over a
threshold comes in on the case feed, the transfer core proposes a transfer, the peer approves
and sends it as an officer would, the police side receives the signed package and answers, and
the transfer is ``filed``; the bad answers are dead-lettered with their rules, once each."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.admin_criminal.demo import (
    EVIDENCE,
    EXPECTED_HISTORY,
    POLICE,
    WAIT_S,
    AdminCriminalDemo,
)
from runner.adapter_api import DemoSystem, SystemCounts, sm3_hex
from runner.demo import run_demo
from runner.stores.db import Database
from runner.transfers import TransferStore
from tests.services import require_rabbitmq

HAZARDOUS = "FJ3508022025HJ68F323DF"
"""eco_env get_case_list_response-2: 3.6 t of hazardous waste dumped (HJ-XS338-02, ≥ 3 t)."""


@dataclass
class Played:
    """One demo run of this peer alone: exit code, output, the peer, and the store it left."""

    code: int
    text: str
    peer: AdminCriminalDemo
    store: Database


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    require_rabbitmq()
    peers: list[AdminCriminalDemo] = []

    def start() -> AdminCriminalDemo:
        peers.append(AdminCriminalDemo())
        return peers[-1]

    folder = tmp_path_factory.mktemp("admin_criminal_demo")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        code = run_demo(out, systems=[DemoSystem("admin_criminal", start)], cap_s=60)
    store = Database.open(f"sqlite:///{folder / 'var' / 'demo' / 'ebus.db'}", create=False)
    try:
        yield Played(code, out.getvalue(), peers[0], store)
    finally:
        store.close()


def _summary_row(text: str) -> list[int]:
    summary = text.split("\nsummary after ", 1)[1]
    row = next(line for line in summary.splitlines() if line.split()[:1] == ["admin_criminal"])
    return [int(cell) for cell in row.split()[1:]]


def test_the_demo_settles_as_expected(played: Played) -> None:
    assert played.code == 0, played.text[-3000:]
    assert "result: as expected" in played.text
    assert played.peer.problems == []


def test_the_case_over_a_threshold_is_proposed_approved_sent_received_and_filed(
    played: Played,
) -> None:
    store = TransferStore(played.store)
    (transfer,) = store.list(case_code=HAZARDOUS)
    assert transfer.transfer_id == played.peer.transfer_id
    assert transfer.status == "filed"
    assert tuple(e.status for e in store.events(transfer.transfer_id)) == EXPECTED_HISTORY
    assert transfer.record["triggered_by"]["rule_id"] == "HJ-XS338-02"
    assert transfer.record["triggered_by"]["figures"]["hazardous_waste_tonnes"] == "3.60"
    assert transfer.record["to_organ"]["name"] == POLICE
    received = next(e for e in store.events(transfer.transfer_id) if e.status == "received")
    assert received.source_system == "admin_criminal"


def test_the_police_side_receives_one_signed_package_whose_digests_match(played: Played) -> None:
    police = played.peer.police
    assert police.refused == []  # every package's HMAC-SM3 signature verified
    (package,) = police.packages
    assert package.body["transferNo"] == played.peer.transfer_id
    assert package.body["caseCode"] == HAZARDOUS
    assert package.routing_key == "fj.350802.hj"
    assert package.properties["type"] == "TRANSFER"
    digests = {item["name"]: item["digest"] for item in package.body["evidence"]}
    assert digests == {file.name: sm3_hex(file.data) for file in EVIDENCE}
    assert [d["type"] for d in package.body["documents"]] == ["YSS", "DCBG", "WPQD", "JYBG"]


def test_good_answers_are_mapped_once_and_each_bad_one_is_dead_lettered_with_its_rule(
    played: Played,
) -> None:
    _received, mapped, delivered, _retried, _dead = _summary_row(played.text)
    assert (mapped, delivered) == (5, 1)  # 2 反向移送, a stray receipt, receipt, filing; 1 package
    for line in (
        "admin_criminal inbound bad_signature: 1",
        "admin_criminal inbound malformed_json: 1",
        "admin_criminal inbound unknown_msg_type: 1",
        "admin_criminal inbound required: 1",
        "admin_criminal route UnknownTransfer: 1",
        "transfer YS-350322-2025-0004: 'received' for a transfer the bus does not know",
    ):
        assert line in played.text


def test_each_step_of_the_life_is_narrated_in_order(played: Played) -> None:
    transfer_id = played.peer.transfer_id
    steps = [
        f"闽执法 publishes eco_env case {HAZARDOUS} on the case feed",
        f"the transfer core proposes {transfer_id} (HJ-XS338-02: hazardous_waste_tonnes 3.60 ≥",
        f"the agency head approves {transfer_id} for {POLICE}",
        f"sends {transfer_id} (ebus transfers send): 4 Art. 6 documents, 2 evidence files",
        f"the police side receives {transfer_id} on fj.350802.hj: HMAC-SM3 signature verified, "
        "2 of 2 evidence digests (SM3) match",
        "a 签收回执 published three times (Q2)",
        f"{transfer_id} received, once",
        f"a 立案决定 for {transfer_id} with a forged signature",
        f"the genuine 立案决定 for {transfer_id}, from the old county gateway",
        f"{transfer_id} filed (proposed → approved → transferred → received → filed)",
    ]
    places = [played.text.find(step) for step in steps]
    assert -1 not in places, [s for s, p in zip(steps, places, strict=True) if p == -1]
    assert places == sorted(places)


class _Feeds:
    """A ``FeedPublisher`` that keeps what it is given and publishes nothing."""

    def __init__(self) -> None:
        self.published: list[Mapping[str, Any]] = []

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        self.published += envelopes


def test_without_feeds_and_a_store_only_the_police_answers_play() -> None:
    require_rabbitmq()
    peer = AdminCriminalDemo()
    try:
        assert not peer.living
        assert peer.expected_dead_letters["bad_signature"] == 0
        assert peer.expected_dead_letters["UnknownTransfer"] == 1
        assert "行刑衔接" not in " ".join(peer.intro())
        assert peer.tick(1.0) == [
            "admin_criminal: police side publishes a 反向移送 back to an agency "
            "(spec sample reverse_transfer-1)"
        ]
        assert peer.transfer_id is None
    finally:
        peer.stop()


def test_a_life_the_bus_never_answers_gives_up_and_check_reports_it(tmp_path: Path) -> None:
    require_rabbitmq()
    peer = AdminCriminalDemo()
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        feeds = _Feeds()
        peer.bind_batch(feeds)
        peer.bind_services(SimpleNamespace(db=db))
        assert peer.living
        first = peer.tick(1.0)
        assert any(f"eco_env case {HAZARDOUS} on the case feed" in n for n in first)
        (case,) = feeds.published  # the draft as the eco_env mapping makes it
        assert (case["schema"], case["case_code"]) == ("enforcement.case.v1", HAZARDOUS)
        assert case["source_system"] == "eco_env"
        peer.tick(1.5)  # from now on the life waits for a proposal
        still = peer.tick(1.0 + WAIT_S)
        assert still  # the rest of the police side's script, and nothing else
        assert all("police side publishes" in n for n in still)
        late = peer.tick(2.0 + WAIT_S)
        assert late == [
            f"admin_criminal: gave up after {WAIT_S:.0f} s waiting for a proposal for {HAZARDOUS}"
        ]
        assert peer.tick(3.0 + WAIT_S) == []  # over: nothing more is tried
        problems = peer.check(SystemCounts())
        assert late[0] in problems
        assert "admin_criminal: no transfer was proposed for the hazardous-waste case" in problems
    finally:
        peer.stop()
        db.close()


class _BrokenFeeds:
    """A ``FeedPublisher`` whose bus is gone."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        raise ConnectionError("the broker went away")


def test_a_life_that_fails_is_told_and_reported_not_raised(tmp_path: Path) -> None:
    require_rabbitmq()
    peer = AdminCriminalDemo()
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        peer.bind_batch(_BrokenFeeds())
        peer.bind_services(SimpleNamespace(db=db))
        told = "admin_criminal: the life stopped: ConnectionError: the broker went away"
        assert told in peer.tick(1.0)
        assert told in peer.check(SystemCounts())
        assert peer.tick(60.0)  # the police side's script plays on
        assert peer.transfer_id is None
    finally:
        peer.stop()
        db.close()


@pytest.mark.parametrize(
    ("elapsed", "published"),
    [
        pytest.param(0.5, 0, id="nothing before the first second"),
        pytest.param(1.0, 1, id="the first message at one second"),
        pytest.param(60.0, 6, id="all six in the end"),
    ],
)
def test_the_police_answers_go_out_one_per_step(elapsed: float, published: int) -> None:
    require_rabbitmq()
    peer = AdminCriminalDemo()
    try:
        notes = peer.tick(elapsed)
        assert len(notes) == published
        assert peer.police.depth() == published
    finally:
        peer.stop()
