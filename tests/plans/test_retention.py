"""Retention on a fake clock: only sets past their retention go, never the newest N."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from dbs.catalog.models import BackupSet
from dbs.home import Home
from dbs.service.context import ServiceContext
from dbs.service.retention import apply_retention, expired_sets
from tests.foundation.cli import DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _set(name: str, days_ago: float) -> BackupSet:
    moment = NOW - timedelta(days=days_ago)
    return BackupSet(id=name, plan_id="p", job_id="j", started_at=moment, finished_at=moment)


def test_expired_sets_rule() -> None:
    sets = [_set("a", 40), _set("b", 31), _set("c", 29), _set("d", 1)]
    assert [s.id for s in expired_sets(sets, retention_days=30, keep_at_least=1, now=NOW)] == [
        "b",
        "a",
    ]
    assert [s.id for s in expired_sets(sets, retention_days=30, keep_at_least=3, now=NOW)] == ["a"]
    # Everything is old: the newest keep_at_least survive anyway.
    old = [_set("x", 400), _set("y", 300), _set("z", 200)]
    assert [s.id for s in expired_sets(old, retention_days=7, keep_at_least=2, now=NOW)] == ["x"]
    assert expired_sets([], retention_days=0, keep_at_least=1, now=NOW) == []


def _plan_with_backups(
    dbs: DbsCommand, tmp_path: Path, *, retention_days: int, count: int
) -> tuple[str, list[str]]:
    """A manual SQLite plan keeping at least one set, with ``count`` backups taken."""
    source = make_sqlite_source(tmp_path / "src.db", rows=300)
    plan = plan_id(dbs, "sqlite")
    dbs(
        "plan", "configure", plan, "--source", f"sqlite://{source}", "--manual",
        "--retention-days", str(retention_days), "--keep-at-least", "1", check=True,
    )
    dbs("plan", "start", plan, check=True)
    ids = [
        dbs("backup", "run", plan, "--wait", "--json", check=True).json()["BackupSetId"]
        for _ in range(count)
    ]
    return plan, ids


def test_apply_retention_removes_sets_from_repository_and_catalog(
    dbs: DbsCommand, tmp_path: Path
) -> None:
    plan, ids = _plan_with_backups(dbs, tmp_path, retention_days=7, count=3)

    ctx = ServiceContext.open(Home.resolve(dbs.home))
    try:
        # Nothing is old yet on the real clock.
        assert apply_retention(ctx, plan)["Removed"] == []
        # Ten days later every set is past retention; the newest one is kept.
        later = datetime.now(UTC) + timedelta(days=10)
        result = apply_retention(ctx, plan, now=later)
        assert sorted(result["Removed"]) == sorted(ids[:2])
        with ctx.catalog.session() as session:
            left = list(session.scalars(select(BackupSet.id).where(BackupSet.plan_id == plan)))
        assert left == [ids[2]]
    finally:
        ctx.close()
    listed = [
        s["BackupSetId"] for s in dbs("backup", "list", "--plan", plan, "--json", check=True).json()
    ]
    assert listed == [ids[2]]
    check = dbs("check", "--read-data")
    assert check.code == 0, check.out


def test_a_released_plans_sets_keep_their_retention(dbs: DbsCommand, tmp_path: Path) -> None:
    plan, ids = _plan_with_backups(dbs, tmp_path, retention_days=3, count=2)
    dbs("plan", "release", plan, check=True)
    assert len(dbs("backup", "list", "--json", check=True).json()) == 2  # kept after release

    ctx = ServiceContext.open(Home.resolve(dbs.home))
    try:
        result = apply_retention(ctx, plan, now=datetime.now(UTC) + timedelta(days=4))
    finally:
        ctx.close()
    assert result["Removed"] == [ids[0]]
    assert [s["BackupSetId"] for s in dbs("backup", "list", "--json", check=True).json()] == [
        ids[1]
    ]
