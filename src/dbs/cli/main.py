"""The ``dbs`` command line: global options, command groups, error handling."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dbs.cli import backups, identity, onboarding, plans, repository, restores, server, storage
from dbs.cli.output import error
from dbs.cli.state import CliState
from dbs.errors import DbsError
from dbs.home import Home

app = typer.Typer(
    name="dbs",
    help="dbs: a self-hosted Database Backup Service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="DBS_HOME",
            help="The service's home directory (catalog, keys, local storage). Default ./var",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = CliState(home=Home.resolve(home))


onboarding.register(app)
storage.register(app)
identity.register(app)
plans.register(app)
backups.register(app)
restores.register(app)
repository.register(app)
server.register(app)


def main() -> None:
    try:
        app()
    except DbsError as exc:
        error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: say what, without a traceback unless asked
        if os.environ.get("DBS_DEBUG"):
            raise
        error(f"internal error: {type(exc).__name__}: {exc} (set DBS_DEBUG=1 for a traceback)")
        sys.exit(70)


if __name__ == "__main__":
    main()
