"""``ebus transfers …`` and ``ebus trace`` on a store the service wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app
from runner.cli_transfers import _service as transfer_service
from runner.smcrypto import sm3_hex
from runner.stores import Database
from runner.transfers import TransferService
from tests.transfers.conftest import Clock, sample

runner = CliRunner()


def _propose(store_url: str, make_service: Callable[[Database], TransferService]) -> str:
    with Database.open(store_url) as db:
        (transfer_id,) = make_service(db).handle(
            sample("eco_env/samples/get_case_list_response-2.expected.json")
        )  # type: ignore[misc]
    return str(transfer_id)


def test_approve_show_list_and_trace_a_proposed_transfer(
    store_url: str, make_service: Callable[[Database], TransferService]
) -> None:
    transfer_id = _propose(store_url, make_service)
    store = ["--store", store_url]
    approved = runner.invoke(
        app,
        [
            "transfers",
            "approve",
            transfer_id,
            "--by",
            "局长 林某",
            "--note",
            "同意移送",
            "--to-organ",
            "龙岩市公安局新罗分局",
            *store,
        ],
    )
    assert approved.exit_code == 0, approved.output
    assert f"{transfer_id}: approved" in approved.output

    shown = runner.invoke(app, ["transfers", "show", transfer_id, *store])
    assert shown.exit_code == 0, shown.output
    assert "HJ-XS338-02" in shown.output
    assert '"hazardous_waste_tonnes": "3.60"' in shown.output
    assert "龙岩市公安局新罗分局 public_security" in shown.output
    assert "transfer_to_police" in shown.output
    assert "第五条第二款" in shown.output

    listed = runner.invoke(app, ["transfers", "list", "--status", "approved", *store])
    assert transfer_id in listed.output
    assert "1 transfer(s)" in listed.output

    traced = runner.invoke(app, ["trace", "FJ3508022025HJ68F323DF", *store])
    assert traced.exit_code == 0
    assert "transfer.proposed" in traced.output
    assert "transfer.approved" in traced.output


def test_an_illegal_step_exits_1_with_the_reason(
    store_url: str, make_service: Callable[[Database], TransferService]
) -> None:
    transfer_id = _propose(store_url, make_service)
    store = ["--store", store_url]
    refused = runner.invoke(
        app, ["transfers", "refuse", transfer_id, "--by", "局长", "--note", "证据不足", *store]
    )
    assert refused.exit_code == 0
    again = runner.invoke(app, ["transfers", "approve", transfer_id, "--by", "局长", *store])
    assert again.exit_code == 1
    assert "'approved' is not allowed from 'refused'" in again.output
    unknown = runner.invoke(app, ["transfers", "show", "YS-000000-2025-9999", *store])
    assert unknown.exit_code == 1
    assert "no transfer" in unknown.output


def test_overdue_lists_the_missed_approval_deadline(
    store_url: str, make_service: Callable[[Database], TransferService], clock: Clock
) -> None:
    _propose(store_url, make_service)  # proposed 2025-06-03: the approval was due 2025-06-06
    result = runner.invoke(app, ["transfers", "overdue", "--store", store_url])
    assert result.exit_code == 0
    assert "approval_decision" in result.output
    assert "OVERDUE" in result.output
    assert "1 missed deadline(s)" in result.output


def test_lint_checks_the_threshold_rules() -> None:
    result = runner.invoke(app, ["transfers", "lint"])
    assert result.exit_code == 0, result.output
    assert "18 threshold rules: 0 problems" in result.output


def _send_args(transfer_id: str, evidence: Path, *documents: str) -> list[str]:
    args = ["transfers", "send", transfer_id, "--by", "龙岩市新罗生态环境局"]
    for document in documents:
        args += ["--document", document]
    return [*args, "--evidence", f"inspection_record={evidence}"]


DOCUMENTS = (
    "transfer_letter=涉嫌犯罪案件移送书（岩新环移〔2025〕2号）",
    "investigation_report=涉嫌犯罪案件情况的调查报告（岩新环调〔2025〕2号）",
    "items_list=涉案物品清单（岩新环物〔2025〕2号）",
)


def test_send_transfers_an_approved_case_with_its_package_at_the_time_given(
    store_url: str, make_service: Callable[[Database], TransferService], tmp_path: Path
) -> None:
    transfer_id = _propose(store_url, make_service)
    store = ["--store", store_url]
    approve = ["transfers", "approve", transfer_id, "--by", "局长 林某", "--to-organ", "新罗分局"]
    assert runner.invoke(app, [*approve, "--at", "2025-06-03T16:00:00", *store]).exit_code == 0
    evidence = tmp_path / "现场勘验笔录及照片.pdf"
    evidence.write_bytes(b"%PDF-1.7 record")
    at = ["--at", "2025-06-03T17:30:00+08:00"]
    sent = runner.invoke(app, [*_send_args(transfer_id, evidence, *DOCUMENTS), *at, *store])
    assert sent.exit_code == 0, sent.output
    assert f"{transfer_id}: transferred (3 document(s), 1 evidence item(s))" in sent.output
    with Database.open(store_url) as db:
        service = make_service(db)
        events = {e.status: e.at for e in service.store.events(transfer_id)}
        record = service.store.get(transfer_id).record  # type: ignore[union-attr]
    assert events["approved"].isoformat() == "2025-06-03T08:00:00+00:00"
    assert events["transferred"].isoformat() == "2025-06-03T09:30:00+00:00"
    (item,) = record["evidence"]
    assert item["name"] == "现场勘验笔录及照片"
    assert item["digest_value"] == sm3_hex(b"%PDF-1.7 record")


def test_send_refuses_an_incomplete_package_and_a_malformed_option(
    store_url: str, make_service: Callable[[Database], TransferService], tmp_path: Path
) -> None:
    transfer_id = _propose(store_url, make_service)
    store = ["--store", store_url]
    evidence = tmp_path / "record.pdf"
    evidence.write_bytes(b"%PDF")
    incomplete = runner.invoke(app, [*_send_args(transfer_id, evidence, *DOCUMENTS[:2]), *store])
    assert incomplete.exit_code == 1
    assert "missing the items_list document" in incomplete.output
    malformed = runner.invoke(app, [*_send_args(transfer_id, evidence, "transfer_letter"), *store])
    assert malformed.exit_code == 2
    assert "is not KIND=VALUE" in malformed.output
    bad_time = runner.invoke(
        app, ["transfers", "refuse", transfer_id, "--by", "局长", "--at", "yesterday", *store]
    )
    assert bad_time.exit_code == 2
    assert "not an ISO 8601 time" in bad_time.output
    organ = ["--to-organ", "新罗分局"]
    not_approved = runner.invoke(
        app, [*_send_args(transfer_id, evidence, *DOCUMENTS), *organ, *store]
    )
    assert not_approved.exit_code == 1
    assert "'transferred' is not allowed from 'proposed'" in not_approved.output


def test_the_steps_count_days_as_the_settings_say(
    store_url: str, make_service: Callable[[Database], TransferService], tmp_path: Path
) -> None:
    _propose(store_url, make_service)
    settings = tmp_path / "ebus.yaml"
    settings.write_text("transfers: {day_count: working, holidays: [2025-10-01]}\n", "utf-8")
    with transfer_service(store_url, settings) as service:
        assert service.policy.days == "working"
        assert service.policy.holidays == {dt.date(2025, 10, 1)}
    with transfer_service(store_url, None) as service:
        assert service.policy.days == "calendar"


def test_a_broken_settings_file_exits_1_naming_it(
    store_url: str, make_service: Callable[[Database], TransferService], tmp_path: Path
) -> None:
    transfer_id = _propose(store_url, make_service)
    settings = tmp_path / "ebus.yaml"
    settings.write_text("transfers: {day_count: lunar}\n", "utf-8")
    result = runner.invoke(
        app,
        ["transfers", "refuse", transfer_id, "--by", "局长", "--store", store_url,
         "--config", str(settings)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert str(settings) in result.output
