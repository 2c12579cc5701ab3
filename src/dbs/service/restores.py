"""Restore tasks (``CreateRestoreTask``, ``StartRestoreTask``, ``DescribeRestoreTaskList``).

States: ``init`` (created), ``check_pass`` (target reachable), ``running``,
``finish``, ``stop`` (failed or stopped). The work runs as a job of kind
``restore``, with phases download → load data → verify.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dbs.catalog.models import BackupSet, Job, RestoreTask
from dbs.engines.base import VERIFY_LEVELS
from dbs.engines.endpoint import parse_endpoint
from dbs.engines.registry import get_engine
from dbs.engines.selection import ObjectSelection
from dbs.errors import Conflict, DbsError, InvalidParameter, NotFound
from dbs.iam.principals import Caller
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.jobs import describe_job
from dbs.service.onboarding import require_authorized
from dbs.service.plans import load_plan, plan_resource

CONFLICT_RULES = ("renamenew", "overwrite")

# Restore choices only some engines have: option -> (engine, CLI flag, allowed values).
# The engines read them from RestoreOptions.extra (docs/engines/*.md).
ENGINE_OPTIONS: dict[str, tuple[str, str, tuple[object, ...]]] = {
    "definer": ("mysql", "--definer", ("keep", "current")),
    "binlog": ("mysql", "--no-binlog", (True, False)),
    "owners": ("postgresql", "--owners", (True, False)),
    "globals": ("postgresql", "--globals", (True, False)),
}


def _check_engine_options(engine: str, options: dict[str, object]) -> None:
    for name, value in options.items():
        if name not in ENGINE_OPTIONS:
            raise InvalidParameter(
                f"{name!r} is not a restore option; known: {', '.join(ENGINE_OPTIONS)}",
                code="InvalidParameter.RestoreOption",
            )
        wanted, flag, allowed = ENGINE_OPTIONS[name]
        if engine != wanted:
            raise InvalidParameter(
                f"{flag} applies to {wanted} restores; this plan holds {engine} backups",
                code="InvalidParameter.RestoreOption",
            )
        if value not in allowed:
            raise InvalidParameter(
                f"{flag}: {value!r} is not allowed; use one of "
                + ", ".join(str(a) for a in allowed),
                code="InvalidParameter.RestoreOption",
            )


def create_restore(
    ctx: ServiceContext,
    caller: Caller,
    plan_id: str,
    *,
    backup_set_id: str,
    target_url: str,
    password: str | None = None,
    objects: str | None = None,
    conflict: str = "renamenew",
    rename: dict[str, str] | None = None,
    verify: str = "content",
    engine_options: dict[str, object] | None = None,
) -> dict[str, Any]:
    if verify not in VERIFY_LEVELS:
        raise InvalidParameter(
            f"--verify: {verify!r} is not a level; use content (read every restored table back "
            "and compare row counts and content hashes, the default) or rows (compare row "
            "counts only: faster, but does not prove the values)",
            code="InvalidParameter.VerifyLevel",
        )
    if conflict not in CONFLICT_RULES:
        raise InvalidParameter(
            f"--conflict: {conflict!r} is not a rule; use renamenew (rename the restored object "
            "when the name exists, the default) or overwrite",
            code="InvalidParameter.DuplicateConflict",
        )
    target = parse_endpoint(target_url, field_name="--target")
    if target.password is not None:
        raise InvalidParameter(
            "--target: the URL contains a password; pass it with --password-file or the "
            "DBS_TARGET_PASSWORD environment variable instead",
            code="InvalidParameter.Endpoint",
        )
    selection = ObjectSelection.parse(objects, field_name="--objects")
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:CreateRestoreTask", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        if target.engine != plan.engine:
            raise InvalidParameter(
                f"--target: plan {plan_id} holds {plan.engine} backups; use a {plan.engine}:// URL",
                code="InvalidParameter.Endpoint",
            )
        _check_engine_options(plan.engine, engine_options or {})
        backup_set = session.get(BackupSet, backup_set_id)
        if backup_set is None or backup_set.plan_id != plan_id:
            raise NotFound(
                f"--backup-set: {backup_set_id!r} is not a backup set of plan {plan_id}; "
                f"'dbs backup list --plan {plan_id}' shows them",
                code="EntityNotExist.BackupSet",
            )
        task_id = ids.restore_task_id()
        task = RestoreTask(
            id=task_id,
            plan_id=plan_id,
            backup_set_id=backup_set_id,
            target_url=target.display(),
            target_password_sealed=ctx.box.seal(password, f"restore-target:{task_id}")
            if password
            else None,
            objects_spec=selection.to_spec(),
            conflict=conflict,
            rename=dict(rename or {}),
            verify=verify,
            engine_options=dict(engine_options or {}),
            state="init",
        )
        session.add(task)
        session.flush()
        return describe_restore(session, task)


def start_restore(ctx: ServiceContext, caller: Caller, task_id: str) -> dict[str, Any]:
    """Check the target is reachable, then queue the restore job."""
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        task = _load(session, task_id)
        plan_id = task.plan_id
    authorize(ctx, caller, "dbs:StartRestoreTask", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        task = _load(session, task_id)
        if task.state not in ("init", "check_pass", "stop", "pause"):
            raise Conflict(
                f"restore task {task_id} is '{task.state}'; only a new, failed or stopped task "
                "can start",
                code="OperationDenied.RestoreTaskState",
            )
        plan = load_plan(session, account, task.plan_id)
        target = parse_endpoint(task.target_url)
        if task.target_password_sealed:
            target = target.with_password(
                ctx.box.open(task.target_password_sealed, f"restore-target:{task.id}")
            )
        engine_name = plan.engine
    _check_target(engine_name, target)
    with ctx.catalog.session() as session:
        task = _load(session, task_id)
        job = Job(id=ids.job_id(), plan_id=task.plan_id, kind="restore", state="schedule")
        session.add(job)
        task.job_id = job.id
        task.state = "running"
        session.flush()
        return describe_restore(session, task)


def _check_target(engine_name: str, target: Any) -> None:
    engine = get_engine(engine_name)
    if engine_name == "sqlite":
        return  # the restore itself checks the path; there is no server to reach
    try:
        engine.list_objects(target.with_database("") if engine_name != "redis" else target)
    except Exception as exc:
        raise DbsError(
            f"restore target {target.display()} is not reachable: {exc}",
            code="RestoreTargetUnreachable",
        ) from None


def show_restore(ctx: ServiceContext, caller: Caller, task_id: str) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        plan_id = _load(session, task_id).plan_id
    authorize(ctx, caller, "dbs:DescribeRestoreTaskList", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        return describe_restore(session, _load(session, task_id))


def list_restores(ctx: ServiceContext, caller: Caller) -> list[dict[str, Any]]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:DescribeRestoreTaskList", plan_resource(account, "*"))
    with ctx.catalog.session() as session:
        tasks = session.scalars(select(RestoreTask).order_by(RestoreTask.created_at)).all()
        return [describe_restore(session, t) for t in tasks]


def describe_restore(session: Any, task: RestoreTask) -> dict[str, Any]:
    job = session.get(Job, task.job_id) if task.job_id else None
    return {
        "RestoreTaskId": task.id,
        "BackupPlanId": task.plan_id,
        "BackupSetId": task.backup_set_id,
        "RestoreTaskStatus": task.state,
        "DestinationEndpoint": task.target_url,
        "RestoreObjects": task.objects_spec or "*",
        "DuplicateConflict": task.conflict,
        "Rename": task.rename or {},
        "VerifyLevel": task.verify,
        "EngineOptions": task.engine_options or {},
        "RestoreTaskCreateTime": task.created_at.isoformat(),
        "Result": task.result,
        "Job": describe_job(job) if job is not None else None,
    }


def _load(session: Any, task_id: str) -> RestoreTask:
    task: RestoreTask | None = session.get(RestoreTask, task_id)
    if task is None:
        raise NotFound(
            f"restore task {task_id!r} does not exist; 'dbs restore list' shows them",
            code="EntityNotExist.RestoreTask",
        )
    return task
