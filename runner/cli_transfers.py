"""``ebus transfers …``: the administrative-to-criminal case transfers (行刑衔接) for operators.

::

    ebus transfers list [--status approved] [--case FJ…]
    ebus transfers show YS-350802-2025-0001
    ebus transfers overdue
    ebus transfers approve YS-350802-2025-0001 --by "局长 林某" --note "同意移送" \\
        --to-organ 龙岩市公安局新罗分局
    ebus transfers refuse  YS-350802-2025-0001 --by "局长 林某" --note "证据不足"
    ebus transfers send    YS-350802-2025-0001 --by 龙岩市新罗生态环境局 \\
        --document "transfer_letter=涉嫌犯罪案件移送书（岩新环移〔2025〕2号）" \\
        --document "investigation_report=涉嫌犯罪案件情况的调查报告（岩新环调〔2025〕2号）" \\
        --document "items_list=涉案物品清单（岩新环物〔2025〕2号）" \\
        --evidence "inspection_record=evidence/现场勘验笔录及照片.pdf"
    ebus transfers record  YS-350802-2025-0001 items_handed_over --by 龙岩市新罗生态环境局
    ebus transfers lint

The store URL comes from ``--store``, else ``EBUS_STORE_URL``, else ``sqlite:///var/ebus.db``.
The deadlines of a step count days as the settings' ``transfers:`` keys say (``--config``, else
``EBUS_CONFIG``; calendar days without either), as ``ebus run`` does.
A decision is written to the store with its audit record and its outgoing message in one
transaction; a running ``ebus run`` relays the message to the bus. ``--at`` records when the
step was taken when that was earlier than its entry (the statutory clocks start then). Exit
codes: 0 on success, 1 when the store is unreachable, the transfer unknown, the package
incomplete or the step not allowed, 2 on a usage error. Times are China Standard Time (+08:00).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from runner.errors import ConfigError, EbusError
from runner.project import REPO_ROOT
from runner.stores.db import DEFAULT_URL, Database, display_url
from runner.transfers import (
    ClockPolicy,
    EvidenceFile,
    TransferPackage,
    TransferService,
    load_rules,
)
from runner.transfers.store import ClockRow
from schemas.timeutil import SHANGHAI, to_canonical_datetime

__all__ = ["transfers_app"]

RULES_DIR = REPO_ROOT / "routes" / "transfer-rules"

transfers_app = typer.Typer(
    help="Administrative-to-criminal case transfers (行刑衔接): list, show, decide, deadlines.",
    no_args_is_help=True,
)

StoreUrl = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="EBUS_STORE_URL",
        help="Store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB.",
    ),
]
ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="EBUS_CONFIG",
        help="Settings YAML: its transfers: keys (day count, holidays) set the deadlines.",
    ),
]
By = Annotated[str, typer.Option("--by", help="Who decides (name and office).")]
Note = Annotated[str | None, typer.Option("--note", help="The reasons, as recorded.")]


def _parse_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return to_canonical_datetime(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not an ISO 8601 time") from None


At = Annotated[
    dt.datetime | None,
    typer.Option(
        "--at",
        parser=_parse_at,
        metavar="TIME",
        help="When the step was taken (ISO 8601, +08:00 when no zone); default: now.",
    ),
]


class OrganKind(StrEnum):
    """The kinds of receiving organ (canonical ``to_organ.kind``)."""

    public_security = "public_security"
    procuratorate = "procuratorate"
    supervisory_commission = "supervisory_commission"


class AgencyStep(StrEnum):
    """The later steps an agency records itself."""

    reconsideration_requested = "reconsideration_requested"
    supervision_requested = "supervision_requested"
    items_handed_over = "items_handed_over"


def _policy(config: Path | None) -> ClockPolicy:
    """The day count of the settings at ``config`` (calendar days without settings)."""
    if config is None:
        return ClockPolicy()
    from runner.settings import load_settings  # noqa: PLC0415

    try:
        return ClockPolicy.of(load_settings(config).transfers)
    except ConfigError as exc:
        raise _fail(f"settings {config}: {exc}") from None


@contextmanager
def _service(url: str, config: Path | None = None) -> Iterator[TransferService]:
    policy = _policy(config)
    try:
        db = Database.open(url, create=False)
    except (ConfigError, SQLAlchemyError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        typer.echo(f"error: cannot open store {display_url(url)}: {reason}", err=True)
        raise typer.Exit(1) from exc
    try:
        yield TransferService(db, load_rules(RULES_DIR), policy=policy)
    finally:
        db.close()


def _time(at: dt.datetime | None) -> str:
    return "-" if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@transfers_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only this case code.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """List transfers, most recently changed first, one per line."""
    with _service(store) as service:
        rows = service.store.list(status=status, case_code=case, limit=limit)
    for row in rows:
        rule = (row.record.get("triggered_by") or {}).get("rule_id") or "-"
        typer.echo(
            f"{row.transfer_id:24} {row.status:26} {row.direction:18} {row.case_code}  "
            f"{rule:12} {_time(row.updated_at)}"
        )
    typer.echo(f"{len(rows)} transfer(s)")


@transfers_app.command("show")
def show_command(
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer number.")],
    store: StoreUrl = DEFAULT_URL,
) -> None:
    """Show a transfer: its parties to the transfer, trigger, history and statutory deadlines."""
    with _service(store) as service:
        row = service.store.get(transfer_id)
        if row is None:
            raise _fail(f"no transfer {transfer_id}")
        events = service.store.events(transfer_id)
        clocks = service.store.clocks(transfer_id)
        now = service.clock()
    record = row.record
    organ = record.get("to_organ") or {}
    typer.echo(f"transfer:     {row.transfer_id} ({row.direction})")
    typer.echo(f"case code:    {row.case_code}")
    typer.echo(f"status:       {row.status}")
    typer.echo(f"from:         {(record.get('from_agency') or {}).get('name', '-')}")
    typer.echo(f"to:           {organ.get('name', '-')} {organ.get('kind', '')}".rstrip())
    typer.echo(f"offence:      {record.get('suspected_offence') or '-'}")
    trigger = record.get("triggered_by")
    if trigger:
        figures = json.dumps(trigger["figures"], ensure_ascii=False, sort_keys=True)
        typer.echo(f"triggered by: {trigger['rule_id']} {figures}")
    if record.get("source"):
        typer.echo(f"source:       {record['source']}")
    typer.echo(f"documents:    {len(record.get('documents') or [])}")
    for document in record.get("documents") or []:
        typer.echo(f"  {document['kind']:21} {document['name']}")
    typer.echo(f"evidence:     {len(record.get('evidence') or [])} item(s) with digests")
    typer.echo("history:")
    for event in events:
        note = f"  {event.note}" if event.note else ""
        typer.echo(f"  {_time(event.at)}  {event.status:26} {event.by}{note}")
    typer.echo("deadlines:")
    for clock in clocks:
        typer.echo(f"  {_clock_line(clock, now)}")


def _clock_line(clock: ClockRow, now: dt.datetime) -> str:
    if clock.closed_at is not None:
        state = "done late" if clock.overdue(now) else "done"
        state += f" {_time(clock.closed_at)}"
    else:
        state = "OVERDUE" if clock.overdue(now) else "open"
    alerted = f" (alerted {_time(clock.alerted_at)})" if clock.alerted_at else ""
    return f"{clock.key:28} due {_time(clock.due_at)}  {state}{alerted}  {clock.basis}"


@transfers_app.command("overdue")
def overdue_command(store: StoreUrl = DEFAULT_URL) -> None:
    """List every missed statutory deadline (still open, or met late); exit 0 either way."""
    with _service(store) as service:
        now = service.clock()
        clocks = service.store.overdue(now)
        statuses = {row.transfer_id: row.status for row in service.store.list(limit=100_000)}
    for clock in clocks:
        status = statuses.get(clock.transfer_id, "?")
        typer.echo(f"{clock.transfer_id:24} {status:26} {_clock_line(clock, now)}")
    typer.echo(f"{len(clocks)} missed deadline(s)")


def _decide(
    store: str,
    transfer_id: str,
    status: str,
    by: str,
    note: str | None,
    at: dt.datetime | None,
    organ: dict[str, str] | None = None,
    config: Path | None = None,
) -> None:
    with _service(store, config) as service:
        try:
            applied = service.decide(transfer_id, status, by=by, note=note, at=at, to_organ=organ)
        except EbusError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"{applied.transfer_id}: {applied.status}")


@transfers_app.command("approve")
def approve_command(
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer number.")],
    by: By,
    note: Note = None,
    to_organ: Annotated[
        str | None, typer.Option("--to-organ", help="The receiving organ, e.g. 仙游县公安局.")
    ] = None,
    organ_kind: Annotated[OrganKind, typer.Option("--organ-kind")] = OrganKind.public_security,
    at: At = None,
    store: StoreUrl = DEFAULT_URL,
    config: ConfigPath = None,
) -> None:
    """Record the agency head's approval of a proposed transfer (Decree 310 Art. 5)."""
    organ = {"name": to_organ, "kind": organ_kind.value} if to_organ else None
    _decide(store, transfer_id, "approved", by, note, at, organ, config)


@transfers_app.command("refuse")
def refuse_command(
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer number.")],
    by: By,
    note: Note = None,
    at: At = None,
    store: StoreUrl = DEFAULT_URL,
    config: ConfigPath = None,
) -> None:
    """Record the agency head's refusal (its reasons go in --note, Art. 5)."""
    _decide(store, transfer_id, "refused", by, note, at, config=config)


@transfers_app.command("record")
def record_command(
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer number.")],
    step: Annotated[AgencyStep, typer.Argument(help="The agency's step.")],
    by: By,
    note: Note = None,
    at: At = None,
    store: StoreUrl = DEFAULT_URL,
    config: ConfigPath = None,
) -> None:
    """Record a later agency step: 提请复议, 建议立案监督 or 移交涉案物品."""
    _decide(store, transfer_id, step.value, by, note, at, config=config)


def _split(option: str, text: str) -> tuple[str, str]:
    kind, sep, value = text.partition("=")
    if not sep or not kind.strip() or not value.strip():
        raise typer.BadParameter(f"'{text}' is not KIND=VALUE", param_hint=option)
    return kind.strip(), value.strip()


def _evidence(items: Sequence[str]) -> list[EvidenceFile]:
    files = []
    for item in items:
        kind, where = _split("--evidence", item)
        path = Path(where)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _fail(f"cannot read evidence file {path}: {exc.strerror}") from None
        files.append(EvidenceFile(path.stem, kind, data))
    return files


@transfers_app.command("send")
def send_command(
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer number.")],
    by: By,
    document: Annotated[
        list[str],
        typer.Option(
            "--document",
            metavar="KIND=NAME",
            help="An Art. 6 document: transfer_letter, investigation_report, items_list, "
            "inspection_report or other, its name ending with its 文号 in （）. Repeat.",
        ),
    ],
    evidence: Annotated[
        list[str] | None,
        typer.Option(
            "--evidence",
            metavar="KIND=PATH",
            help="An evidence file (its name is the file name without suffix), digested with "
            "SM3 and SHA-256; KIND as in the canonical evidence list. Repeat.",
        ),
    ] = None,
    to_organ: Annotated[
        str | None, typer.Option("--to-organ", help="The receiving organ, if not named yet.")
    ] = None,
    organ_kind: Annotated[OrganKind, typer.Option("--organ-kind")] = OrganKind.public_security,
    at: At = None,
    store: StoreUrl = DEFAULT_URL,
    config: ConfigPath = None,
) -> None:
    """Transfer an approved case (Decree 310 Art. 6): the package goes to the police side
    (admin_criminal) and the procuratorate (two_laws) through a running ``ebus run``."""
    organ = {"name": to_organ, "kind": organ_kind.value} if to_organ else None
    documents = [_split("--document", item) for item in document]
    files = _evidence(evidence or [])
    with _service(store, config) as service:
        try:
            package = TransferPackage.build(documents, files)
            applied = service.send_package(transfer_id, package, by=by, at=at, to_organ=organ)
        except EbusError as exc:
            raise _fail(str(exc)) from None
    typer.echo(
        f"{applied.transfer_id}: {applied.status} ({len(package.documents)} document(s), "
        f"{len(package.evidence)} evidence item(s))"
    )


@transfers_app.command("lint")
def lint_command() -> None:
    """Load and check every threshold rule; exit 1 when any has a problem."""
    rules = load_rules(RULES_DIR)
    for issue in rules.issues:
        typer.echo(str(issue))
    count = len(rules.issues)
    typer.echo(f"{len(rules)} threshold rules: {count} problem{'s' * (count != 1)}")
    if count:
        raise typer.Exit(1)
