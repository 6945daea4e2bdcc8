"""``ebus transfers …`` and ``ebus trace`` on a store the service wrote."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import CliRunner

from runner.cli import app
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
