"""``dbs check``, ``dbs prune`` and ``dbs key export|rotate``: the backup repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dbs.cli.output import console, print_json
from dbs.cli.secrets_input import read_secret_file
from dbs.cli.state import service_as_caller
from dbs.service import keys, maintenance

key_app = typer.Typer(help="The repository key.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("prune")(prune)
    app.add_typer(key_app, name="key")


def check(
    ctx: typer.Context,
    read_data: Annotated[
        bool, typer.Option("--read-data", help="Also read, decrypt and verify every chunk.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Verify the repository: every backup set's chunks indexed and present (and intact)."""
    with service_as_caller(ctx) as (svc, caller):
        reports = maintenance.check(svc, caller, read_data=read_data)
    ok = all(report.ok for _, report in reports)
    if json_output:
        print_json(
            [
                {
                    "Repository": name,
                    "Ok": report.ok,
                    "Problems": [p.line() for p in report.problems],
                    "DamagedBackupSets": sorted(report.damaged_sets),
                    "Warnings": report.warnings,
                }
                for name, report in reports
            ]
        )
    else:
        for name, report in reports:
            for line in report.lines():
                console.print(f"[{name}] {line}", markup=False)
    if not ok:
        raise typer.Exit(1)


def prune(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be done.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Remove data no backup set references (repacking partly used packs)."""
    with service_as_caller(ctx) as (svc, caller):
        reports = maintenance.prune(svc, caller, dry_run=dry_run)
    if json_output:
        print_json([{"Repository": name, "Report": report.lines()} for name, report in reports])
        return
    for name, report in reports:
        for line in report.lines():
            console.print(f"[{name}] {line}", markup=False)


@key_app.command("export")
def key_export(
    ctx: typer.Context,
    to: Annotated[Path, typer.Option("--to", help="File to write (mode 0600).")],
    json_output: JsonFlag = False,
) -> None:
    """Write the wrapped repository key and recovery instructions to a file."""
    with service_as_caller(ctx) as (svc, caller):
        result = keys.export_key(svc, caller, to)
    if json_output:
        print_json(result)
        return
    console.print(
        f"Wrote the wrapped key of repository {result['RepositoryId']} to {to}.", markup=False
    )
    console.print(
        f"To open the backups you also need {result['AlsoNeeded']}: keep it apart from this file.",
        markup=False,
    )


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", help="Wrap with this passphrase instead of a key file."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Re-wrap the master key (new key file, or a passphrase) without rewriting data."""
    passphrase = read_secret_file(passphrase_file, "--passphrase-file") if passphrase_file else None
    with service_as_caller(ctx) as (svc, caller):
        result = keys.rotate_key(svc, caller, passphrase=passphrase)
    if json_output:
        print_json(result)
        return
    console.print(
        f"The key of repository {result['RepositoryId']} is now wrapped by a "
        f"{result['WrappedBy']}. Export it again: dbs key export --to FILE",
        markup=False,
    )
