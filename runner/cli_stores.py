"""Operator commands on the durable stores: ``ebus dlq …``, ``ebus audit verify``, ``ebus trace``.

Every command reads the store URL from ``--store``, else ``EBUS_STORE_URL``, else
``sqlite:///var/ebus.db``; a SQLite store that does not exist is an error, never a new empty one.
Exit codes: 0 on success, 1 when the store is unreachable, a dead letter is unknown or the audit
chain is broken, 2 on a usage error. Times are shown in China Standard Time (+08:00).

A dead letter's body may hold L3/L4 values: ``dlq show`` never prints it, ``--body-to FILE``
writes the raw bytes to a new file readable by its owner only. ``dlq replay`` is not here: it needs
the bus.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from runner.errors import ConfigError
from runner.stores.audit import AuditEvent, AuditRecord, AuditStore, VerifyReport
from runner.stores.db import DEFAULT_URL, Database, display_url
from runner.stores.dead_letters import (
    DeadLetterStore,
    DeadLetterSummary,
    StoredDeadLetter,
    letter_event,
)
from schemas.timeutil import SHANGHAI

__all__ = ["audit_app", "dlq_app", "trace_command"]

STORE_ENV = "EBUS_STORE_URL"

StoreUrl = Annotated[
    str,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        help="Store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB.",
    ),
]

dlq_app = typer.Typer(
    help="Dead letters: list, show and purge the messages the bus gave up on.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The hash-chained audit store.", no_args_is_help=True)


class StatusChoice(StrEnum):
    """The statuses ``dlq list --status`` accepts."""

    dead = "dead"
    replayed = "replayed"
    purged = "purged"


@contextmanager
def _store(url: str) -> Iterator[Database]:
    """The database at ``url``, closed on exit; exit 1 with the reason when it cannot be opened."""
    try:
        db = Database.open(url, create=False)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = (str(cause).splitlines() or [type(cause).__name__])[0]
        typer.echo(f"error: cannot open store {display_url(url)}: {reason}", err=True)
        raise typer.Exit(1) from exc
    try:
        yield db
    finally:
        db.close()


def _time(at: dt.datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds")


@dlq_app.command("list")
def dlq_list(
    status: Annotated[
        StatusChoice | None, typer.Option("--status", help="Only letters in this status.")
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="Only this system.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """List dead letters, newest first, one per line (never their bodies)."""
    with _store(store) as db:
        letters = DeadLetterStore(db).list(
            status=status.value if status else None, system=system, limit=limit
        )
    for letter in letters:
        typer.echo(_summary_line(letter))
    typer.echo(f"{len(letters)} dead letter(s) shown")


def _summary_line(letter: DeadLetterSummary) -> str:
    where = letter.destination or letter.route or "-"
    return (
        f"{letter.id}  {_time(letter.created_at)}  {letter.status:8}  {letter.stage:8}  "
        f"{letter.system}  {letter.message_type}  {where}  {letter.reason}"
    )


@dlq_app.command("show")
def dlq_show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter's id.")],
    body_to: Annotated[
        Path | None,
        typer.Option("--body-to", help="Write the raw body to this new file (mode 600)."),
    ] = None,
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """Show a dead letter: ids, reason, attempts and headers, but not its body."""
    with _store(store) as db:
        letter = DeadLetterStore(db).get(letter_id)
    if letter is None:
        typer.echo(f"error: no dead letter {letter_id}", err=True)
        raise typer.Exit(1)
    for line in _letter_lines(letter):
        typer.echo(line)
    if body_to is None:
        typer.echo(f"body:         {len(letter.body)} bytes, not shown (use --body-to FILE)")
        return
    _write_private(body_to, letter.body)
    typer.echo(f"body:         {len(letter.body)} bytes written to {body_to}")


def _letter_lines(letter: StoredDeadLetter) -> Iterator[str]:
    fields: list[tuple[str, Any]] = [
        ("id", letter.id),
        ("status", letter.status),
        ("stage", letter.stage),
        ("system", letter.system),
        ("message type", letter.message_type),
        ("route", letter.route),
        ("destination", letter.destination),
        ("source msg id", letter.source_message_id),
        ("message id", letter.message_id),
        ("case code", letter.case_code),
        ("created", _time(letter.created_at)),
        ("updated", _time(letter.updated_at)),
        ("reason", letter.reason),
        ("rule", letter.rule),
        ("field", letter.field),
    ]
    for name, value in fields:
        yield f"{name + ':':13} {'-' if value is None else value}"
    yield f"attempts:     {len(letter.attempts)}"
    for attempt in letter.attempts:
        yield f"  {_time(attempt.at)}  {attempt.code or '-'}  {attempt.error}"
    yield f"headers:      {len(letter.headers)}"
    for key, value in sorted(letter.headers.items()):
        yield f"  {key}: {json.dumps(value, ensure_ascii=False)}"


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        typer.echo(f"error: cannot create {path}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(data)


@dlq_app.command("purge")
def dlq_purge(
    letter_ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID", help="The letters to purge.")
    ] = None,
    purge_all: Annotated[
        bool, typer.Option("--all", help="Purge every letter (of --system, if given).")
    ] = False,
    system: Annotated[str | None, typer.Option("--system", help="With --all: one system.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really purge: required.")] = False,
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """Purge dead letters: wipe their bodies and headers, keep the rest as status 'purged'.

    Each purged letter is recorded in the audit chain (kind 'purged').
    """
    ids = letter_ids or []
    if bool(ids) == purge_all:
        raise typer.BadParameter("give dead letter IDs or --all, not both and not neither")
    if system and not purge_all:
        raise typer.BadParameter("--system goes with --all", param_hint="--system")
    if not yes:
        scope = f"{len(ids)} dead letter(s)" if ids else "all dead letters"
        scope += f" of {system}" if system else ""
        typer.echo(
            f"not purging {scope} without --yes (their bodies cannot be recovered)", err=True
        )
        raise typer.Exit(1)
    with _store(store) as db:
        letters = DeadLetterStore(db)
        purged = letters.purge(ids) if ids else letters.purge_all(system)
        AuditStore(db).append_many(_purged_event(letter) for letter in purged)
        done = {letter.id for letter in purged}
        unknown = [i for i in ids if i not in done and letters.get(i) is None]
    typer.echo(f"purged {len(purged)} dead letter(s)")
    for letter_id in unknown:
        typer.echo(f"error: no dead letter {letter_id}", err=True)
    if unknown:
        raise typer.Exit(1)


def _purged_event(letter: DeadLetterSummary) -> AuditEvent:
    return letter_event(letter, "purged", {"dead_letter_id": letter.id, "stage": letter.stage})


@audit_app.command("verify")
def audit_verify(store: StoreUrl = DEFAULT_URL) -> None:
    """Walk the audit chain; exit 0 when intact, 1 (with every problem) when not."""
    with _store(store) as db:
        report = AuditStore(db).verify()
    for line in _report_lines(report):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


def _report_lines(report: VerifyReport) -> Iterator[str]:
    head = f"head seq {report.head_seq} hash {report.head_hash}"
    if report.head_seq is None:
        head = "no head row"
    yield f"checked {report.records_checked} record(s); {head}"
    if report.ok:
        yield "intact"
        return
    yield (
        f"BROKEN at seq {report.first_broken_seq}: {report.changed} changed, "
        f"{report.inserted} inserted, {report.deleted} deleted"
    )
    yield from (f"  {problem}" for problem in report.problems)
    if len(report.problems) < report.changed + report.inserted + report.deleted:
        yield "  (more problems not listed)"


def trace_command(
    key: Annotated[str, typer.Argument(help="A case code, message id or source message id.")],
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """Print a message's journey: one line per audit record, oldest first."""
    with _store(store) as db:
        records = AuditStore(db).trace(key)
    if not records:
        typer.echo(f"no audit record for {key}", err=True)
        raise typer.Exit(1)
    for record in records:
        typer.echo(_trace_line(record))


def _trace_line(record: AuditRecord) -> str:
    at = record.at.astimezone(SHANGHAI).isoformat(timespec="milliseconds")
    where = " -> ".join(v for v in (record.route, record.destination) if v) or "-"
    detail = json.dumps(record.detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return (
        f"{at}  {record.kind:14} {record.system}  {record.message_type or '-'}  {where}  {detail}"
    )
