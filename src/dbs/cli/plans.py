"""``dbs plan ...``: backup plans (DBS backup schedules)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from dbs.cli.output import console, print_fields, print_json, print_table
from dbs.cli.secrets_input import database_password
from dbs.cli.state import service_as_caller
from dbs.engines.base import PrecheckItem
from dbs.service import plans
from dbs.service.retention import apply_retention_command

plan_app = typer.Typer(help="Backup plans (DBS backup schedules).", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
_STATE_STYLE = {"finish": "green", "warning": "yellow", "failed": "red"}


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")


def _print_plan(plan: dict[str, object], json_output: bool) -> None:
    if json_output:
        print_json(plan)
        return
    shown = {k: v for k, v in plan.items() if k != "PrecheckItems"}
    print_fields(shown)


@plan_app.command("create")
def create(
    ctx: typer.Context,
    engine: Annotated[str, typer.Option("--engine", help="postgresql, mysql, redis or sqlite.")],
    plan_class: Annotated[
        str, typer.Option("--class", help="micro, small, medium, large or xlarge.")
    ],
    method: Annotated[str, typer.Option("--method", help="Backup method.")] = "logical",
    name: Annotated[str | None, typer.Option("--name", help="A name for people.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Purchase a backup plan (CreateBackupPlan); it starts in state 'wait'."""
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.create_plan(
            svc, caller, engine=engine, method=method, plan_class=plan_class, name=name
        )
    if json_output:
        print_json(plan)
        return
    console.print(
        f"BackupPlanId: {plan['BackupPlanId']} (status {plan['BackupPlanStatus']})", markup=False
    )
    console.print(f"Next: dbs plan configure {plan['BackupPlanId']} --source URL ...", markup=False)


@plan_app.command("configure")
def configure(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    source: Annotated[str, typer.Option("--source", help="Database URL, without a password.")],
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="File holding the source password.")
    ] = None,
    ask_password: Annotated[
        bool, typer.Option("--ask-password", help="Prompt for the source password.")
    ] = False,
    objects: Annotated[
        str | None,
        typer.Option("--objects", help="db, db.table, db.schema.table; '!' excludes. Default all."),
    ] = None,
    days: Annotated[str | None, typer.Option("--days", help="e.g. Mon,Wed,Fri")] = None,
    start: Annotated[str | None, typer.Option("--start", help="HH:MM, 24-hour")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone.")] = "UTC",
    manual: Annotated[bool, typer.Option("--manual", help="On-demand backups only.")] = False,
    retention_days: Annotated[int, typer.Option("--retention-days", help="0-1825")] = 730,
    keep_at_least: Annotated[
        int, typer.Option("--keep-at-least", help="The newest N sets are never removed.")
    ] = 1,
    log_backup: Annotated[bool, typer.Option("--log-backup", help="Also back up logs.")] = False,
    no_encryption: Annotated[
        bool, typer.Option("--no-encryption", help="Store this plan's backups unencrypted.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Configure a plan (ConfigureBackupPlan): source, objects, schedule, retention."""
    password = database_password(
        password_file, ask_password, "DBS_SOURCE_PASSWORD", "--password-file"
    )
    config = plans.PlanConfiguration(
        source_url=source,
        password=password,
        objects=objects,
        days=days,
        start=start,
        timezone=timezone,
        manual=manual,
        retention_days=retention_days,
        keep_at_least=keep_at_least,
        log_backup=log_backup,
        encryption=not no_encryption,
    )
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.configure_plan(svc, caller, plan_id, config)
    if json_output:
        print_json(plan)
        return
    console.print(f"Configured {plan_id}. Next: dbs plan start {plan_id}", markup=False)


@plan_app.command("start")
def start(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    json_output: JsonFlag = False,
) -> None:
    """Precheck the plan, then arm its schedule (StartBackupPlan)."""

    def show(item: PrecheckItem) -> None:
        if json_output:
            return
        style = _STATE_STYLE.get(item.state, "white")
        console.print(f"  [{style}]{item.state:8}[/{style}] {item.item}: {item.message}")
        if item.fix and item.state != "finish":
            console.print(f"           fix: {item.fix}", markup=False)

    if not json_output:
        console.print("Precheck:", markup=False)
    # The engine checks every item before any is shown; a spinner says it is working.
    busy = console.status("checking the source …") if not json_output else nullcontext()
    with service_as_caller(ctx) as (svc, caller), busy:
        plan = plans.start_plan(svc, caller, plan_id, on_item=show)
    if json_output:
        print_json(plan)
        return
    console.print(f"Plan {plan_id} is {plan['BackupPlanStatus']}.", markup=False)
    if plan["NextBackupTime"]:
        console.print(f"Next full backup: {plan['NextBackupTime']}", markup=False)


@plan_app.command("stop")
def stop(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="ALL (default): pause the schedule and stop the plan's queued and running "
            "backups and restores; PLAN: pause the schedule only.",
        ),
    ] = "ALL",
) -> None:
    """Pause the plan (StopBackupPlan); 'dbs plan start' resumes the schedule."""
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.stop_plan(svc, caller, plan_id, method.upper())
    console.print(f"Plan {plan_id} is {plan['BackupPlanStatus']}.", markup=False)
    for job_id in plan["StoppedJobs"]:
        console.print(f"Stopping job {job_id}: 'dbs job show {job_id}' follows it.", markup=False)


@plan_app.command("show")
def show(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    json_output: JsonFlag = False,
) -> None:
    """One plan's configuration and state."""
    with service_as_caller(ctx) as (svc, caller):
        _print_plan(plans.show_plan(svc, caller, plan_id), json_output)


@plan_app.command("list")
def list_(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Backup plans (DescribeBackupPlanList)."""
    with service_as_caller(ctx) as (svc, caller):
        rows = plans.list_plans(svc, caller)
    if json_output:
        print_json(rows)
        return
    print_table(
        rows,
        [
            "BackupPlanId",
            "BackupPlanName",
            "SourceEndpointInstanceType",
            "InstanceClass",
            "BackupPlanStatus",
            "LastBackupTime",
            "NextBackupTime",
        ],
        empty="No backup plans: dbs plan create --engine ENGINE --class CLASS",
    )


@plan_app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    plan_class: Annotated[str, typer.Option("--class", help="A larger class.")],
    json_output: JsonFlag = False,
) -> None:
    """Move a plan to a larger class (UpgradeBackupPlan); never downward."""
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.upgrade_plan(svc, caller, plan_id, plan_class)
    if json_output:
        print_json(plan)
    else:
        console.print(f"Plan {plan_id} is now {plan['InstanceClass']}.", markup=False)


@plan_app.command("release")
def release(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    delete_backups: Annotated[
        bool, typer.Option("--delete-backups", help="Also delete the plan's backup sets.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Release (delete) a plan; its backup sets stay until retention removes them."""
    if delete_backups and not yes:
        typer.confirm(f"Delete every backup set of {plan_id}? This cannot be undone", abort=True)
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.release_plan(svc, caller, plan_id, delete_backups=delete_backups)
    print_json(plan) if json_output else console.print(f"Released {plan_id}.", markup=False)


@plan_app.command("apply-retention")
def apply_retention(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    json_output: JsonFlag = False,
) -> None:
    """Remove the plan's expired backup sets now (the server does this daily)."""
    with service_as_caller(ctx) as (svc, caller):
        result = apply_retention_command(svc, caller, plan_id)
    if json_output:
        print_json(result)
        return
    removed = result["Removed"]
    console.print(
        f"Removed {len(removed)} expired backup set(s): {', '.join(removed) or '-'}", markup=False
    )
