"""The scheduler: starts full backups when a plan's window arrives.

Schedules and job states live in the catalog, so the scheduler survives
restarts. Rules (as DBS): a window that arrives while the plan's previous
backup is still running is skipped; after downtime, missed windows are
caught up at most once; a job that was running when its process died is
marked failed with that reason on the next start (its partial data is left
to prune). Retention runs once a day.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import select

from dbs.catalog.models import BackupPlan, BackupSet, Job, RestoreTask
from dbs.jobs.executor import Executor
from dbs.service.context import ServiceContext
from dbs.service.jobs import active_job, queue_backup
from dbs.service.plans import plan_schedule
from dbs.service.retention import apply_retention

log = logging.getLogger(__name__)


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's job: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Scheduler:
    def __init__(
        self,
        ctx: ServiceContext,
        executor: Executor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ctx = ctx
        self.executor = executor
        self.clock = clock
        self._retention_day: date | None = None

    def recover(self) -> list[str]:
        """Fail jobs whose runner died; requeue nothing. Returns the failed job ids."""
        failed: list[str] = []
        with self.ctx.catalog.session() as session:
            for job in session.scalars(select(Job).where(Job.state == "running")):
                if _owner_alive(job.owner):
                    continue
                job.state = "stop"
                job.finished_at = self.clock()
                job.error_code = "JobInterrupted"
                job.error_message = (
                    f"the process running this job ({job.owner}) stopped before it finished; "
                    "no backup set was created and its partial data is left for 'dbs prune'"
                )
                job.log = [*(job.log or []), f"failed: {job.error_message}"]
                if job.kind == "restore":
                    for task in session.scalars(
                        select(RestoreTask).where(RestoreTask.job_id == job.id)
                    ):
                        task.state = "stop"
                failed.append(job.id)
        return failed

    def tick(self) -> list[str]:
        """Queue due backups and hand every queued job to the executor."""
        now = self.clock()
        with self.ctx.catalog.session() as session:
            plans = session.scalars(
                select(BackupPlan).where(
                    BackupPlan.status == "running", BackupPlan.next_run_at.is_not(None)
                )
            ).all()
            for plan in plans:
                assert plan.next_run_at is not None
                if plan.next_run_at > now:
                    continue
                schedule = plan_schedule(plan)
                running = active_job(session, plan.id)
                if running is not None:
                    log.info(
                        "plan %s: window skipped, job %s still %s",
                        plan.id,
                        running.id,
                        running.state,
                    )
                else:
                    queue_backup(session, plan.id, "schedule")
                # Catch up at most once: the next window is the first one after now.
                plan.next_run_at = schedule.next_after(now) if schedule else None
            queued = list(session.scalars(select(Job.id).where(Job.state == "schedule")))
        for job_id in queued:
            self.executor.submit(job_id)
        self._daily_retention(now)
        return queued

    def _daily_retention(self, now: datetime) -> None:
        if self._retention_day == now.date():
            return
        self._retention_day = now.date()
        with self.ctx.catalog.session() as session:
            # Released plans too: their sets stay until their retention removes them.
            plan_ids = set(session.scalars(select(BackupPlan.id)))
            plan_ids |= set(session.scalars(select(BackupSet.plan_id).distinct()))
        for plan_id in sorted(plan_ids):
            try:
                apply_retention(self.ctx, plan_id, now=now)
            except Exception as exc:  # one plan's storage trouble must not stop the others
                log.warning("retention of plan %s failed: %s", plan_id, exc)
