"""Per-invocation state: which home, and opening the service as the caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from dbs.home import Home
from dbs.iam.principals import Caller
from dbs.service.context import ServiceContext, caller_from_environment


@dataclass
class CliState:
    home: Home


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


@contextmanager
def service(ctx: typer.Context) -> Iterator[ServiceContext]:
    svc = ServiceContext.open(state(ctx).home)
    try:
        yield svc
    finally:
        svc.close()


@contextmanager
def service_as_caller(ctx: typer.Context) -> Iterator[tuple[ServiceContext, Caller]]:
    """The service plus the caller named by DBS_ACCESS_KEY_ID/SECRET (root if unset)."""
    with service(ctx) as svc:
        yield svc, caller_from_environment(svc)
