"""``dbs check`` and ``dbs prune`` through the CLI, on a repository with real damage."""

from __future__ import annotations

from pathlib import Path

from tests.foundation.cli import DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id


def test_check_names_a_damaged_pack_and_the_sets_it_affects(
    dbs: DbsCommand, tmp_path: Path
) -> None:
    source = make_sqlite_source(tmp_path / "src.db", rows=3000)
    plan = plan_id(dbs, "sqlite")
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", check=True)
    dbs("plan", "start", plan, check=True)
    set_id = dbs("backup", "run", plan, "--wait", "--json", check=True).json()["BackupSetId"]

    clean = dbs("check", "--read-data")
    assert clean.code == 0 and "no problems found" in clean.out
    dry = dbs("prune", "--dry-run", check=True)
    assert "would delete 0 packs" in dry.out

    packs = sorted(p for p in (dbs.home / "storage" / "packs").rglob("*") if p.is_file())
    assert packs
    damaged = packs[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    # Without --read-data the structure is intact; with it the flipped byte is found.
    result = dbs("check", "--read-data")
    assert result.code == 1
    assert damaged.name in result.out
    assert set_id in result.out
    as_json = dbs("check", "--read-data", "--json")
    assert as_json.code == 1
    report = as_json.json()[0]
    assert report["Ok"] is False and set_id in report["DamagedBackupSets"]

    damaged.unlink()
    missing = dbs("check")
    assert missing.code == 1 and damaged.name in missing.out and set_id in missing.out
