"""``dbs server``: the long-running service.

Today it prepares the home (directories, secrets key, catalog migrations),
tells the operator where things are and what to do next, and serves a
health endpoint. The scheduler and job runner join it with backup plans.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from dbs.cli.output import console
from dbs.cli.state import service, state
from dbs.errors import InvalidParameter
from dbs.service.status import first_use_status
from dbs.web.health import serve_health


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def server(
    ctx: typer.Context,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT for the HTTP endpoint.")] = "127.0.0.1:8470",
) -> None:
    """Run the service in the foreground (Ctrl-C stops it)."""
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidParameter(f"--listen: {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8470")
    home = state(ctx).home
    with service(ctx) as svc:
        status = first_use_status(svc)
        httpd = serve_health(host, int(port_text), lambda: first_use_status(svc))
        bound_host, bound_port = httpd.server_address[:2]
        console.print(f"dbs server: home {home.path}", markup=False)
        console.print(f"catalog: {status['Catalog']}", markup=False)
        console.print(f"listening on http://{bound_host}:{bound_port}/health", markup=False)
        if status["NextStep"]:
            console.print(f"next: {status['NextStep']}", markup=False)
        else:
            console.print("ready: storage is active and DBS is authorized", markup=False)

        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        thread = threading.Thread(target=httpd.serve_forever, name="health", daemon=True)
        thread.start()
        stopped.wait()
        httpd.shutdown()
        console.print("dbs server: stopped", markup=False)
