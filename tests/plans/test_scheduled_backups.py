"""``dbs server`` runs scheduled backups by itself, survives a SIGKILL, and enforces limits."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from sqlite3 import connect
from typing import Any

from tests.foundation.cli import DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id, sqlite_digest
from tests.plans.server_process import ServerProcess, wait_for


def _start_at(seconds: float) -> tuple[str, str]:
    """--days and --start for a window ``seconds`` from now (UTC)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime("%a"), moment.strftime("%H:%M:%S")


def _schedule(dbs: DbsCommand, plan: str, source: Path, seconds: float) -> None:
    days, start = _start_at(seconds)
    dbs(
        "plan",
        "configure",
        plan,
        "--source",
        f"sqlite://{source}",
        "--days",
        days,
        "--start",
        start,
        "--timezone",
        "UTC",
        check=True,
    )
    dbs("plan", "start", plan, check=True)


def _sets(dbs: DbsCommand, plan: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = dbs(
        "backup", "list", "--plan", plan, "--json", check=True
    ).json()
    return result


def test_server_runs_the_scheduled_backup_and_it_restores(dbs: DbsCommand, tmp_path: Path) -> None:
    source = make_sqlite_source(tmp_path / "src.db")
    plan = plan_id(dbs, "sqlite")
    _schedule(dbs, plan, source, seconds=6)
    shown = dbs("plan", "show", plan, "--json", check=True).json()
    assert shown["NextBackupTime"] is not None
    server = ServerProcess(dbs.home)
    try:
        sets = wait_for(lambda: _sets(dbs, plan), 90, "the scheduled backup set")
    finally:
        assert server.stop() == 0, server.output()
    job = dbs("job", "show", sets[0]["JobId"], "--json", check=True).json()
    assert job["Trigger"] == "schedule" and job["JobState"] == "finish"
    # Next window is a week later: caught up once, not repeatedly.
    after = dbs("plan", "show", plan, "--json", check=True).json()
    assert datetime.fromisoformat(after["NextBackupTime"]) > datetime.now(UTC) + timedelta(days=6)
    target = tmp_path / "restored.db"
    dbs(
        "restore",
        "create",
        plan,
        "--backup-set",
        sets[0]["BackupSetId"],
        "--target",
        f"sqlite://{target}",
        "--start",
        "--wait",
        check=True,
    )
    assert sqlite_digest(target) == sqlite_digest(source)


def test_sigkill_during_backup_then_restart(dbs: DbsCommand, tmp_path: Path) -> None:
    # ~6 MB at the micro class's ~1.4 MB/s: the backup runs for several seconds.
    source = make_sqlite_source(tmp_path / "src.db", rows=6000, blob_size=1000)
    plan = plan_id(dbs, "sqlite", "micro")
    _schedule(dbs, plan, source, seconds=4)
    server = ServerProcess(dbs.home)

    def running_job() -> str | None:
        conn = connect(dbs.home / "catalog.db")
        row = conn.execute(
            "SELECT id FROM jobs WHERE plan_id = ? AND state = 'running' AND bytes_done > 0",
            (plan,),
        ).fetchone()
        conn.close()
        return row[0] if row else None

    job_id = wait_for(running_job, 90, "the scheduled backup to be running")
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    assert _sets(dbs, plan) == []

    server = ServerProcess(dbs.home)
    try:
        failed = wait_for(
            lambda: (
                (j := dbs("job", "show", job_id, "--json", check=True).json())["JobState"] == "stop"
                and j
            ),
            60,
            "the interrupted job to be marked failed",
        )
        assert failed["ErrorCode"] == "JobInterrupted"
        assert "stopped before it finished" in failed["ErrorMessage"]
        # A new window a few seconds ahead: the next scheduled run succeeds.
        dbs("plan", "stop", plan, check=True)
        dbs("plan", "upgrade", plan, "--class", "xlarge", check=True)
        _schedule(dbs, plan, source, seconds=4)
        sets = wait_for(lambda: _sets(dbs, plan), 90, "the next scheduled backup")
        assert sets[0]["BackupStatus"] == "finish"
    finally:
        assert server.stop() == 0, server.output()
    assert dbs("prune", check=True).code == 0
    check = dbs("check", "--read-data")
    assert check.code == 0, check.out + check.err
    assert "no problems found" in check.out


def test_micro_class_limits_throughput(dbs: DbsCommand, tmp_path: Path) -> None:
    source = make_sqlite_source(tmp_path / "src.db", rows=3000, blob_size=1000)
    size = source.stat().st_size
    plan = plan_id(dbs, "sqlite", "micro")
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", check=True)
    shown = dbs("plan", "start", plan, "--json", check=True).json()
    limit = shown["MaxBackupBytesPerSecond"]
    assert limit == 100 * 1_000_000_000 // (20 * 3600)
    began = time.monotonic()
    job = dbs("backup", "run", plan, "--wait", "--json", check=True).json()
    elapsed = time.monotonic() - began
    assert job["BytesDone"] >= size
    # The bucket may start full (a quarter second of burst); everything else waits for tokens.
    assert elapsed >= (job["BytesDone"] - limit * 0.25) / limit
