"""Full-backup schedules: days of the week and a start time in a stated time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dbs.errors import InvalidParameter

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Schedule:
    days: tuple[int, ...]  # 0 = Monday
    start: time
    timezone: str

    @classmethod
    def parse(cls, days: str, start: str, timezone: str = "UTC") -> Schedule:
        picked: list[int] = []
        for raw in days.split(","):
            name = raw.strip().capitalize()[:3]
            if name not in DAYS:
                raise InvalidParameter(
                    f"--days: {raw.strip()!r} is not a day; use a comma list of "
                    f"{', '.join(DAYS)} (e.g. Mon,Wed,Fri)",
                    code="InvalidParameter.BackupPeriod",
                )
            if DAYS.index(name) not in picked:
                picked.append(DAYS.index(name))
        try:
            at = time.fromisoformat(start)
            if at.tzinfo is not None or at.microsecond:
                raise ValueError
        except ValueError:
            raise InvalidParameter(
                f"--start: {start!r} is not a time; use HH:MM (or HH:MM:SS) in 24-hour form, "
                "e.g. 02:30",
                code="InvalidParameter.BackupStartTime",
            ) from None
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidParameter(
                f"--timezone: {timezone!r} is not a time zone; use an IANA name such as UTC, "
                "Asia/Shanghai or Europe/Berlin",
                code="InvalidParameter.TimeZone",
            ) from None
        return cls(tuple(sorted(picked)), at, timezone)

    @property
    def days_text(self) -> str:
        return ",".join(DAYS[d] for d in self.days)

    @property
    def start_text(self) -> str:
        return self.start.strftime("%H:%M:%S" if self.start.second else "%H:%M")

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled start strictly after ``moment`` (returned in UTC)."""
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.days:
                continue
            candidate = datetime.combine(day, self.start, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(UTC)
        raise AssertionError("a weekly schedule always has a next run within 8 days")
