"""The Redis engine object: `EngineBase` over this package's functions."""

from __future__ import annotations

from dbs.engines.base import EngineBase
from dbs.engines.redis.backup import backup
from dbs.engines.redis.objects import list_objects
from dbs.engines.redis.precheck import precheck
from dbs.engines.redis.restore import restore

ENGINE = EngineBase(
    "redis", precheck=precheck, list_objects=list_objects, backup=backup, restore=restore
)
