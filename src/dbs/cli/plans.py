"""``dbs plan ...``: backup plans (purchase, list, release so far)."""

from __future__ import annotations

from typing import Annotated

import typer

from dbs.cli.output import console, print_json, print_table
from dbs.cli.state import service_as_caller
from dbs.service import plans

plan_app = typer.Typer(help="Backup plans (DBS backup schedules).", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")


@plan_app.command("create")
def create(
    ctx: typer.Context,
    engine: Annotated[str, typer.Option("--engine", help="postgresql, mysql, redis or sqlite.")],
    plan_class: Annotated[str, typer.Option("--class", help="micro, small, medium, large or xlarge.")],
    method: Annotated[str, typer.Option("--method", help="Backup method.")] = "logical",
    name: Annotated[str | None, typer.Option("--name", help="A name for people.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Purchase a backup plan (CreateBackupPlan); it starts in state 'wait'."""
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.create_plan(svc, caller, engine=engine, method=method, plan_class=plan_class, name=name)
    if json_output:
        print_json(plan)
        return
    console.print(f"BackupPlanId: {plan['BackupPlanId']} (status {plan['BackupPlanStatus']})", markup=False)


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
        ["BackupPlanId", "BackupPlanName", "SourceEndpointInstanceType", "InstanceClass", "BackupPlanStatus"],
        empty="No backup plans: dbs plan create --engine ENGINE --class CLASS",
    )


@plan_app.command("release")
def release(ctx: typer.Context, plan_id: str, json_output: JsonFlag = False) -> None:
    """Release (delete) a backup plan."""
    with service_as_caller(ctx) as (svc, caller):
        plan = plans.release_plan(svc, caller, plan_id)
    print_json(plan) if json_output else console.print(f"Released {plan_id}.", markup=False)
