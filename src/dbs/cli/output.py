"""Printing results for people (Rich) and for scripts (``--json``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output is not cut to 80 columns: scripts and logs want whole ids.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "200"))
console = Console(highlight=False, soft_wrap=True, emoji=False, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def print_fields(fields: Mapping[str, Any], *, title: str | None = None) -> None:
    if title:
        console.print(f"[bold]{title}[/bold]")
    width = max((len(k) for k in fields), default=0)
    for key, value in fields.items():
        console.print(f"  {key.ljust(width)}  {value}", markup=False)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    if not rows:
        console.print(empty)
        return
    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


def error(message: str) -> None:
    err_console.print(f"[bold red]Error:[/bold red] {escape(message)}")
