"""``dbs server``: the long-running service.

It prepares the home (directories, secrets key, catalog migrations), tells
the operator where things are and what to do next, serves a health
endpoint, and runs the scheduler with an in-process pool of job workers.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from dbs.cli.output import console
from dbs.cli.state import service, state
from dbs.errors import DbsError, InvalidParameter
from dbs.jobs.executor import InProcessExecutor
from dbs.jobs.scheduler import Scheduler
from dbs.service.status import first_use_status
from dbs.web.health import serve_health

log = logging.getLogger(__name__)


def _command() -> str:
    """How to call ``dbs`` from another terminal: the bare name if it is on PATH."""
    here = Path(sys.argv[0]).resolve()
    on_path = shutil.which("dbs")
    if on_path is not None and Path(on_path).resolve() == here:
        return ""
    return f"{here.parent}/"


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def server(
    ctx: typer.Context,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT for the HTTP endpoint.")
    ] = "127.0.0.1:8470",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Jobs at once.")] = 2,
    tick_seconds: Annotated[
        float, typer.Option("--tick", min=0.1, max=60, help="Seconds between schedule checks.")
    ] = 1.0,
) -> None:
    """Run the service in the foreground (Ctrl-C stops it)."""
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidParameter(f"--listen: {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8470")
    home = state(ctx).home
    with service(ctx) as svc:
        status = first_use_status(svc)
        httpd = serve_health(host, int(port_text), lambda: first_use_status(svc))
        console.print(f"dbs server: home {home.path}", markup=False)
        console.print(f"catalog: {status['Catalog']}", markup=False)
        console.print(f"listening on http://{host}:{httpd.server_port}/health", markup=False)
        if status["NextStep"]:
            console.print(
                f"next, in another terminal: {_command()}{status['NextStep']}", markup=False
            )
        else:
            console.print("ready: storage is active and DBS is authorized", markup=False)

        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        thread = threading.Thread(target=httpd.serve_forever, name="health", daemon=True)
        thread.start()

        executor = InProcessExecutor(svc, workers=workers)
        scheduler = Scheduler(svc, executor)
        for job_id in scheduler.recover():
            console.print(f"job {job_id}: marked failed (its process died)", markup=False)
        console.print(f"scheduler: running ({workers} worker(s))", markup=False)
        while not stopped.is_set():
            try:
                scheduler.tick()
            except DbsError as exc:  # e.g. storage not activated yet: keep serving
                log.debug("scheduler tick: %s", exc)
            stopped.wait(tick_seconds)
        executor.shutdown()
        httpd.shutdown()
        console.print("dbs server: stopped", markup=False)
