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


def main() -> None:
    """Console-script entry point."""
    app()
