"""``dbs restore create|start|show|list``: restore tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dbs.cli.follow import run_and_follow
from dbs.cli.output import console, print_json, print_table
from dbs.cli.secrets_input import database_password
from dbs.cli.state import service_as_caller
from dbs.errors import InvalidParameter
from dbs.service import restores
from dbs.service.context import ServiceContext

restore_app = typer.Typer(help="Restore tasks.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(restore_app, name="restore")


def _start(
    svc: ServiceContext, caller: Any, task_id: str, wait: bool, json_output: bool
) -> dict[str, Any]:
    task = restores.start_restore(svc, caller, task_id)
    if wait:
        job = run_and_follow(svc, task["Job"]["JobId"], quiet=json_output)
        task = restores.show_restore(svc, caller, task_id)
        task["Job"] = job
    return task


def _report(task: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(task)
    else:
        console.print(
            f"Restore task {task['RestoreTaskId']}: {task['RestoreTaskStatus']}", markup=False
        )
        job = task.get("Job") or {}
        if job.get("ErrorMessage"):
            console.print(f"  {job['ErrorCode']}: {job['ErrorMessage']}", markup=False)
        if task.get("Result"):
            for src, dst in (task["Result"].get("Restored") or {}).items():
                console.print(f"  {src} -> {dst}", markup=False)
    if task["RestoreTaskStatus"] in ("stop", "pause"):
        raise typer.Exit(1)


def _renames(pairs: list[str]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for pair in pairs:
        source, sep, new = pair.partition("=")
        if not sep or not source.strip() or not new.strip():
            raise InvalidParameter(
                f"--rename-to: {pair!r} is not SOURCE_DB=NEW_NAME, e.g. --rename-to shop=shop_copy",
                code="InvalidParameter.Rename",
            )
        renames[source.strip()] = new.strip()
    return renames


def _engine_options(
    definer: str | None, no_binlog: bool, owners: bool, with_globals: bool
) -> dict[str, object]:
    """Only the choices the caller made, so each is checked against the plan's engine."""
    chosen: dict[str, object] = {}
    if definer is not None:
        chosen["definer"] = definer
    if no_binlog:
        chosen["binlog"] = False
    if owners:
        chosen["owners"] = True
    if with_globals:
        chosen["globals"] = True
    return chosen


@restore_app.command("create")
def create(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    backup_set: Annotated[str, typer.Option("--backup-set", help="The set to restore.")],
    target: Annotated[str, typer.Option("--target", help="Where to restore (URL).")],
    objects: Annotated[
        str | None, typer.Option("--objects", help="db, db.table ...; default everything.")
    ] = None,
    conflict: Annotated[
        str, typer.Option("--conflict", help="renamenew (default) or overwrite.")
    ] = "renamenew",
    rename_to: Annotated[
        list[str] | None,
        typer.Option(
            "--rename-to",
            help="SOURCE_DB=NEW_NAME: restore a database under another name (repeat).",
        ),
    ] = None,
    verify: Annotated[
        str,
        typer.Option(
            "--verify",
            help="content (default): read every restored table back and compare row counts "
            "and content hashes with the backup; rows: compare row counts only (faster).",
        ),
    ] = "content",
    definer: Annotated[
        str | None,
        typer.Option(
            "--definer",
            help="MySQL: keep the views', routines', triggers' and events' definers (keep, "
            "the default) or make the restoring account their definer (current).",
        ),
    ] = None,
    no_binlog: Annotated[
        bool,
        typer.Option(
            "--no-binlog",
            help="MySQL: keep the loaded rows out of the target's binary log (faster, as "
            "myloader's default; replicas of the target will not get them; needs SUPER or "
            "BINLOG ADMIN).",
        ),
    ] = False,
    owners: Annotated[
        bool,
        typer.Option(
            "--owners",
            help="PostgreSQL: keep owners and grants (the roles must exist on the target).",
        ),
    ] = False,
    with_globals: Annotated[
        bool,
        typer.Option(
            "--globals",
            help="PostgreSQL: first replay roles and tablespaces (whole-instance backups).",
        ),
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="File holding the target password.")
    ] = None,
    ask_password: Annotated[bool, typer.Option("--ask-password")] = False,
    start: Annotated[bool, typer.Option("--start", help="Start it right away.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --start: run it here.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Create a restore task (CreateRestoreTask)."""
    password = database_password(
        password_file, ask_password, "DBS_TARGET_PASSWORD", "--password-file"
    )
    with service_as_caller(ctx) as (svc, caller):
        task = restores.create_restore(
            svc,
            caller,
            plan_id,
            backup_set_id=backup_set,
            target_url=target,
            password=password,
            objects=objects,
            conflict=conflict,
            rename=_renames(rename_to or []),
            verify=verify,
            engine_options=_engine_options(definer, no_binlog, owners, with_globals),
        )
        if start or wait:
            task = _start(svc, caller, task["RestoreTaskId"], wait, json_output)
    if not (start or wait) and not json_output:
        console.print(
            f"RestoreTaskId: {task['RestoreTaskId']}. Start it: dbs restore start "
            f"{task['RestoreTaskId']} --wait",
            markup=False,
        )
        return
    _report(task, json_output)


@restore_app.command("start")
def start(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="TASK")],
    wait: Annotated[bool, typer.Option("--wait", help="Run it here and show progress.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Start a restore task (StartRestoreTask)."""
    with service_as_caller(ctx) as (svc, caller):
        task = _start(svc, caller, task_id, wait, json_output)
    _report(task, json_output)


@restore_app.command("show")
def show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="TASK")],
    json_output: JsonFlag = False,
) -> None:
    """One restore task, with its job's progress and log."""
    with service_as_caller(ctx) as (svc, caller):
        task = restores.show_restore(svc, caller, task_id)
    if json_output:
        print_json(task)
        return
    _report(task, False)


@restore_app.command("list")
def list_(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Restore tasks (DescribeRestoreTaskList)."""
    with service_as_caller(ctx) as (svc, caller):
        rows = restores.list_restores(svc, caller)
    if json_output:
        print_json(rows)
        return
    print_table(
        rows,
        [
            "RestoreTaskId",
            "BackupPlanId",
            "BackupSetId",
            "RestoreTaskStatus",
            "DestinationEndpoint",
        ],
        empty="No restore tasks.",
    )
