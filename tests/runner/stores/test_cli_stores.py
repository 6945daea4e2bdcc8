"""``ebus dlq``, ``ebus audit verify`` and ``ebus trace`` through the command line."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from runner.cli_stores import audit_app, dlq_app, trace_command
from runner.stores import Attempt, AuditEvent, AuditStore, Database, DeadLetter, DeadLetterStore

# The same registration as in runner/cli.py.
app = typer.Typer()
app.add_typer(dlq_app, name="dlq")
app.add_typer(audit_app, name="audit")
app.command("trace")(trace_command)

runner = CliRunner()
ID_NUMBER = "350427197511203154"
BODY = f"<SFZH>{ID_NUMBER}</SFZH>".encode() + b"\xc4\xe3"


def invoke(store_url: str, *args: str):
    return runner.invoke(app, [*args, "--store", store_url])


def put_letter(db: Database, **fields) -> str:
    values = {
        "system": "eco_env",
        "message_type": "get_penalty_decision_response",
        "stage": "route",
        "reason": "eco_env get_penalty_decision_response: payload.party.uscc: bad [uscc]",
        "rule": "uscc",
        "field": "payload.party.uscc",
        "body": BODY,
        "message_id": "M1",
        "headers": {"content-type": "application/xml", "x-source": "eco_env"},
        "attempts": (
            Attempt(at=dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC), error="HTTP 503", code="503"),
        ),
    }
    values.update(fields)
    return DeadLetterStore(db).put(DeadLetter(**values)).id


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "--help"],
        ["dlq", "list", "--help"],
        ["dlq", "show", "--help"],
        ["dlq", "purge", "--help"],
        ["audit", "verify", "--help"],
        ["trace", "--help"],
    ],
)
def test_every_store_command_has_help(command: list[str]):
    result = runner.invoke(app, command)
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_dlq_list_shows_one_line_per_letter_without_bodies(db: Database, store_url: str):
    first = put_letter(db)
    second = put_letter(db, system="credit_fj", stage="delivery", destination="credit_fj")
    result = invoke(store_url, "dlq", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(second)
    assert lines[1].startswith(first)
    assert "payload.party.uscc: bad [uscc]" in lines[1]
    assert "2 dead letter(s) shown" in result.output
    assert ID_NUMBER not in result.output


def test_dlq_list_filters_by_status_and_system(db: Database, store_url: str):
    put_letter(db)
    kept = put_letter(db, system="credit_fj")
    result = invoke(store_url, "dlq", "list", "--system", "credit_fj", "--status", "dead")
    assert result.exit_code == 0, result.output
    assert kept in result.output
    assert "1 dead letter(s) shown" in result.output


def test_dlq_show_prints_reason_attempts_and_headers_but_never_the_body(
    db: Database, store_url: str
):
    letter_id = put_letter(db)
    result = invoke(store_url, "dlq", "show", letter_id)
    assert result.exit_code == 0, result.output
    assert "payload.party.uscc: bad [uscc]" in result.output
    assert "HTTP 503" in result.output
    assert "2024-05-01T10:00:00+08:00" in result.output
    assert 'content-type: "application/xml"' in result.output
    assert f"{len(BODY)} bytes, not shown" in result.output
    assert ID_NUMBER not in result.output


def test_dlq_show_body_to_writes_the_raw_bytes_to_a_private_new_file(
    db: Database, store_url: str, tmp_path: Path
):
    letter_id = put_letter(db)
    target = tmp_path / "body.bin"
    result = invoke(store_url, "dlq", "show", letter_id, "--body-to", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == BODY
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert ID_NUMBER not in result.output
    again = invoke(store_url, "dlq", "show", letter_id, "--body-to", str(target))
    assert again.exit_code == 1
    assert "cannot create" in again.output


def test_dlq_show_of_an_unknown_id_exits_1(db: Database, store_url: str):
    result = invoke(store_url, "dlq", "show", "01HXM0000000000000000000AA")
    assert result.exit_code == 1
    assert "no dead letter 01HXM0000000000000000000AA" in result.output


def test_dlq_purge_without_yes_purges_nothing_and_exits_1(db: Database, store_url: str):
    letter_id = put_letter(db)
    result = invoke(store_url, "dlq", "purge", letter_id)
    assert result.exit_code == 1
    assert "without --yes" in result.output
    letter = DeadLetterStore(db).get(letter_id)
    assert letter is not None
    assert letter.body == BODY


def test_dlq_purge_ids_wipes_them_and_records_each_in_the_audit_chain(db: Database, store_url: str):
    gone, kept = put_letter(db), put_letter(db, message_id="M2")
    result = invoke(store_url, "dlq", "purge", gone, "--yes")
    assert result.exit_code == 0, result.output
    assert "purged 1 dead letter(s)" in result.output
    letters = DeadLetterStore(db)
    assert letters.get(gone).status == "purged"  # type: ignore[union-attr]
    assert letters.get(kept).status == "dead"  # type: ignore[union-attr]
    (record,) = AuditStore(db).trace("M1")
    assert (record.kind, record.detail) == ("purged", {"dead_letter_id": gone, "stage": "route"})


def test_dlq_purge_all_of_one_system(db: Database, store_url: str):
    put_letter(db)
    put_letter(db)
    kept = put_letter(db, system="credit_fj")
    result = invoke(store_url, "dlq", "purge", "--all", "--system", "eco_env", "--yes")
    assert result.exit_code == 0, result.output
    assert "purged 2 dead letter(s)" in result.output
    assert DeadLetterStore(db).get(kept).status == "dead"  # type: ignore[union-attr]


def test_dlq_purge_of_an_unknown_id_exits_1_after_purging_the_others(db: Database, store_url: str):
    known = put_letter(db)
    result = invoke(store_url, "dlq", "purge", known, "01HXM0000000000000000000AA", "--yes")
    assert result.exit_code == 1
    assert "purged 1 dead letter(s)" in result.output
    assert "no dead letter 01HXM0000000000000000000AA" in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--yes"], id="neither IDs nor --all"),
        pytest.param(["01HXM0000000000000000000AA", "--all", "--yes"], id="both IDs and --all"),
        pytest.param(["01HXM0000000000000000000AA", "--system", "s", "--yes"], id="--system alone"),
    ],
)
def test_dlq_purge_usage_errors_exit_2(store_url: str, args: list[str]):
    result = invoke(store_url, "dlq", "purge", *args)
    assert result.exit_code == 2


def test_audit_verify_of_an_intact_chain_exits_0_with_the_count_and_head_hash(
    db: Database, store_url: str
):
    audit = AuditStore(db)
    audit.append_many(AuditEvent(kind="received", system="eco_env") for _ in range(5))
    seq, digest = audit.head()
    result = invoke(store_url, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"checked 5 record(s); head seq {seq} hash {digest}" in result.output
    assert "intact" in result.output


def test_audit_verify_of_a_tampered_chain_exits_1_with_the_report(db: Database, store_url: str):
    AuditStore(db).append_many(AuditEvent(kind="received", system="eco_env") for _ in range(5))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ebus_audit_log SET system = 'other' WHERE seq = 2"))
        conn.execute(text("DELETE FROM ebus_audit_log WHERE seq = 5"))
    result = invoke(store_url, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at seq 2: 1 changed, 0 inserted, 1 deleted" in result.output
    assert "changed  seq 2: content does not match its hash" in result.output
    assert "deleted  seq 5" in result.output


def test_trace_prints_one_line_per_record_of_the_journey(db: Database, store_url: str):
    at = dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.UTC)
    received = AuditEvent(
        kind="received",
        at=at,
        system="eco_env",
        source_message_id="WS-1",
        message_id="M1",
        message_type="get_penalty_decision_response",
        detail={"bytes": 5123},
    )
    other = AuditEvent(kind="received", at=at, system="eco_env", message_id="M2")
    delivered = received.model_copy(
        update={
            "kind": "delivered",
            "system": "credit_fj",
            "message_type": None,
            "source_message_id": None,
            "route": "eco_env-penalties",
            "destination": "credit_fj",
            "detail": {},
        }
    )
    AuditStore(db).append_many([received, other, delivered])
    result = invoke(store_url, "trace", "M1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2024-05-01T10:00:00.000+08:00  received       eco_env  "
        'get_penalty_decision_response  -  {"bytes":5123}',
        "2024-05-01T10:00:00.000+08:00  delivered      credit_fj  -  "
        "eco_env-penalties -> credit_fj  {}",
    ]


def test_trace_of_an_unknown_key_exits_1(db: Database, store_url: str):
    result = invoke(store_url, "trace", "nothing")
    assert result.exit_code == 1
    assert "no audit record for nothing" in result.output


def test_the_store_url_comes_from_the_environment(
    db: Database, store_url: str, monkeypatch: pytest.MonkeyPatch
):
    put_letter(db)
    monkeypatch.setenv("EBUS_STORE_URL", store_url)
    result = runner.invoke(app, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert "1 dead letter(s) shown" in result.output


def test_a_missing_sqlite_store_exits_1_and_is_not_created(tmp_path: Path):
    path = tmp_path / "var" / "ebus.db"
    result = runner.invoke(app, ["audit", "verify", "--store", f"sqlite:///{path}"])
    assert result.exit_code == 1
    assert "no store at" in result.output
    assert not path.exists()


def test_an_unreachable_postgresql_store_exits_1_without_the_password():
    url = "postgresql+psycopg://ebus:s3cret@127.0.0.1:1/ebus?connect_timeout=2"
    result = runner.invoke(app, ["dlq", "list", "--store", url])
    assert result.exit_code == 1
    assert "cannot open store" in result.output
    assert "s3cret" not in result.output
