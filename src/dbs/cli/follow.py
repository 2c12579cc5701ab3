"""Running a queued job here and showing its progress until it ends."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from dbs.catalog.models import Job
from dbs.cli.output import console
from dbs.jobs.runner import run_job
from dbs.service.context import ServiceContext
from dbs.service.jobs import describe_job

_DONE = ("finish", "stop", "pause")  # pause: stopped on request


def run_and_follow(ctx: ServiceContext, job_id: str, *, quiet: bool) -> dict[str, Any]:
    """Run the job in this process (unless a server claimed it first) and follow it."""
    worker = threading.Thread(target=run_job, args=(ctx, job_id), name="job", daemon=True)
    worker.start()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    with bar:
        task = bar.add_task("queued", total=None)
        while True:
            with ctx.catalog.session() as session:
                job = session.get(Job, job_id)
                assert job is not None
                state = describe_job(job)
            bar.update(
                task,
                description=f"{state['JobState']} {state['Phase']}",
                completed=state["BytesDone"],
                total=state["BytesTotal"],
            )
            if state["JobState"] in _DONE:
                break
            time.sleep(0.3)
    worker.join(timeout=5)
    return state
