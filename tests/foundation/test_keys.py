"""Repository keys: export, rotate, and opening the backups from another home."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.foundation.cli import DbsCommand
from tests.plans.conftest import make_sqlite_source, plan_id, sqlite_digest


def _backup(dbs: DbsCommand, source: Path) -> tuple[str, str]:
    plan = plan_id(dbs, "sqlite")
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", check=True)
    dbs("plan", "start", plan, check=True)
    set_id = dbs("backup", "run", plan, "--wait", "--json", check=True).json()["BackupSetId"]
    return plan, set_id


def test_export_rotate_and_open_from_another_home(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    first = DbsCommand(tmp_path / "home1")
    first("init", check=True)
    first("authorize", check=True)
    first("storage", "activate", "--accept-agreement", "--local", str(storage), check=True)
    source = make_sqlite_source(tmp_path / "src.db", rows=300)
    plan, set_id = _backup(first, source)

    export = tmp_path / "key-export.json"
    result = first("key", "export", "--to", str(export), "--json", check=True).json()
    assert result["WrappedBy"] == "keyfile"
    doc = json.loads(export.read_text())
    assert doc["keys"] and doc["instructions"]
    key_file = (tmp_path / "home1" / "keys" / "repository.key").read_bytes()
    assert key_file not in export.read_bytes()

    # Rotate to a passphrase: no data is rewritten, old backups still restore.
    packs_before = sorted(p.name for p in (storage / "packs").rglob("*") if p.is_file())
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    rotated = first(
        "key", "rotate", "--passphrase-file", str(passphrase), "--json", check=True
    ).json()
    assert rotated["WrappedBy"] == "passphrase"
    assert sorted(p.name for p in (storage / "packs").rglob("*") if p.is_file()) == packs_before
    assert not (tmp_path / "home1" / "keys" / "repository.key").exists()
    target = tmp_path / "restored.db"
    first(
        "restore",
        "create",
        plan,
        "--backup-set",
        set_id,
        "--target",
        f"sqlite://{target}",
        "--start",
        "--wait",
        check=True,
    )
    assert sqlite_digest(target) == sqlite_digest(source)
    first("key", "export", "--to", str(export), check=True)

    # The storage loses its keys/ folder; a new home opens it with the export + passphrase.
    shutil.rmtree(storage / "keys")
    second = DbsCommand(tmp_path / "home2")
    second("init", check=True)
    second("authorize", check=True)
    refused = second("storage", "activate", "--accept-agreement", "--local", str(storage))
    assert refused.code == 1 and "--passphrase-file" in refused.err
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    bad = second(
        "storage",
        "activate",
        "--accept-agreement",
        "--local",
        str(storage),
        "--passphrase-file",
        str(wrong),
        "--key-export",
        str(export),
    )
    assert bad.code == 1 and "Traceback" not in bad.err
    second(
        "storage",
        "activate",
        "--accept-agreement",
        "--local",
        str(storage),
        "--passphrase-file",
        str(passphrase),
        "--key-export",
        str(export),
        check=True,
    )
    verified = second("check", "--read-data")
    assert verified.code == 0, verified.out + verified.err
    assert "no problems found" in verified.out


def test_rotate_to_a_new_key_file(tmp_path: Path) -> None:
    dbs = DbsCommand(tmp_path / "home")
    dbs("init", check=True)
    dbs("authorize", check=True)
    dbs("storage", "activate", "--accept-agreement", check=True)
    _backup(dbs, make_sqlite_source(tmp_path / "src.db", rows=100))
    old = (tmp_path / "home" / "keys" / "repository.key").read_bytes()
    assert dbs("key", "rotate", "--json", check=True).json()["WrappedBy"] == "keyfile"
    assert (tmp_path / "home" / "keys" / "repository.key").read_bytes() != old
    assert dbs("check", "--read-data").code == 0


def test_unencrypted_storage_only_when_asked(tmp_path: Path) -> None:
    dbs = DbsCommand(tmp_path / "home")
    dbs("init", check=True)
    dbs("authorize", check=True)
    shown = dbs(
        "storage", "activate", "--accept-agreement", "--no-encryption", "--json", check=True
    ).json()
    assert shown["Encryption"] == "none"
    r = dbs("key", "export", "--to", str(tmp_path / "k.json"))
    assert r.code == 1 and "not encrypted" in r.err
    # An encrypted plan cannot live in unencrypted storage: refused when configured.
    source = make_sqlite_source(tmp_path / "src.db", rows=10)
    plan = plan_id(dbs, "sqlite")
    r = dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual")
    assert r.code == 1 and "--no-encryption" in r.err
    dbs("plan", "configure", plan, "--source", f"sqlite://{source}", "--manual", "--no-encryption", check=True)
