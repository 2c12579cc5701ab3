"""``dbs check``, ``dbs prune`` and ``dbs key ...``: the backup repository."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Repository commands are added here once the repository lands."""
