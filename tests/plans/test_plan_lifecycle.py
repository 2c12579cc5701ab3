"""Plans through the CLI: purchase, configure (with clear errors), precheck, start/stop, upgrade."""

from __future__ import annotations

from pathlib import Path

from tests.foundation.cli import DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id, sqlite_digest


def test_configure_rejects_each_bad_field_by_name(dbs: DbsCommand, tmp_path: Path) -> None:
    plan = plan_id(dbs, "sqlite")
    source = str(make_sqlite_source(tmp_path / "src.db", rows=10))
    cases = [
        (["--source", "ftp://x/y", "--manual"], "--source"),
        (["--source", "postgresql://u@127.0.0.1/db", "--manual"], "--source: plan"),
        (["--source", f"sqlite://{source}", "--days", "Mon,Funday", "--start", "02:00"], "--days"),
        (["--source", f"sqlite://{source}", "--days", "Mon", "--start", "25:00"], "--start"),
        (
            [
                "--source",
                f"sqlite://{source}",
                "--days",
                "Mon",
                "--start",
                "02:00",
                "--timezone",
                "Mars/Olympus",
            ],
            "--timezone",
        ),
        (
            ["--source", f"sqlite://{source}", "--manual", "--retention-days", "2000"],
            "--retention-days",
        ),
        (["--source", f"sqlite://{source}", "--manual", "--keep-at-least", "0"], "--keep-at-least"),
        (["--source", f"sqlite://{source}"], "--manual"),
        (["--source", f"sqlite://{source}", "--manual", "--objects", "a..b"], "--objects"),
    ]
    for args, field in cases:
        r = dbs("plan", "configure", plan, *args)
        assert r.code == 1, args
        assert field in r.err, (args, r.err)
        assert "Traceback" not in r.err
    assert dbs("plan", "show", plan, "--json", check=True).json()["BackupPlanStatus"] == "wait"


def test_purchase_errors_and_upgrade_only_upward(dbs: DbsCommand) -> None:
    r = dbs("plan", "create", "--engine", "oracle", "--class", "small")
    assert r.code == 1 and "--engine" in r.err and "postgresql" in r.err
    r = dbs("plan", "create", "--engine", "mysql", "--class", "huge")
    assert r.code == 1 and "--class" in r.err and "micro" in r.err
    plan = plan_id(dbs, "mysql", "small")
    r = dbs("plan", "upgrade", plan, "--class", "micro")
    assert r.code == 1 and "only upgraded" in r.err
    upgraded = dbs("plan", "upgrade", plan, "--class", "large", "--json", check=True).json()
    assert upgraded["InstanceClass"] == "large"


def test_precheck_failure_keeps_plan_in_init_with_items(dbs: DbsCommand, tmp_path: Path) -> None:
    plan = plan_id(dbs, "sqlite")
    dbs(
        "plan",
        "configure",
        plan,
        "--source",
        f"sqlite://{tmp_path / 'missing.db'}",
        "--manual",
        check=True,
    )
    r = dbs("plan", "start", plan)
    assert r.code == 1
    assert "PrecheckFailed" in r.err
    shown = dbs("plan", "show", plan, "--json", check=True).json()
    assert shown["BackupPlanStatus"] == "init"
    assert any(i["State"] == "failed" for i in shown["PrecheckItems"])
    assert shown["ErrMessage"]
    r = dbs("backup", "run", plan)
    assert r.code == 1 and "dbs plan start" in r.err


def test_manual_backup_restore_stop_start(dbs: DbsCommand, tmp_path: Path) -> None:
    source = make_sqlite_source(tmp_path / "src.db")
    plan = plan_id(dbs, "sqlite")
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", check=True)
    started = dbs("plan", "start", plan, "--json", check=True).json()
    assert started["BackupPlanStatus"] == "running"
    assert all(i["State"] != "failed" for i in started["PrecheckItems"])

    job = dbs("backup", "run", plan, "--wait", "--json", check=True).json()
    assert job["JobState"] == "finish" and job["BackupSetId"]
    assert any("backup set" in line for line in job["Log"])
    sets = dbs("backup", "list", "--plan", plan, "--json", check=True).json()
    assert [s["BackupSetId"] for s in sets] == [job["BackupSetId"]]
    assert sets[0]["BackupSize"] > 0 and sets[0]["BackupStatus"] == "finish"
    assert dbs("job", "show", job["JobId"], "--json", check=True).json()["JobState"] == "finish"

    target = tmp_path / "restored.db"
    task = dbs(
        "restore",
        "create",
        plan,
        "--backup-set",
        job["BackupSetId"],
        "--target",
        f"sqlite://{target}",
        "--start",
        "--wait",
        "--json",
        check=True,
    ).json()
    assert task["RestoreTaskStatus"] == "finish"
    assert sqlite_digest(target) == sqlite_digest(source)
    assert [t["RestoreTaskId"] for t in dbs("restore", "list", "--json", check=True).json()] == [
        task["RestoreTaskId"]
    ]

    assert dbs("plan", "stop", plan, check=True).code == 0
    assert dbs("plan", "show", plan, "--json", check=True).json()["BackupPlanStatus"] == "pause"
    assert dbs("plan", "start", plan, "--json", check=True).json()["BackupPlanStatus"] == "running"

    r = dbs("plan", "release", plan, "--delete-backups", "--yes", check=True)
    assert r.code == 0
    assert dbs("backup", "list", "--json", check=True).json() == []
    check = dbs("check")
    assert check.code == 0 and "no problems found" in check.out
