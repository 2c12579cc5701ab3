"""The SQLite engine object: `EngineBase` over this package's functions."""

from __future__ import annotations

from dbs.engines.base import EngineBase
from dbs.engines.sqlite.backup import backup
from dbs.engines.sqlite.objects import list_objects
from dbs.engines.sqlite.precheck import precheck
from dbs.engines.sqlite.restore import restore

ENGINE = EngineBase(
    "sqlite", precheck=precheck, list_objects=list_objects, backup=backup, restore=restore
)
