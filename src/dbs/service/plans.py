"""Backup plans: purchase, configure, precheck + start, stop, upgrade, release, describe.

DBS's ``CreateBackupPlan``, ``ConfigureBackupPlan``, ``StartBackupPlan``,
``StopBackupPlan``, ``UpgradeBackupPlan``, ``ReleaseBackupPlan`` and
``DescribeBackupPlanList``, with its states: ``wait`` (bought, not
configured), ``init`` (configured, not started, or precheck failed),
``check_pass``, ``running``, ``pause`` (stopped by the user).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dbs.catalog.models import Account, BackupPlan, BackupSet, Job, RestoreTask, utcnow
from dbs.engines.base import PrecheckItem
from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.registry import ENGINE_NAMES, get_engine
from dbs.engines.selection import ObjectSelection
from dbs.errors import Conflict, DbsError, InvalidParameter, NotFound
from dbs.iam.arn import backup_plan_arn, format_arn
from dbs.iam.principals import Caller
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.role_session import act_as_service
from dbs.service.schedule import Schedule
from dbs.service.storage import check_plan_encryption, require_storage


@dataclass(frozen=True)
class PlanClass:
    """A plan's capacity. DBS: micro ~100 GB in 20 h ... xlarge ~100 GB in 1 h (or more)."""

    name: str
    rank: int
    max_bytes_per_second: int | None  # None = unlimited
    threads: int


_GB = 1_000_000_000
PLAN_CLASSES: dict[str, PlanClass] = {
    "micro": PlanClass("micro", 0, 100 * _GB // (20 * 3600), 1),
    "small": PlanClass("small", 1, 100 * _GB // (10 * 3600), 2),
    "medium": PlanClass("medium", 2, 100 * _GB // (5 * 3600), 2),
    "large": PlanClass("large", 3, 100 * _GB // (2 * 3600), 4),
    "xlarge": PlanClass("xlarge", 4, None, 4),
}
METHODS = ("logical",)
MAX_RETENTION_DAYS = 1825
ACTIVE_JOB_STATES = ("schedule", "running")
_NAME = re.compile(r"^[\w\-. ]{1,128}$")


@dataclass(frozen=True)
class PlanConfiguration:
    source_url: str
    password: str | None = None
    objects: str | None = None
    days: str | None = None
    start: str | None = None
    timezone: str = "UTC"
    manual: bool = False
    retention_days: int = 730
    keep_at_least: int = 1
    log_backup: bool = False
    encryption: bool = True


def plan_resource(account: Account, plan_id: str) -> str:
    if plan_id == "*":  # every plan of the account, for list calls
        return format_arn("dbs", account.region, account.id, "backupplan/*")
    return backup_plan_arn(account.region, account.id, plan_id)


def load_plan(session: Session, account: Account, plan_id: str) -> BackupPlan:
    plan = session.get(BackupPlan, plan_id)
    if plan is None or plan.account_id != account.id:
        raise NotFound(
            f"backup plan {plan_id!r} does not exist; 'dbs plan list' shows your plans",
            code="EntityNotExist.BackupPlan",
        )
    return plan


def _authorized_plan_call(
    ctx: ServiceContext, caller: Caller, action: str, plan_id: str
) -> Account:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        require_storage(session, ctx)
    authorize(ctx, caller, action, plan_resource(account, plan_id))
    return account


def create_plan(
    ctx: ServiceContext,
    caller: Caller,
    *,
    engine: str,
    method: str,
    plan_class: str,
    name: str | None,
) -> dict[str, Any]:
    engine = engine.lower()
    if engine not in ENGINE_NAMES:
        raise InvalidParameter(
            f"--engine: {engine!r} is not supported; use one of {', '.join(ENGINE_NAMES)}",
            code="InvalidParameter.DatabaseType",
        )
    if method not in METHODS:
        raise InvalidParameter(
            f"--method: {method!r} is not supported; use one of {', '.join(METHODS)}",
            code="InvalidParameter.BackupMethod",
        )
    _check_class(plan_class)
    if name is not None and not _NAME.match(name):
        raise InvalidParameter(
            "--name: use 1-128 letters, digits, spaces or - _ .",
            code="InvalidParameter.BackupPlanName",
        )
    plan_id = ids.backup_plan_id()
    account = _authorized_plan_call(ctx, caller, "dbs:CreateBackupPlan", plan_id)
    with ctx.catalog.session() as session:
        plan = BackupPlan(
            id=plan_id,
            account_id=account.id,
            name=name or plan_id,
            engine=engine,
            method=method,
            plan_class=plan_class,
            status="wait",
        )
        session.add(plan)
        session.flush()
        return describe(session, plan, account)


def configure_plan(
    ctx: ServiceContext, caller: Caller, plan_id: str, config: PlanConfiguration
) -> dict[str, Any]:
    account = _authorized_plan_call(ctx, caller, "dbs:ConfigureBackupPlan", plan_id)
    endpoint = parse_endpoint(config.source_url, field_name="--source")
    if endpoint.password is not None:
        raise InvalidParameter(
            "--source: the URL contains a password; remove it and pass the password with "
            "--password-file or the DBS_SOURCE_PASSWORD environment variable",
            code="InvalidParameter.Endpoint",
        )
    objects = ObjectSelection.parse(config.objects, field_name="--objects")
    if config.manual == bool(config.days or config.start):
        raise InvalidParameter(
            "--days/--start/--manual: give either --days and --start (a weekly schedule) "
            "or --manual (on-demand backups only)",
            code="InvalidParameter.BackupPeriod",
        )
    schedule = None
    if not config.manual:
        if not config.days or not config.start:
            raise InvalidParameter(
                "--days and --start: both are needed for a schedule (e.g. --days Mon,Thu "
                "--start 02:00)",
                code="InvalidParameter.BackupPeriod",
            )
        schedule = Schedule.parse(config.days, config.start, config.timezone)
    if not 0 <= config.retention_days <= MAX_RETENTION_DAYS:
        raise InvalidParameter(
            f"--retention-days: {config.retention_days} is out of range; use 0 to "
            f"{MAX_RETENTION_DAYS} (default 730)",
            code="InvalidParameter.BackupRetentionPeriod",
        )
    if config.keep_at_least < 1:
        raise InvalidParameter(
            "--keep-at-least: keep at least 1 backup set (the newest is never removed)",
            code="InvalidParameter.KeepAtLeast",
        )
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        if endpoint.engine != plan.engine:
            raise InvalidParameter(
                f"--source: plan {plan.id} backs up {plan.engine}, but the URL is a "
                f"{endpoint.engine} URL; use a {plan.engine}:// URL",
                code="InvalidParameter.Endpoint",
            )
        if plan.status == "running":
            raise Conflict(
                f"plan {plan.id} is running: stop it with 'dbs plan stop {plan.id}' "
                "before changing its configuration",
                code="OperationDenied.PlanRunning",
            )
        check_plan_encryption(require_storage(session, ctx), encrypted=config.encryption)
        plan.source_url = endpoint.display()
        plan.source_password_sealed = (
            ctx.box.seal(config.password, f"plan-source:{plan.id}") if config.password else None
        )
        plan.objects_spec = objects.to_spec()
        plan.schedule_days = schedule.days_text if schedule else ""
        plan.schedule_time = schedule.start_text if schedule else ""
        plan.timezone = schedule.timezone if schedule else "UTC"
        plan.retention_days = config.retention_days
        plan.keep_at_least = config.keep_at_least
        plan.log_backup = config.log_backup
        plan.encryption = config.encryption
        plan.configured_at = datetime.now(UTC)
        plan.status = "init"
        plan.precheck = None
        plan.error_message = ""
        plan.next_run_at = None
        return describe(session, plan, account)


def plan_schedule(plan: BackupPlan) -> Schedule | None:
    if not plan.schedule_days:
        return None
    return Schedule.parse(plan.schedule_days, plan.schedule_time, plan.timezone)


def plan_endpoint(ctx: ServiceContext, plan: BackupPlan) -> Endpoint:
    if not plan.source_url:
        raise InvalidParameter(
            f"plan {plan.id} has no source: configure it with 'dbs plan configure {plan.id} "
            "--source URL'",
            code="OperationDenied.PlanNotConfigured",
        )
    endpoint = parse_endpoint(plan.source_url)
    if plan.source_password_sealed:
        password = ctx.box.open(plan.source_password_sealed, f"plan-source:{plan.id}")
        endpoint = endpoint.with_password(password)
    return endpoint


def start_plan(
    ctx: ServiceContext,
    caller: Caller,
    plan_id: str,
    on_item: Callable[[PrecheckItem], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Precheck, then arm the schedule. On failure the plan stays ``init`` with the items."""
    account = _authorized_plan_call(ctx, caller, "dbs:StartBackupPlan", plan_id)
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        if plan.status == "wait":
            raise Conflict(
                f"plan {plan.id} is not configured: run 'dbs plan configure {plan.id} "
                "--source URL ...' first",
                code="OperationDenied.PlanNotConfigured",
            )
        if plan.status == "running":
            return describe(session, plan, account)
        endpoint = plan_endpoint(ctx, plan)
        selection = ObjectSelection.parse(plan.objects_spec)
        engine = get_engine(plan.engine)
    act_as_service(ctx, account.id, "describe_source_instance", plan_resource(account, plan_id))
    act_as_service(ctx, account.id, "list_source_databases", plan_resource(account, plan_id))
    items = run_precheck(engine.precheck, endpoint, selection, on_item)
    failed = [i for i in items if i.state == "failed"]
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        plan.precheck = [
            {"Item": i.item, "State": i.state, "Message": i.message, "Fix": i.fix} for i in items
        ]
        if failed:
            plan.status = "init"
            plan.error_message = "; ".join(f"{i.item}: {i.message}" for i in failed)
        else:
            plan.status = "running"
            plan.error_message = ""
            schedule = plan_schedule(plan)
            plan.next_run_at = schedule.next_after(now or datetime.now(UTC)) if schedule else None
        result = describe(session, plan, account)
    if failed:
        raise DbsError(
            f"precheck of plan {plan_id} failed: "
            + "; ".join(
                f"{i.item}: {i.message}" + (f" (fix: {i.fix})" if i.fix else "") for i in failed
            ),
            code="PrecheckFailed",
        )
    return result


def run_precheck(
    precheck: Callable[[Endpoint, ObjectSelection], list[PrecheckItem]],
    endpoint: Endpoint,
    selection: ObjectSelection,
    on_item: Callable[[PrecheckItem], None] | None,
) -> list[PrecheckItem]:
    try:
        items = precheck(endpoint, selection)
    except Exception as exc:  # an engine bug must still read as a failed item
        items = [
            PrecheckItem("CHECK_ENGINE", "failed", f"precheck could not run: {exc}", "see the log")
        ]
    for item in items:
        if on_item is not None:
            on_item(item)
    return items


STOP_METHODS = ("ALL", "PLAN")


def stop_plan(
    ctx: ServiceContext, caller: Caller, plan_id: str, method: str = "ALL"
) -> dict[str, Any]:
    """StopBackupPlan: pause the schedule; with method ALL (the default) also stop the plan's
    queued and running backup and restore jobs. Start it again with start_plan."""
    if method not in STOP_METHODS:
        raise InvalidParameter(
            f"--method: {method!r} is not a stop method; use ALL (pause the schedule and stop "
            "running backups and restores) or PLAN (pause the schedule only)",
            code="InvalidParameter.StopMethod",
        )
    account = _authorized_plan_call(ctx, caller, "dbs:StopBackupPlan", plan_id)
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        if plan.status in ("running", "check_pass"):
            plan.status = "pause"
            plan.next_run_at = None
        stopping = _stop_jobs(session, plan_id) if method == "ALL" else []
        out = describe(session, plan, account)
        out["StoppedJobs"] = stopping
        return out


def _stop_jobs(session: Session, plan_id: str) -> list[str]:
    """Queued jobs end now (state ``pause``); running ones are asked to stop and end at
    their runner's next progress write."""
    ids = list(
        session.scalars(
            select(Job.id).where(Job.plan_id == plan_id, Job.state.in_(("schedule", "running")))
        )
    )
    for job_id in ids:
        # Conditional updates: a runner may claim a queued job (schedule -> running) meanwhile.
        queued = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "schedule")
            .values(
                state="pause",
                finished_at=utcnow(),
                error_code="JobStopped",
                error_message="stopped on request (StopBackupPlan) before it started",
            )
        )
        if queued.rowcount:  # type: ignore[attr-defined]
            for task in session.scalars(select(RestoreTask).where(RestoreTask.job_id == job_id)):
                task.state = "pause"
        else:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "running")
                .values(stop_requested=True)
            )
    return ids


def upgrade_plan(
    ctx: ServiceContext, caller: Caller, plan_id: str, plan_class: str
) -> dict[str, Any]:
    target = _check_class(plan_class)
    account = _authorized_plan_call(ctx, caller, "dbs:UpgradeBackupPlan", plan_id)
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        current = PLAN_CLASSES[plan.plan_class]
        if target.rank <= current.rank:
            higher = [c.name for c in PLAN_CLASSES.values() if c.rank > current.rank]
            raise InvalidParameter(
                f"--class: plans are only upgraded; {plan.id} is {current.name}, so choose one of "
                f"{', '.join(higher) or '(none: xlarge is the largest)'}",
                code="InvalidParameter.InstanceClass",
            )
        plan.plan_class = target.name
        return describe(session, plan, account)


def release_plan(
    ctx: ServiceContext, caller: Caller, plan_id: str, *, delete_backups: bool = False
) -> dict[str, Any]:
    account = _authorized_plan_call(ctx, caller, "dbs:ReleaseBackupPlan", plan_id)
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        active = session.scalars(
            select(Job.id).where(Job.plan_id == plan_id, Job.state.in_(ACTIVE_JOB_STATES))
        ).first()
        if active is not None:
            raise Conflict(
                f"plan {plan_id} has a job in progress ({active}); wait for it or stop the "
                "plan, then release",
                code="OperationDenied.JobRunning",
            )
        described = describe(session, plan, account)
    if delete_backups:
        from dbs.service.retention import delete_plan_backups

        delete_plan_backups(ctx, plan_id)
    with ctx.catalog.session() as session:
        session.delete(load_plan(session, account, plan_id))
    described["BackupPlanStatus"] = "released"
    return described


def show_plan(ctx: ServiceContext, caller: Caller, plan_id: str) -> dict[str, Any]:
    account = _authorized_plan_call(ctx, caller, "dbs:DescribeBackupPlanList", plan_id)
    with ctx.catalog.session() as session:
        return describe(session, load_plan(session, account, plan_id), account)


def list_plans(ctx: ServiceContext, caller: Caller) -> list[dict[str, Any]]:
    account = _authorized_plan_call(ctx, caller, "dbs:DescribeBackupPlanList", "*")
    with ctx.catalog.session() as session:
        plans = session.scalars(
            select(BackupPlan)
            .where(BackupPlan.account_id == account.id)
            .order_by(BackupPlan.created_at)
        ).all()
        return [describe(session, p, account) for p in plans]


def describe(session: Session, plan: BackupPlan, account: Account) -> dict[str, Any]:
    """DescribeBackupPlanList's fields for one plan."""
    last = session.scalars(
        select(BackupSet).where(BackupSet.plan_id == plan.id).order_by(BackupSet.finished_at.desc())
    ).first()
    plan_class = PLAN_CLASSES[plan.plan_class]
    return {
        "BackupPlanId": plan.id,
        "BackupPlanName": plan.name,
        "BackupPlanStatus": plan.status,
        "SourceEndpointInstanceType": plan.engine,
        "BackupMethod": plan.method,
        "InstanceClass": plan.plan_class,
        "MaxBackupBytesPerSecond": plan_class.max_bytes_per_second,
        "BackupThreads": plan_class.threads,
        "SourceEndpoint": plan.source_url,
        "BackupObjects": plan.objects_spec or "*",
        "BackupPeriod": plan.schedule_days or ("manual" if plan.configured_at else ""),
        "BackupStartTime": plan.schedule_time,
        "TimeZone": plan.timezone,
        "BackupRetentionPeriod": plan.retention_days,
        "KeepAtLeast": plan.keep_at_least,
        "EnableBackupLog": plan.log_backup,
        "StorageEncryption": plan.encryption,
        "LastBackupTime": last.finished_at.isoformat() if last else None,
        "LastBackupSetId": last.id if last else None,
        "NextBackupTime": plan.next_run_at.isoformat() if plan.next_run_at else None,
        "PrecheckItems": plan.precheck or [],
        "ErrMessage": plan.error_message,
        "BackupPlanCreateTime": plan.created_at.isoformat(),
        "Arn": plan_resource(account, plan.id),
    }


def _check_class(plan_class: str) -> PlanClass:
    if plan_class not in PLAN_CLASSES:
        raise InvalidParameter(
            f"--class: {plan_class!r} is not a plan class; use one of {', '.join(PLAN_CLASSES)}",
            code="InvalidParameter.InstanceClass",
        )
    return PLAN_CLASSES[plan_class]
