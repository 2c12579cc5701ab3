"""The PostgreSQL engine object: `EngineBase` over this package's functions."""

from __future__ import annotations

from functools import partial

from dbs.engines.base import EngineBase
from dbs.engines.postgresql.backup import DEFAULT_SPLIT_BYTES, backup
from dbs.engines.postgresql.objects import list_objects
from dbs.engines.postgresql.precheck import precheck
from dbs.engines.postgresql.restore import restore


class PostgresEngine(EngineBase):
    """``split_bytes``: tables this big are read as several key ranges at once."""

    def __init__(self, split_bytes: int = DEFAULT_SPLIT_BYTES) -> None:
        super().__init__(
            "postgresql",
            precheck=precheck,
            list_objects=list_objects,
            backup=partial(backup, split_bytes=split_bytes),
            restore=restore,
        )
        self.split_bytes = split_bytes


ENGINE = PostgresEngine()
