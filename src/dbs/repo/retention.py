"""Retention: which backup sets a policy keeps (restic's `forget` rules).

Rules combine; a set is kept if any rule keeps it:

* ``keep_last``: the N newest sets;
* ``keep_within``: every set younger than the duration, measured back from
  the newest set (not from now: if backups stop, old ones are not all lost);
* ``keep_daily`` / ``keep_weekly`` / ``keep_monthly``: the newest set of each
  of the last N days / ISO weeks / months that have a set (UTC).

Applied per backup plan: the caller passes the sets of one plan (by tag).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dbs.errors import InvalidParameter
from dbs.repo.manifest import BackupSetInfo


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    keep_within: timedelta | None = None
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    def __post_init__(self) -> None:
        for name in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidParameter(
                    f"retention {name}: must be a whole number >= 0, got {value!r}"
                )
        if self.keep_within is not None and self.keep_within <= timedelta(0):
            raise InvalidParameter("retention keep_within: must be a positive duration")
        if self.is_empty():
            raise InvalidParameter(
                "retention: the policy keeps nothing; set at least one of keep_last, "
                "keep_within, keep_daily, keep_weekly, keep_monthly"
            )

    def is_empty(self) -> bool:
        return not (
            self.keep_last
            or self.keep_within
            or self.keep_daily
            or self.keep_weekly
            or self.keep_monthly
        )


@dataclass
class RetentionDecision:
    keep: list[BackupSetInfo] = field(default_factory=list)
    forget: list[BackupSetInfo] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # set id -> why kept


def _bucketed(
    sets: Sequence[BackupSetInfo], count: int, bucket: Callable[[datetime], object]
) -> list[BackupSetInfo]:
    chosen: list[BackupSetInfo] = []
    seen: set[object] = set()
    for info in sets:  # newest first
        key = bucket(info.created_at)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        chosen.append(info)
    return chosen


def apply_retention(sets: Sequence[BackupSetInfo], policy: RetentionPolicy) -> RetentionDecision:
    newest_first = sorted(sets, key=lambda s: (s.created_at, s.id), reverse=True)
    decision = RetentionDecision()
    reasons = decision.reasons

    def mark(infos: Sequence[BackupSetInfo], why: str) -> None:
        for info in infos:
            reasons.setdefault(info.id, []).append(why)

    mark(newest_first[: policy.keep_last], "last")
    if policy.keep_within is not None and newest_first:
        limit = newest_first[0].created_at - policy.keep_within
        mark([s for s in newest_first if s.created_at >= limit], "within")
    mark(_bucketed(newest_first, policy.keep_daily, lambda t: t.date()), "daily")
    mark(_bucketed(newest_first, policy.keep_weekly, lambda t: t.isocalendar()[:2]), "weekly")
    mark(_bucketed(newest_first, policy.keep_monthly, lambda t: (t.year, t.month)), "monthly")
    for info in reversed(newest_first):  # oldest first, like list_backup_sets
        (decision.keep if info.id in reasons else decision.forget).append(info)
    return decision
