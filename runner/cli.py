"""``ebus``: the command line of the enforcement bus.

Commands come in groups (``ebus schemas …``); every command has ``--help``. Exit codes: 0 on
success, 1 when the input is invalid (the reason is on stderr), 2 on a usage error.
"""

from __future__ import annotations

from collections import Counter
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer

from runner.adapter_api import RawMessage
from runner.cli_batch import batch_app
from runner.cli_stores import audit_app, dlq_app, trace_command
from runner.cli_transfers import transfers_app
from runner.errors import ConfigError, MessageRejected
from runner.validate import validate_file

__all__ = ["app", "main"]

app = typer.Typer(
    name="ebus",
    help=(
        "Integration bus of Fujian's administrative law-enforcement platform (闽执法): "
        "canonical schemas, routes, adapters and the bus runtime."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schemas_app = typer.Typer(
    help="Canonical schemas: export JSON Schema and AsyncAPI, validate canonical JSON files.",
    no_args_is_help=True,
)
app.add_typer(schemas_app, name="schemas")
app.add_typer(dlq_app, name="dlq")
app.add_typer(audit_app, name="audit")
app.command("trace")(trace_command)
app.add_typer(transfers_app, name="transfers")
app.add_typer(batch_app, name="batch")


def _version() -> str:
    return package_version("enforcement-bus")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"ebus {_version()}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Integration bus of Fujian's administrative law-enforcement platform (闽执法)."""


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write; created if missing.")],
) -> None:
    """Write JSON Schema for every canonical schema, and one AsyncAPI 3 document of the feeds.

    Layout: DIR/json-schema/<schema>.json (the published envelope), DIR/json-schema/drafts/
    (before the bus stamps ids and times), DIR/json-schema/delivery_outcome.json,
    DIR/json-schema/inputs/, and DIR/asyncapi.yaml.
    """
    from schemas.export import export_all  # noqa: PLC0415  (keeps other commands' start fast)

    written = export_all(directory, _version())
    typer.echo(f"wrote {len(written)} files under {directory}")


@schemas_app.command("list")
def schemas_list() -> None:
    """List the canonical schemas with the first line of their description."""
    from schemas import PAYLOADS  # noqa: PLC0415

    for name, model in PAYLOADS.items():
        summary = (model.__doc__ or "").strip().splitlines()[0]
        typer.echo(f"{name:38} {summary}")


@schemas_app.command("validate")
def schemas_validate(
    files: Annotated[list[Path], typer.Argument(help="JSON files: one message or an array.")],
    stamped: Annotated[
        bool,
        typer.Option(
            "--stamped",
            help="Require the bus-stamped fields (message_id, occurred_at, received_at, ...).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Validate canonical messages or delivery outcomes against their schemas.

    Each error names the file, the item, the field path and the rule, never the value.
    Exits 1 when any item is invalid.
    """
    totals: Counter[str] = Counter()
    failed = 0
    for path in files:
        report = validate_file(path, draft=not stamped)
        totals.update(report.kinds)
        if report.ok:
            if not quiet:
                typer.echo(f"ok      {path} ({report.items} item(s))")
        else:
            failed += 1
            for line in report.errors:
                typer.echo(f"invalid {line}", err=True)
    valid = len(files) - failed
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(totals.items()))
    typer.echo(f"{valid} valid, {failed} invalid file(s); items: {summary or 'none'}")
    if failed:
        raise typer.Exit(1)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=VALUE, got '{item}'", param_hint=option)
        out[name.strip()] = value
    return out


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command("transforms")
def transforms_command(
    system: Annotated[
        str | None, typer.Option(help="Also list this adapter's own transforms.")
    ] = None,
) -> None:
    """List the named transforms mapping rules can use, with their parameters."""
    from runner.mapping.transforms import TRANSFORMS  # noqa: PLC0415
    from runner.registry import default_registry  # noqa: PLC0415

    library = dict(TRANSFORMS)
    if system:
        try:
            library |= {t.name: t for t in default_registry().get(system).transforms}
        except ConfigError as exc:
            raise _fail(f"error: {exc}", 2) from None
    for name, transform in sorted(library.items()):
        params = ", ".join(
            f"{p}{'*' if p == transform.primary else ''}" for p in transform.params.model_fields
        )
        summary = " ".join(transform.doc.split())
        typer.echo(f"{name}({params}): {summary}")


@app.command("lint")
def lint(
    root: Annotated[
        Path | None, typer.Option(help="Deployment directory (default: this repository).")
    ] = None,
) -> None:
    """Load every mapping, code table, route and transfer threshold rule and report every
    problem with file and line.

    Exits 1 when there is any problem; `ebus run` refuses to start in that case.
    """
    from runner.project import REPO_ROOT, load_project  # noqa: PLC0415
    from runner.transfers.rules import load_rules  # noqa: PLC0415

    project = load_project(root or REPO_ROOT)
    rules_dir = project.root / "routes" / "transfer-rules"
    rules = load_rules(rules_dir) if rules_dir.is_dir() else None
    issues = [*project.issues, *(rules.issues if rules else [])]
    for issue in issues:
        typer.echo(str(issue))
    count = len(issues)
    typer.echo(
        f"{len(project.routes)} routes, "
        f"{len(project.inbound) + len(project.outbound)} mappings, "
        f"{len(project.codes)} code tables, "
        f"{len(rules) if rules else 0} transfer threshold rules: "
        f"{count} problem{'s' * (count != 1)}"
    )
    if count:
        raise typer.Exit(1)


@app.command("map")
def map_command(
    system: Annotated[str, typer.Argument(help="System id, e.g. eco_env.")],
    message: Annotated[str, typer.Argument(help="Message type id from the spec's table.")],
    file: Annotated[Path, typer.Argument(help="The raw wire message (exact bytes).")],
    header: Annotated[
        list[str] | None, typer.Option("--header", help="HTTP header or AMQP property NAME=VALUE.")
    ] = None,
    operation: Annotated[str | None, typer.Option(help="Operation of the call answered.")] = None,
    status: Annotated[int | None, typer.Option(help="HTTP status of a response.")] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta", help="Other transport fact KEY=VALUE (now=ISO-TIME sets the clock)."
        ),
    ] = None,
) -> None:
    """Run one raw wire message through the adapter's inbound path, with no network or broker.

    Decode, verify the signature or token where the spec demands it (demo test secrets), map,
    validate, stamp. Prints one canonical envelope per line (JSON Lines), or the delivery
    outcome of an answer. On rejection prints one line naming system, message, field and rule
    on stderr and exits 1.
    """
    import json  # noqa: PLC0415

    from runner.dryrun import map_message  # noqa: PLC0415
    from runner.project import load_project  # noqa: PLC0415

    facts = _pairs(meta, "--meta")
    if operation:
        facts["operation"] = operation
    if status is not None:
        facts["status"] = str(status)
    headers = {k.lower(): v for k, v in _pairs(header, "--header").items()}
    try:
        raw = RawMessage(body=file.read_bytes(), headers=headers, meta=facts)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from None
    try:
        result = map_message(load_project(), system, message, raw)
    except MessageRejected as exc:
        raise _fail(f"rejected: {exc}") from None
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None
    except Exception as exc:  # never a traceback, whatever the input
        raise _fail(
            f"rejected: {system} {message}: internal error {type(exc).__name__} "
            "while mapping [internal]"
        ) from None
    if result.outcome is not None:
        typer.echo(json.dumps(result.outcome.model_dump(mode="json"), ensure_ascii=False))
        return
    for envelope in result.envelopes:
        typer.echo(json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False))
    for rejection in result.rejected:
        typer.echo(f"rejected: {rejection}", err=True)
    if result.rejected:
        raise typer.Exit(1)


@app.command("render")
def render_command(
    system: Annotated[str, typer.Argument(help="System id, e.g. eco_env.")],
    message: Annotated[str, typer.Argument(help="Outbound message type id.")],
    canonical: Annotated[
        Path, typer.Argument(help="Canonical envelope JSON (one, or an array for a batch).")
    ],
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", help="Call fact KEY=VALUE: now=ISO-TIME, nonce=..., sequence=N."),
    ] = None,
    headers: Annotated[
        bool, typer.Option("--headers", help="Print the call's method, path and headers first.")
    ] = False,
) -> None:
    """Print the exact wire bytes the outbound path would send for a canonical envelope.

    `--meta now=... --meta nonce=...` fix the clock and nonce of signed calls, so a render
    reproduces a spec sample byte for byte.
    """
    import json  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from pydantic import ValidationError  # noqa: PLC0415

    from runner.dryrun import render_message  # noqa: PLC0415
    from runner.project import load_project  # noqa: PLC0415
    from schemas import describe  # noqa: PLC0415

    try:
        data = json.loads(canonical.read_bytes())
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {canonical}: {exc}", 2) from None
    items = data if isinstance(data, list) else [data]
    try:
        call = render_message(load_project(), system, message, items, _pairs(meta, "--meta"))
    except ValidationError as exc:
        raise _fail(f"rejected: {system} {message}: {describe(exc)[0]}") from None
    except MessageRejected as exc:
        raise _fail(f"rejected: {exc}") from None
    except (ConfigError, ValueError) as exc:
        raise _fail(f"error: {exc}", 2) from None
    if headers:
        typer.echo(f"{call.method} {call.path}")
        for name, value in call.headers.items():
            typer.echo(f"{name}: {value}")
        typer.echo("")
    sys.stdout.flush()
    sys.stdout.buffer.write(call.body)
    sys.stdout.buffer.flush()


@app.command("test")
def config_tests(
    path: Annotated[
        Path | None, typer.Argument(help="A *.test.yaml file or a folder (default: all).")
    ] = None,
) -> None:
    """Run the config unit tests (*.test.yaml next to mappings and routes), no broker needed.

    Prints one line per case and a diff for each failure; exits 1 when any case fails.
    """
    from runner.configtest import run_config_tests  # noqa: PLC0415
    from runner.project import load_project  # noqa: PLC0415

    project = load_project()
    results = run_config_tests(project, path.resolve() if path else None)
    for result in results:
        typer.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.file.name}: {result.name}")
        if not result.ok:
            typer.echo(result.detail)
    failed = sum(not r.ok for r in results)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed or not results:
        raise typer.Exit(1)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids to replay.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Replay every dead letter still dead.")
    ] = False,
    system: Annotated[str | None, typer.Option(help="With --all: only this system's.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Settings YAML (bus and store URLs).")
    ] = None,
) -> None:
    """Send dead letters back where they failed: inbound ones are mapped again, delivery ones
    go back to their destination's queue with a fresh attempt count. A running `ebus run`
    picks them up."""
    from runner.bus import open_bus  # noqa: PLC0415
    from runner.replay import replay  # noqa: PLC0415
    from runner.settings import load_settings  # noqa: PLC0415
    from runner.stores.audit import AuditStore  # noqa: PLC0415
    from runner.stores.db import Database  # noqa: PLC0415
    from runner.stores.dead_letters import DeadLetterStore  # noqa: PLC0415

    if not ids and not every:
        raise _fail("name dead letter ids, or --all", 2)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None
    with Database.open(settings.store, create=False) as db, open_bus(settings.bus) as bus:
        letters = DeadLetterStore(db)
        chosen = list(ids or [])
        if every:
            chosen += [s.id for s in letters.list(status="dead", system=system, limit=100_000)]
        for result in replay(bus, letters, AuditStore(db), chosen):
            if result.skipped:
                typer.echo(f"skipped  {result.letter_id}: {result.skipped}")
            else:
                typer.echo(f"replayed {result.letter_id} -> {result.queue}")


@app.command("run")
def run_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Settings YAML: bus and store URLs, system configs."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: run).")
    ] = None,
    poll: Annotated[bool, typer.Option(help="Run the pollers of polled systems.")] = True,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            help="Share the work among this many processes (one per core: a process uses "
            "one). Ordered queues get one process each; the others are shared.",
        ),
    ] = 1,
) -> None:
    """Run the bus: every route's inbound and delivery workers and the pollers, until stopped.

    Refuses to start when `ebus lint` finds a problem. Stop with Ctrl-C or SIGTERM: workers
    finish their batch, unsettled messages go back to their queues.

    With --processes N, N child processes share the queues (a child that dies is started
    again); pollers, the webhook endpoint and the schedulers run in the first one.
    """
    import contextlib  # noqa: PLC0415
    import functools  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from runner.engine.processes import Share, Supervisor  # noqa: PLC0415
    from runner.engine.serve import serve  # noqa: PLC0415
    from runner.logs import configure_logging  # noqa: PLC0415
    from runner.project import load_project  # noqa: PLC0415
    from runner.settings import load_settings  # noqa: PLC0415

    project = load_project()
    if project.issues:
        for issue in project.issues:
            typer.echo(str(issue), err=True)
        raise _fail(f"refusing to start: {len(project.issues)} config problem(s); run ebus lint")
    try:
        load_settings(config)
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None
    if processes > 1:
        configure_logging()
        Supervisor(functools.partial(serve, config, poll), processes).run(duration)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    with contextlib.suppress(KeyboardInterrupt):  # serve shuts down on the way out
        serve(config, poll, Share(), stop, project=project)


def main() -> None:
    """Console-script entry point."""
    app()
