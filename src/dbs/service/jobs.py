"""Backup jobs and backup sets: run one now, list sets, show a job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dbs.catalog.models import BackupSet, Job
from dbs.errors import Conflict, NotFound
from dbs.iam.principals import Caller
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.plans import ACTIVE_JOB_STATES, load_plan, plan_resource

RUNNABLE_PLAN_STATES = ("check_pass", "running", "pause")


def active_job(session: Session, plan_id: str) -> Job | None:
    return session.scalars(
        select(Job).where(Job.plan_id == plan_id, Job.state.in_(ACTIVE_JOB_STATES))
    ).first()


def queue_backup(session: Session, plan_id: str, trigger: str) -> Job:
    job = Job(id=ids.job_id(), plan_id=plan_id, kind="full", trigger=trigger, state="schedule")
    session.add(job)
    session.flush()
    return job


def request_backup(ctx: ServiceContext, caller: Caller, plan_id: str) -> dict[str, Any]:
    """Queue a full backup now; refused while one of the same plan is queued or running."""
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:StartBackupPlan", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        plan = load_plan(session, account, plan_id)
        if plan.status not in RUNNABLE_PLAN_STATES:
            raise Conflict(
                f"plan {plan_id} is '{plan.status}': start it first ('dbs plan start {plan_id}' "
                "runs the precheck)",
                code="OperationDenied.PlanNotStarted",
            )
        running = active_job(session, plan_id)
        if running is not None:
            raise Conflict(
                f"a backup of plan {plan_id} is already {running.state} (job {running.id}); "
                f"follow it with 'dbs job show {running.id}'",
                code="OperationDenied.JobRunning",
            )
        return describe_job(queue_backup(session, plan_id, "manual"))


def list_backup_sets(
    ctx: ServiceContext, caller: Caller, plan_id: str | None = None
) -> list[dict[str, Any]]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:DescribeFullBackupList", plan_resource(account, plan_id or "*"))
    with ctx.catalog.session() as session:
        query = select(BackupSet).order_by(BackupSet.finished_at)
        if plan_id is not None:
            load_plan(session, account, plan_id)
            query = query.where(BackupSet.plan_id == plan_id)
        return [describe_set(s) for s in session.scalars(query)]


def describe_set(backup_set: BackupSet) -> dict[str, Any]:
    return {
        "BackupSetId": backup_set.id,
        "BackupPlanId": backup_set.plan_id,
        "BackupStatus": backup_set.status,
        "StartTime": backup_set.started_at.isoformat(),
        "EndTime": backup_set.finished_at.isoformat(),
        "BackupSize": backup_set.original_size,
        "StoredSize": backup_set.stored_size,
        "ConsistentTime": backup_set.finished_at.isoformat(),
        "ConsistentPosition": backup_set.consistent_position,
        "BackupObjects": backup_set.objects,
        "JobId": backup_set.job_id,
    }


def list_jobs(
    ctx: ServiceContext, caller: Caller, plan_id: str | None = None
) -> list[dict[str, Any]]:
    """Backup and restore jobs, oldest first, without their step logs."""
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:DescribeJob", plan_resource(account, plan_id or "*"))
    with ctx.catalog.session() as session:
        query = select(Job).order_by(Job.created_at)
        if plan_id is not None:
            load_plan(session, account, plan_id)
            query = query.where(Job.plan_id == plan_id)
        return [
            {k: v for k, v in describe_job(job).items() if k != "Log"}
            for job in session.scalars(query)
        ]


def show_job(ctx: ServiceContext, caller: Caller, job_id: str) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(
                f"job {job_id!r} does not exist; 'dbs backup list' shows job ids",
                code="EntityNotExist.Job",
            )
        plan_id = job.plan_id
    authorize(ctx, caller, "dbs:DescribeJob", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return describe_job(job)


def describe_job(job: Job) -> dict[str, Any]:
    elapsed = None
    if job.started_at is not None:
        end = job.finished_at or datetime.now(UTC)
        elapsed = max((end - job.started_at).total_seconds(), 0.0)
    rate = job.bytes_done / elapsed if elapsed else None
    eta = None
    if rate and job.bytes_total and job.state == "running":
        eta = max(job.bytes_total - job.bytes_done, 0) / rate
    return {
        "JobId": job.id,
        "BackupPlanId": job.plan_id,
        "JobType": job.kind,
        "Trigger": job.trigger,
        "JobState": job.state,
        "Phase": job.phase,
        "CreateTime": job.created_at.isoformat(),
        "StartTime": job.started_at.isoformat() if job.started_at else None,
        "FinishTime": job.finished_at.isoformat() if job.finished_at else None,
        "BytesDone": job.bytes_done,
        "BytesTotal": job.bytes_total,
        "ItemsDone": job.items_done,
        "ItemsTotal": job.items_total,
        "BytesPerSecond": round(rate) if rate else None,
        "EtaSeconds": round(eta) if eta is not None else None,
        "BackupSetId": job.backup_set_id,
        "ErrorCode": job.error_code,
        "ErrorMessage": job.error_message,
        "Log": list(job.log or []),
    }
