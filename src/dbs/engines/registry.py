"""Engines by name. Each engine package exposes ``ENGINE``; imported on first use."""

from __future__ import annotations

import importlib

from dbs.engines.base import Engine
from dbs.errors import InvalidParameter

ENGINE_NAMES = ("postgresql", "mysql", "redis", "sqlite")


def get_engine(name: str) -> Engine:
    if name not in ENGINE_NAMES:
        raise InvalidParameter(
            f"engine {name!r} is not supported; use one of {', '.join(ENGINE_NAMES)}",
            code="InvalidParameter.DatabaseType",
        )
    module = importlib.import_module(f"dbs.engines.{name}")
    engine: Engine = module.ENGINE
    return engine
