"""``dbs user``, ``dbs policy`` and ``dbs audit``: RAM-style identities and their record."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from dbs.cli.output import console, print_fields, print_json, print_table
from dbs.cli.state import service_as_caller
from dbs.errors import InvalidParameter
from dbs.iam import audit as audit_log
from dbs.service import identity
from dbs.service.authz import authorize

user_app = typer.Typer(help="RAM users and their access keys.", no_args_is_help=True)
policy_app = typer.Typer(help="Custom and system policies.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(policy_app, name="policy")
    app.command("audit")(audit)


@user_app.command("create")
def user_create(ctx: typer.Context, name: str, json_output: JsonFlag = False) -> None:
    """Create a RAM user (no permissions until a policy is attached)."""
    with service_as_caller(ctx) as (svc, caller):
        user = identity.create_user(svc, caller, name)
    print_json(user) if json_output else console.print(
        f"Created user {user['UserName']} ({user['Arn']}).", markup=False
    )


@user_app.command("list")
def user_list(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """RAM users and the policies attached to them."""
    with service_as_caller(ctx) as (svc, caller):
        users = identity.list_users(svc, caller)
    if json_output:
        print_json(users)
        return
    rows = [{**u, "Policies": ", ".join(u["Policies"])} for u in users]
    print_table(
        rows, ["UserName", "Arn", "Policies"], empty="No RAM users yet: dbs user create NAME"
    )


@user_app.command("attach-policy")
def user_attach_policy(ctx: typer.Context, name: str, policy: str) -> None:
    """Attach a system policy (AliyunDBSFullAccess, AliyunDBSReadOnlyAccess) or a custom one."""
    with service_as_caller(ctx) as (svc, caller):
        result = identity.attach_policy_to_user(svc, caller, name, policy)
    console.print(f"Attached {result['PolicyType']} policy {policy} to user {name}.", markup=False)


@user_app.command("create-access-key")
def user_create_access_key(ctx: typer.Context, name: str, json_output: JsonFlag = False) -> None:
    """Create an access key for a user; the secret is shown only now."""
    with service_as_caller(ctx) as (svc, caller):
        key = identity.create_access_key(svc, caller, name)
    if json_output:
        print_json(key)
        return
    print_fields({"AccessKeyId": key["AccessKeyId"], "AccessKeySecret": key["AccessKeySecret"]})
    console.print(
        "Shown only now. Use it with DBS_ACCESS_KEY_ID and DBS_ACCESS_KEY_SECRET.", markup=False
    )


@policy_app.command("create")
def policy_create(
    ctx: typer.Context,
    name: str,
    document: Annotated[Path, typer.Option("--document", help="JSON policy document file.")],
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create a custom policy from a RAM policy document (validated)."""
    try:
        text = document.read_text()
    except OSError as exc:
        raise InvalidParameter(f"--document: cannot read {document}: {exc.strerror}") from None
    with service_as_caller(ctx) as (svc, caller):
        identity.create_policy(svc, caller, name, text, description)
    console.print(f"Created custom policy {name}.", markup=False)


@policy_app.command("list")
def policy_list(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """System and custom policies."""
    with service_as_caller(ctx) as (svc, caller):
        policies = identity.list_policies(svc, caller)
    if json_output:
        print_json(policies)
        return
    print_table(policies, ["PolicyName", "PolicyType"], empty="No policies.")


def audit(
    ctx: typer.Context,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Only events at or after this time (ISO 8601, UTC)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 1000,
    json_output: JsonFlag = False,
) -> None:
    """Authorization decisions: who did what, allowed or denied, and which statement decided."""
    from datetime import UTC

    with service_as_caller(ctx) as (svc, caller):
        authorize(
            svc, caller, "actiontrail:LookupEvents", f"acs:actiontrail:*:{caller.account_id}:*"
        )
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        with svc.catalog.session() as session:
            events = [
                {
                    "Time": e.time.isoformat(),
                    "Principal": e.principal,
                    "Action": e.action,
                    "Resource": e.resource,
                    "Decision": e.decision,
                    "DecidedBy": e.decided_by,
                    "Via": e.via,
                }
                for e in audit_log.list_events(session, since=since, limit=limit)
            ]
    if json_output:
        print_json(events)
        return
    print_table(
        events, ["Time", "Principal", "Action", "Resource", "Decision", "Via"], empty="No events."
    )
