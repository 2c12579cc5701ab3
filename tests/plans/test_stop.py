"""StopBackupPlan: ``dbs plan stop`` ends a plan's queued jobs at once and stops its running
ones at their next progress write, from another process; nothing of a stopped job is kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.foundation.cli import DBS, DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id
from tests.plans.server_process import wait_for


def _jobs(dbs: DbsCommand, plan: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = dbs("job", "list", "--plan", plan, "--json", check=True).json()
    return result


def test_plan_stop_ends_queued_and_running_backups(dbs: DbsCommand, tmp_path: Path) -> None:
    # ~20 MB at the micro class's ~1.4 MB/s: a backup that runs long enough to be stopped.
    source = make_sqlite_source(tmp_path / "src.db", rows=20000, blob_size=1000)
    plan = plan_id(dbs, "sqlite", "micro")
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", check=True)
    dbs("plan", "start", plan, check=True)

    queued = dbs("backup", "run", plan, "--json", check=True).json()["JobId"]
    stopped = dbs("plan", "stop", plan, check=True)
    assert f"Stopping job {queued}" in stopped.out
    job = dbs("job", "show", queued, "--json", check=True).json()
    assert (job["JobState"], job["ErrorCode"]) == ("pause", "JobStopped"), job

    dbs("plan", "start", plan, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBS_")}
    env["DBS_HOME"] = str(dbs.home)
    runner = subprocess.Popen(
        [DBS, "backup", "run", plan, "--wait", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        running = wait_for(
            lambda: next(
                (j for j in _jobs(dbs, plan) if j["JobState"] == "running" and j["BytesDone"]),
                None,
            ),
            60,
            "the backup to be running",
        )
        assert f"Stopping job {running['JobId']}" in dbs("plan", "stop", plan, check=True).out
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 1, out + err
    job = dbs("job", "show", running["JobId"], "--json", check=True).json()
    assert (job["JobState"], job["ErrorCode"]) == ("pause", "JobStopped"), job
    assert job["BytesDone"] < source.stat().st_size  # it really stopped part-way
    assert "stopped on request" in job["Log"][-1]
    assert dbs("backup", "list", "--plan", plan, "--json", check=True).json() == []
    assert dbs("plan", "show", plan, "--json", check=True).json()["BackupPlanStatus"] == "pause"
    # PLAN stops the schedule only; a bad method is named.
    bad = dbs("plan", "stop", plan, "--method", "SOME")
    assert bad.code == 1 and "--method: 'SOME' is not a stop method" in bad.err
    # What the stopped job wrote is unreferenced: prune removes it and the repository checks.
    assert dbs("prune", check=True).code == 0
    check = dbs("check", "--read-data")
    assert check.code == 0 and "no problems found" in check.out, check.out + check.err
