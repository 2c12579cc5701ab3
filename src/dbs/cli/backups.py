"""``dbs backup run|list`` and ``dbs job show``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dbs.cli.follow import run_and_follow
from dbs.cli.output import console, print_fields, print_json, print_table
from dbs.cli.state import service_as_caller
from dbs.service import jobs

backup_app = typer.Typer(help="Full backups and backup sets.", no_args_is_help=True)
job_app = typer.Typer(help="Backup and restore jobs.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.add_typer(job_app, name="job")


def print_job(job: dict[str, Any]) -> None:
    log = job.pop("Log")
    print_fields({k: v for k, v in job.items() if v not in (None, "")})
    if log:
        console.print("Log:", markup=False)
        for line in log:
            console.print(f"  {line}", markup=False)


@backup_app.command("run")
def run(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
    wait: Annotated[bool, typer.Option("--wait", help="Run it here and show progress.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Start a full backup of a plan now."""
    with service_as_caller(ctx) as (svc, caller):
        job = jobs.request_backup(svc, caller, plan_id)
        if not wait:
            if json_output:
                print_json(job)
            else:
                console.print(
                    f"Queued job {job['JobId']}; 'dbs server' runs it. Follow it with "
                    f"'dbs job show {job['JobId']}'.",
                    markup=False,
                )
            return
        result = run_and_follow(svc, job["JobId"], quiet=json_output)
    if json_output:
        print_json(result)
    elif result["JobState"] == "finish":
        console.print(
            f"Backup set {result['BackupSetId']} ({result['BytesDone']} bytes) by job "
            f"{result['JobId']}.",
            markup=False,
        )
    if result["JobState"] != "finish":
        if not json_output:
            console.print(
                f"Job {result['JobId']} {'stopped' if result['JobState'] == 'pause' else 'failed'}"
                f": {result['ErrorCode']}: {result['ErrorMessage']}",
                markup=False,
            )
        raise typer.Exit(1)


@backup_app.command("list")
def list_(
    ctx: typer.Context,
    plan_id: Annotated[str | None, typer.Option("--plan", help="Only this plan's sets.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Backup sets (DescribeFullBackupList)."""
    with service_as_caller(ctx) as (svc, caller):
        rows = jobs.list_backup_sets(svc, caller, plan_id)
    if json_output:
        print_json(rows)
        return
    print_table(
        rows,
        ["BackupSetId", "BackupPlanId", "EndTime", "BackupSize", "StoredSize", "BackupStatus"],
        empty="No backup sets yet.",
    )


@job_app.command("list")
def list_jobs(
    ctx: typer.Context,
    plan_id: Annotated[str | None, typer.Option("--plan", help="Only this plan's jobs.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Backup and restore jobs with their state and progress."""
    with service_as_caller(ctx) as (svc, caller):
        rows = jobs.list_jobs(svc, caller, plan_id)
    if json_output:
        print_json(rows)
        return
    print_table(
        rows,
        ["JobId", "BackupPlanId", "JobType", "JobState", "BytesDone", "CreateTime", "ErrorCode"],
        empty="No jobs yet.",
    )


@job_app.command("show")
def show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB")],
    json_output: JsonFlag = False,
) -> None:
    """A job's state, progress, error and step log."""
    with service_as_caller(ctx) as (svc, caller):
        job = jobs.show_job(svc, caller, job_id)
    print_json(job) if json_output else print_job(job)
