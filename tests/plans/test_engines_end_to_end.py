"""The whole loop through the ``dbs`` command against real PostgreSQL and MariaDB:
a plan scheduled a few seconds ahead is backed up by ``dbs server`` itself, then a
restore task restores it into a new database whose contents equal the source."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.foundation.cli import DbsCommand
from tests.plans.conftest import plan_id
from tests.plans.server_process import ServerProcess, wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg(dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}", autocommit=True)


def _my(dbname: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", database=dbname, autocommit=True
    )


@pytest.fixture
def pg_source() -> Iterator[tuple[str, list[str]]]:
    name = f"dbs_e2e_{uuid.uuid4().hex[:10]}"
    with _pg("postgres") as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with _pg(name) as conn:
        conn.execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2), "
            "photo bytea, tags text[], created timestamptz)"
        )
        conn.execute(
            "INSERT INTO accounts SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'owner ' || g || ' ✓' END, "
            "g * 1.5, decode(lpad(to_hex(g), 8, '0'), 'hex'), ARRAY['a', 'b' || g], "
            "'2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g"
        )
        conn.execute('CREATE TABLE "Odd Name" (k text PRIMARY KEY, v jsonb)')
        conn.execute("""INSERT INTO "Odd Name" VALUES ('', '{"a": [1, null]}'), ('ключ', NULL)""")
    created = [name]
    try:
        yield name, created
    finally:
        with _pg("postgres") as conn:  # and any renamed copy a restore made
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
            for db in set(created) | {n for n in names if n.startswith(name)}:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _pg_digest(dbname: str) -> dict[str, str]:
    with _pg(dbname) as conn:
        return {
            table: str(
                conn.execute(
                    f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{table}\" t"
                ).fetchone()
            )
            for table in ("accounts", "Odd Name")
        }


@pytest.fixture
def mysql_source() -> Iterator[tuple[str, list[str]]]:
    name = f"dbs_e2e_{uuid.uuid4().hex[:10]}"
    with _my() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(
            f"CREATE TABLE `{name}`.accounts (id INT PRIMARY KEY, owner VARCHAR(64), "
            "balance DECIMAL(12,2), photo VARBINARY(16), created DATETIME(6))"
        )
        cur.executemany(
            f"INSERT INTO `{name}`.accounts VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    i,
                    None if i % 7 == 0 else f"owner {i} 😀",
                    i * 1.5,
                    bytes([0, i % 256]),
                    f"2026-01-01 00:00:{i % 60:02d}.123456",
                )
                for i in range(1, 3001)
            ],
        )
        cur.execute(
            f"CREATE DEFINER = `dbs_ghost`@`%` SQL SECURITY INVOKER VIEW `{name}`.rich AS "
            f"SELECT id FROM `{name}`.accounts WHERE balance > 4000"
        )
    created = [name]
    try:
        yield name, created
    finally:
        with _my() as conn, conn.cursor() as cur:  # and any renamed copy a restore made
            cur.execute("SHOW DATABASES")
            names = [str(r[0]) for r in cur.fetchall()]
            for db in set(created) | {n for n in names if n.startswith(name)}:
                cur.execute(f"DROP DATABASE IF EXISTS `{db}`")


def _my_digest(dbname: str) -> dict[str, str]:
    with _my(dbname) as conn, conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE accounts")
        checksum = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM accounts")
        count = cur.fetchone()
    return {"accounts": f"{count[0]}:{checksum[1]}"}


def _run_loop(
    dbs: DbsCommand,
    engine: str,
    source_url: str,
    target_url: str,
    digest_source: Callable[[], dict[str, str]],
    digest_target: Callable[[], dict[str, str]],
) -> tuple[str, str]:
    plan = plan_id(dbs, engine, "large")
    moment = datetime.now(UTC) + timedelta(seconds=8)
    dbs(
        "plan",
        "configure",
        plan,
        "--source",
        source_url,
        "--days",
        moment.strftime("%a"),
        "--start",
        moment.strftime("%H:%M:%S"),
        "--timezone",
        "UTC",
        check=True,
    )
    started = dbs("plan", "start", plan, "--json", check=True).json()
    assert started["BackupPlanStatus"] == "running", started
    before = digest_source()
    server = ServerProcess(dbs.home)
    try:
        sets = wait_for(
            lambda: dbs("backup", "list", "--plan", plan, "--json", check=True).json(),
            180,
            "the scheduled backup",
        )
    finally:
        assert server.stop() == 0, server.output()
    backup_set = sets[0]
    job = dbs("job", "show", backup_set["JobId"], "--json", check=True).json()
    assert job["Trigger"] == "schedule" and job["JobState"] == "finish", job
    task = dbs(
        "restore",
        "create",
        plan,
        "--backup-set",
        backup_set["BackupSetId"],
        "--target",
        target_url,
        "--start",
        "--wait",
        "--json",
    )
    assert task.code == 0, task.out + task.err
    assert task.json()["RestoreTaskStatus"] == "finish"
    assert digest_target() == before
    return plan, backup_set["BackupSetId"]


def _ready_home(tmp_path: Path) -> DbsCommand:
    dbs = DbsCommand(tmp_path / "home")
    dbs("init", check=True)
    dbs("authorize", check=True)
    dbs("storage", "activate", "--accept-agreement", check=True)
    return dbs


def test_postgresql_scheduled_backup_and_restore(
    tmp_path: Path, pg_source: tuple[str, list[str]]
) -> None:
    name, created = pg_source
    target = f"{name}_restored"
    created.append(target)
    dbs = _ready_home(tmp_path)
    plan, set_id = _run_loop(
        dbs,
        "postgresql",
        f"postgresql://postgres@127.0.0.1:5432/{name}",
        f"postgresql://postgres@127.0.0.1:5432/{target}",
        lambda: _pg_digest(name),
        lambda: _pg_digest(target),
    )
    # A whole-instance target with --rename-to restores the database under the new name;
    # --verify rows checks row counts only.
    renamed = f"{name}_renamed"
    created.append(renamed)
    task = dbs(
        "restore",
        "create",
        plan,
        "--backup-set",
        set_id,
        "--target",
        "postgresql://postgres@127.0.0.1:5432/",
        "--rename-to",
        f"{name}={renamed}",
        "--verify",
        "rows",
        "--start",
        "--wait",
        "--json",
        check=True,
    ).json()
    assert task["VerifyLevel"] == "rows" and task["Result"]["VerifyLevel"] == "rows", task
    assert task["Result"]["Verified"] is True
    assert _pg_digest(renamed) == _pg_digest(name)
    wrong_level = dbs(
        "restore", "create", plan, "--backup-set", set_id, "--target",
        "postgresql://postgres@127.0.0.1:5432/", "--verify", "quick",
    )  # fmt: skip
    assert wrong_level.code == 1 and "--verify: 'quick' is not a level" in wrong_level.err
    assert "Traceback" not in wrong_level.err
    wrong_engine = dbs(
        "restore", "create", plan, "--backup-set", set_id, "--target",
        "postgresql://postgres@127.0.0.1:5432/", "--definer", "current",
    )  # fmt: skip
    assert wrong_engine.code == 1 and "--definer applies to mysql restores" in wrong_engine.err
    bad = dbs(
        "restore",
        "create",
        plan,
        "--backup-set",
        set_id,
        "--target",
        "postgresql://postgres@127.0.0.1:5432/",
        "--rename-to",
        "nonsense",
    )
    assert bad.code == 1 and "--rename-to" in bad.err


def test_mariadb_scheduled_backup_and_restore(
    tmp_path: Path, mysql_source: tuple[str, list[str]]
) -> None:
    name, created = mysql_source
    target = f"{name}_restored"
    created.append(target)
    dbs = _ready_home(tmp_path)
    plan, set_id = _run_loop(
        dbs,
        "mysql",
        f"mysql://root@127.0.0.1:3306/{name}",
        f"mysql://root@127.0.0.1:3306/{target}",
        lambda: _my_digest(name),
        lambda: _my_digest(target),
    )
    assert _view_definer(target) == "dbs_ghost@%"  # kept by default
    # --definer current: the restoring account becomes the view's definer.
    mine = f"{name}_mine"
    created.append(mine)
    task = dbs(
        "restore", "create", plan, "--backup-set", set_id, "--target",
        f"mysql://root@127.0.0.1:3306/{mine}", "--definer", "current", "--no-binlog",
        "--start", "--wait", "--json", check=True,
    ).json()  # fmt: skip
    assert task["EngineOptions"] == {"definer": "current", "binlog": False}, task
    assert _view_definer(mine).startswith("root@")
    assert _my_digest(mine) == _my_digest(name)
    for wrong, message in (
        (["--owners"], "--owners applies to postgresql restores"),
        (["--definer", "nobody"], "--definer: 'nobody' is not allowed; use one of keep, current"),
    ):
        bad = dbs("restore", "create", plan, "--backup-set", set_id, "--target",
                  f"mysql://root@127.0.0.1:3306/{mine}x", *wrong)  # fmt: skip
        assert bad.code == 1 and message in bad.err and "Traceback" not in bad.err, bad.err


def _view_definer(database: str) -> str:
    with _my() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s", (database,)
        )
        return str(cur.fetchone()[0])

