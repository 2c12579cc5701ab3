"""Running one job: claim it, do the backup or restore, record the outcome.

A job is claimed with a compare-and-set on its state (``schedule`` →
``running``), so a job queued in the catalog runs exactly once whichever
process (the server's worker pool or a ``--wait`` CLI call) gets to it first.
A failed job records which step failed and why; its partial data is left for
prune and no backup set becomes visible.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from dbs.catalog.models import BackupPlan, BackupSet, Job, RestoreTask
from dbs.engines.base import EngineError, RestoreOptions
from dbs.engines.endpoint import parse_endpoint
from dbs.engines.registry import get_engine
from dbs.engines.selection import ObjectSelection
from dbs.errors import DbsError
from dbs.jobs.progress import CatalogProgress, EngineProgress, JobCancelled
from dbs.jobs.throttle import MeteredWriter, RateLimiter
from dbs.service.context import ServiceContext
from dbs.service.plans import PLAN_CLASSES, plan_endpoint
from dbs.service.storage import open_plan_repository

# Metadata keys engines use for the consistent position of a snapshot, in the order shown.
_POSITION_KEYS = (
    "snapshot_lsn",
    "lsn",
    "binlog_file",
    "binlog_position",
    "gtid",
    "gtid_executed",
    "replication_offset",
    "master_repl_offset",
    "snapshot_time",
)


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(ctx: ServiceContext, job_id: str) -> bool:
    """Atomically move a queued job to running; False if someone else has it."""
    with ctx.catalog.session() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "schedule")
            .values(state="running", owner=this_owner(), started_at=datetime.now(UTC))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def run_job(
    ctx: ServiceContext,
    job_id: str,
    *,
    on_progress: Callable[[CatalogProgress], None] | None = None,
) -> bool:
    """Claim and run a job; False if it was already claimed elsewhere."""
    if not claim(ctx, job_id):
        return False
    progress = CatalogProgress(ctx.catalog, job_id)
    if on_progress is not None:
        on_progress(progress)
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind = job.kind
    try:
        if kind == "full":
            set_id = _run_backup(ctx, job_id, progress)
            _finish(ctx, job_id, progress, backup_set_id=set_id)
        else:
            _run_restore(ctx, job_id, progress)
            _finish(ctx, job_id, progress)
    except Exception as exc:
        if not (isinstance(exc, JobCancelled) or progress.cancelled.is_set()):
            _fail_with(ctx, job_id, progress, exc)
        else:  # stopped on request; a worker may have surfaced it as another error
            _stopped(ctx, job_id, progress)
    return True


def _fail_with(ctx: ServiceContext, job_id: str, progress: CatalogProgress, exc: Exception) -> None:
    """Record why the job failed: the engine step, the service error, or where it broke."""
    if isinstance(exc, EngineError):
        _fail(ctx, job_id, progress, "EngineError", f"step '{exc.step}' failed: {exc.message}")
    elif isinstance(exc, DbsError):
        _fail(ctx, job_id, progress, exc.code, exc.message)
    else:  # keep the service up; the job says what broke
        where = traceback.extract_tb(exc.__traceback__)[-1]
        _fail(
            ctx,
            job_id,
            progress,
            "InternalError",
            f"{type(exc).__name__}: {exc} (at {os.path.basename(where.filename)}:{where.lineno})",
        )


def _run_backup(ctx: ServiceContext, job_id: str, progress: CatalogProgress) -> str:
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        plan = session.get(BackupPlan, job.plan_id)
        if plan is None:
            raise DbsError(f"plan {job.plan_id} no longer exists", code="EntityNotExist.BackupPlan")
        endpoint = plan_endpoint(ctx, plan)
        selection = ObjectSelection.parse(plan.objects_spec)
        plan_class = PLAN_CLASSES[plan.plan_class]
        engine = get_engine(plan.engine)
        encrypted, plan_id = plan.encryption, plan.id
        retention = (plan.retention_days, plan.keep_at_least)
    started = datetime.now(UTC)
    progress.phase("backup")
    progress.step(
        f"full backup of {endpoint.display()} ({plan.engine}, class {plan_class.name}, "
        f"{plan_class.threads} thread(s))"
    )
    repository, repo_name = open_plan_repository(ctx, encrypted=encrypted)
    limiter = (
        RateLimiter(plan_class.max_bytes_per_second) if plan_class.max_bytes_per_second else None
    )
    with repository.begin_backup(tags={"plan": plan_id, "job": job_id}) as writer:
        metadata = engine.backup(
            endpoint,
            selection,
            MeteredWriter(writer, progress, limiter),
            EngineProgress(progress),
            parallel=plan_class.threads,
        )
        progress.phase("commit")
        info = writer.commit(metadata)
    progress.step(
        f"backup set {info.id}: {info.original_size} bytes in {info.stream_count} streams, "
        f"{info.stored_size} new bytes stored"
    )
    with ctx.catalog.session() as session:
        session.add(
            BackupSet(
                id=info.id,
                plan_id=plan_id,
                job_id=job_id,
                repository=repo_name,
                started_at=started,
                finished_at=datetime.now(UTC),
                original_size=info.original_size,
                stored_size=info.stored_size,
                consistent_position=consistent_position(metadata),
                objects=_object_names(metadata),
                retention_days=retention[0],
                keep_at_least=retention[1],
            )
        )
    return info.id


def consistent_position(metadata: dict[str, Any]) -> str:
    parts = [f"{k}={metadata[k]}" for k in _POSITION_KEYS if metadata.get(k) not in (None, "")]
    return " ".join(parts)


def _object_names(metadata: dict[str, Any]) -> list[str]:
    names = metadata.get("objects") or metadata.get("tables") or []
    if isinstance(names, dict):
        return sorted(str(k) for k in names)
    if isinstance(names, list):
        return [n if isinstance(n, str) else str(n.get("name", n)) for n in names][:10000]
    return []


def _run_restore(ctx: ServiceContext, job_id: str, progress: CatalogProgress) -> None:
    with ctx.catalog.session() as session:
        task = session.query(RestoreTask).filter(RestoreTask.job_id == job_id).one()
        backup_set = session.get(BackupSet, task.backup_set_id)
        plan = session.get(BackupPlan, task.plan_id)
        if backup_set is None or plan is None:
            raise DbsError(
                f"backup set {task.backup_set_id} of plan {task.plan_id} is gone",
                code="EntityNotExist.BackupSet",
            )
        target = parse_endpoint(task.target_url, field_name="--target")
        if task.target_password_sealed:
            target = target.with_password(
                ctx.box.open(task.target_password_sealed, f"restore-target:{task.id}")
            )
        options = RestoreOptions(
            objects=ObjectSelection.parse(task.objects_spec),
            conflict=task.conflict,  # type: ignore[arg-type]
            rename=dict(task.rename or {}),
            parallel=PLAN_CLASSES[plan.plan_class].threads,
            verify=task.verify,  # type: ignore[arg-type]
            extra=dict(task.engine_options or {}),
        )
        engine = get_engine(plan.engine)
        repo_name, task_id = backup_set.repository, task.id
        set_id = backup_set.id
    repository, _ = open_plan_repository(ctx, encrypted=repo_name == "main")
    progress.phase("download")
    reader = repository.open_backup_set(set_id)
    progress.set_total(bytes_total=sum(s.size for s in reader.list_streams()))
    progress.phase("load data")
    result = engine.restore(reader, target, options, progress)
    progress.phase("verify")
    if not result.verified or result.mismatches:
        raise DbsError(
            "verification after restore failed: "
            + "; ".join(result.mismatches or ["not verified"]),
            code="RestoreVerifyFailed",
        )
    progress.step(
        f"restored and verified ({'row counts' if options.verify == 'rows' else 'content'}): "
        + ", ".join(f"{src} -> {dst}" for src, dst in sorted(result.restored.items()))
    )
    with ctx.catalog.session() as session:
        finished = session.get(RestoreTask, task_id)
        assert finished is not None
        finished.state = "finish"
        finished.result = {
            "Restored": result.restored,
            "Verified": result.verified,
            "VerifyLevel": options.verify,
        }


def _finish(
    ctx: ServiceContext, job_id: str, progress: CatalogProgress, backup_set_id: str | None = None
) -> None:
    progress.step("finished")
    progress.flush()
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state = "finish"
        job.finished_at = datetime.now(UTC)
        job.backup_set_id = backup_set_id


def _stopped(ctx: ServiceContext, job_id: str, progress: CatalogProgress) -> None:
    """A job stopped on request ends in DBS's ``pause`` state, not the failed ``stop``."""
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        kind = job.kind if job is not None else "full"
    message = "stopped on request (StopBackupPlan) before it finished; " + (
        "no backup set was created (its partial data is left for 'dbs prune')"
        if kind == "full"
        else "the log above says what the restore removed again"
    )
    _fail(ctx, job_id, progress, "JobStopped", message, state="pause")


def _fail(
    ctx: ServiceContext,
    job_id: str,
    progress: CatalogProgress,
    code: str,
    message: str,
    state: str = "stop",
) -> None:
    progress.step(f"{'stopped' if state == 'pause' else 'failed'}: {message}")
    progress.flush()
    with ctx.catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state = state
        job.finished_at = datetime.now(UTC)
        job.error_code = code
        job.error_message = message
        if job.kind == "restore":
            task = session.query(RestoreTask).filter(RestoreTask.job_id == job_id).one_or_none()
            if task is not None:
                task.state = state
