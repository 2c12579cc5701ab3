"""First use: ``dbs init``, ``dbs authorize``, ``dbs role ...``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dbs.cli.output import console, print_fields, print_json
from dbs.cli.state import service, service_as_caller, state
from dbs.service import onboarding
from dbs.service.identity import attach_policy_to_role

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

role_app = typer.Typer(
    help="The service-linked role AliyunServiceRoleForDBS.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("authorize")(authorize)
    app.add_typer(role_app, name="role")


def init(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Create the account and its root identity; prints the root access key once."""
    with service(ctx) as svc:
        result = onboarding.init_account(svc)
    if json_output:
        print_json(
            {
                "AccountId": result.account_id,
                "AccessKeyId": result.access_key_id,
                "AccessKeySecret": result.access_key_secret,
                "Home": str(state(ctx).home.path),
            }
        )
        return
    print_fields(
        {
            "Home": state(ctx).home.path,
            "Account ID": result.account_id,
            "Root AccessKeyId": result.access_key_id,
            "Root AccessKeySecret": result.access_key_secret,
        },
        title="Account created.",
    )
    console.print(
        "\nThe secret is shown only now: store it safely (it is kept only encrypted).\n"
        "Next: [bold]dbs authorize[/bold] (Authorize DBS SLR), then "
        "[bold]dbs storage activate --accept-agreement[/bold]."
    )


def authorize(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Authorize DBS SLR: create the service-linked role AliyunServiceRoleForDBS."""
    with service_as_caller(ctx) as (svc, caller):
        role = onboarding.authorize_service(svc, caller)
    if json_output:
        print_json(role)
        return
    console.print(
        f"Created the service-linked role [bold]{role['RoleName']}[/bold] ({role['Arn']})."
    )
    console.print("Next: [bold]dbs storage activate --accept-agreement[/bold] (Activate OSS).")


@role_app.command("show")
def role_show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Role details: name, policy, trust policy and the policy document."""
    with service_as_caller(ctx) as (svc, caller):
        role = onboarding.describe_service_role(svc, caller)
    if json_output:
        print_json(
            {
                key: role[key]
                for key in (
                    "RoleName",
                    "Arn",
                    "AssumeRolePolicyDocument",
                    "PolicyName",
                    "PolicyDocument",
                )
            }
        )
        return
    console.print("Role details\n")
    console.print(f"Role name: {role['RoleName']}", markup=False)
    console.print(f"ARN: {role['Arn']}", markup=False)
    console.print(f"Policy of the role: {role['PolicyName']}\n", markup=False)
    console.print("Trust policy:\n", markup=False)
    console.print(json.dumps(json.loads(role["AssumeRolePolicyDocument"]), indent=2), markup=False)
    console.print("\nThe policy specifies the following permissions:\n", markup=False)
    console.print(role["PolicyDocument"], markup=False)


@role_app.command("delete")
def role_delete(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """DeleteServiceLinkedRole: start deleting the role; prints the deletion task id."""
    with service_as_caller(ctx) as (svc, caller):
        task_id = onboarding.delete_service_role(svc, caller)
    if json_output:
        print_json({"DeletionTaskId": task_id})
        return
    console.print(f"DeletionTaskId: {task_id}", markup=False)
    console.print("Check it with: dbs role deletion-status TASK", markup=False)


@role_app.command("deletion-status")
def role_deletion_status(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The DeletionTaskId from 'dbs role delete'.")],
    json_output: JsonFlag = False,
) -> None:
    """GetServiceLinkedRoleDeletionStatus: SUCCEEDED, or FAILED with the plans using the role."""
    with service_as_caller(ctx) as (svc, caller):
        status = onboarding.deletion_status(svc, caller, task)
    if json_output:
        print_json(status)
    else:
        console.print(f"Status: {status['Status']}", markup=False)
        reason = status.get("Reason")
        if reason:
            console.print(f"Reason: {reason['Message']}", markup=False)
            for usage in reason.get("RoleUsages", []):
                for arn in usage["Resources"]:
                    console.print(f"  in use by: {arn}", markup=False)
    if status["Status"] == "FAILED":
        raise typer.Exit(1)


@role_app.command("attach-policy")
def role_attach_policy(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name.")],
    policy: Annotated[str, typer.Argument(help="Policy name.")],
) -> None:
    """Attach a policy to a role (refused for service-linked roles, whose policy is fixed)."""
    with service_as_caller(ctx) as (svc, caller):
        attach_policy_to_role(svc, caller, role, policy)
