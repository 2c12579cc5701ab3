"""The MySQL / MariaDB engine object: `EngineBase` over this package's functions."""

from __future__ import annotations

from functools import partial

from dbs.engines.base import EngineBase
from dbs.engines.mysql.backup import DEFAULT_SPLIT_BYTES, backup
from dbs.engines.mysql.objects import list_objects
from dbs.engines.mysql.precheck import precheck
from dbs.engines.mysql.restore import restore


class MySQLEngine(EngineBase):
    """``split_bytes``: the target size of one primary-key range stream."""

    def __init__(self, *, split_bytes: int = DEFAULT_SPLIT_BYTES) -> None:
        super().__init__(
            "mysql",
            precheck=precheck,
            list_objects=list_objects,
            backup=partial(backup, split_bytes=split_bytes),
            restore=restore,
        )
        self.split_bytes = split_bytes


ENGINE = MySQLEngine()
