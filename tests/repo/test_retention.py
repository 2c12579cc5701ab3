"""Retention rules pick the sets restic's forget would keep; forget deletes only one plan's sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dbs.errors import InvalidParameter
from dbs.repo import BackupSetInfo, Repository, RetentionPolicy, apply_retention


def _sets(times: list[datetime]) -> list[BackupSetInfo]:
    return [BackupSetInfo(f"s{i}", t, 1, 1, 1, {}) for i, t in enumerate(times)]


START = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
# Two sets a day for 90 days.
HISTORY = _sets([START + timedelta(hours=12 * i) for i in range(180)])


def _kept(policy: RetentionPolicy) -> list[str]:
    return [s.id for s in apply_retention(HISTORY, policy).keep]


def test_keep_last() -> None:
    assert _kept(RetentionPolicy(keep_last=3)) == ["s177", "s178", "s179"]


def test_keep_daily_takes_newest_of_each_day() -> None:
    assert _kept(RetentionPolicy(keep_daily=2)) == ["s177", "s179"]


def test_keep_weekly_and_monthly() -> None:
    weekly = apply_retention(HISTORY, RetentionPolicy(keep_weekly=2)).keep
    weeks = [s.created_at.isocalendar()[:2] for s in weekly]
    assert len(weekly) == 2 and weeks[0] != weeks[1]
    monthly = apply_retention(HISTORY, RetentionPolicy(keep_monthly=12)).keep
    assert [(s.created_at.month, s.created_at.day) for s in monthly] == [
        (1, 31),
        (2, 29),
        (3, 30),
    ]


def test_keep_within_counts_back_from_newest_set() -> None:
    kept = _kept(RetentionPolicy(keep_within=timedelta(days=2)))
    assert kept == ["s175", "s176", "s177", "s178", "s179"]


def test_rules_combine_and_everything_else_is_forgotten() -> None:
    decision = apply_retention(HISTORY, RetentionPolicy(keep_last=1, keep_monthly=2))
    assert [s.id for s in decision.keep] == ["s119", "s179"]
    assert len(decision.forget) == 178
    assert decision.reasons["s179"] == ["last", "monthly"]


def test_empty_or_bad_policy_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="keeps nothing"):
        RetentionPolicy()
    with pytest.raises(InvalidParameter, match="keep_daily"):
        RetentionPolicy(keep_daily=-1)


def test_forget_applies_per_plan(repo: Repository) -> None:
    ids = {}
    for plan in ("a", "b"):
        for i in range(3):
            with repo.begin_backup(tags={"plan": plan}) as w:
                w.add_stream("s", [f"{plan}{i}".encode()])
                ids[(plan, i)] = w.commit({}).id
    dry = repo.forget(RetentionPolicy(keep_last=1), tags={"plan": "a"}, dry_run=True)
    assert [s.id for s in dry.forget] == [ids[("a", 0)], ids[("a", 1)]]
    assert len(repo.list_backup_sets()) == 6
    repo.forget(RetentionPolicy(keep_last=1), tags={"plan": "a"})
    left = {s.id for s in repo.list_backup_sets()}
    assert left == {ids[("a", 2)]} | {ids[("b", i)] for i in range(3)}
