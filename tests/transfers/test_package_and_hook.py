"""The Art. 6 package checks, and the runtime hook that starts the transfer loops."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from runner.bus import open_bus
from runner.project import REPO_ROOT
from runner.smcrypto import sm3_hex
from runner.stores import Database, DeadLetterStore
from runner.transfers import EvidenceFile, PackageError, TransferPackage
from runner.transfers.worker import transfer_loops


def test_a_package_without_the_items_list_or_document_numbers_is_refused() -> None:
    with pytest.raises(PackageError) as caught:
        TransferPackage.build(
            [
                ("transfer_letter", "涉嫌犯罪案件移送书（仙市监移〔2025〕4号）"),
                ("investigation_report", "调查报告"),
            ],
            [EvidenceFile("鉴定意见", "expert_opinion", b"x")],
        )
    message = str(caught.value)
    assert "missing the items_list document" in message
    assert "'调查报告' has no 文号" in message
    assert "no inspection_report" in message


def test_every_evidence_item_carries_sm3_and_sha256_of_its_bytes() -> None:
    data = "当事人询问笔录".encode()
    package = TransferPackage.build(
        [
            ("transfer_letter", "涉嫌犯罪案件移送书（仙市监移〔2025〕4号）"),
            ("investigation_report", "涉嫌犯罪案件情况的调查报告（仙市监调〔2025〕4号）"),
            ("items_list", "涉案物品清单（仙市监物〔2025〕4号）"),
        ],
        [EvidenceFile("当事人询问笔录", "party_statement", data)],
    )
    (item,) = package.evidence_items()
    assert item == {
        "name": "当事人询问笔录",
        "kind": "party_statement",
        "digest_algorithm": "sm3",
        "digest_value": sm3_hex(data),
        "size_bytes": len(data),
    }
    assert package.evidence_items("sha256")[0]["digest_value"] == hashlib.sha256(data).hexdigest()
    assert package.sha256_by_sm3() == {sm3_hex(data): hashlib.sha256(data).hexdigest()}


def test_the_runtime_hook_runs_the_loops_only_where_there_are_threshold_rules(
    tmp_path: Path,
) -> None:
    with (
        Database.open(f"sqlite:///{tmp_path / 'ebus.db'}") as db,
        open_bus(f"sqlite:///{tmp_path / 'broker.db'}") as bus,
    ):
        services = SimpleNamespace(
            project=SimpleNamespace(root=REPO_ROOT),
            db=db,
            bus=bus,
            dead_letters=DeadLetterStore(db),
        )
        loops = transfer_loops(services)
        assert loops is not None
        assert [name for name, _ in loops.threads(__import__("threading").Event())] == [
            "transfers consume",
            "transfers watch",
            "transfers relay",
        ]
        assert bus.depth("ebus.transfers") == 0
        services.project = SimpleNamespace(root=tmp_path)
        assert transfer_loops(services) is None
