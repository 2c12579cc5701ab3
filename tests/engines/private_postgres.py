"""A private PostgreSQL server from the installed binaries, for tests that need settings the
shared server does not have (password checks, TLS only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from testbed.ports import free_port

from dbs.engines.endpoint import Endpoint

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def private_postgres(
    password: str,
    settings: list[str] | None = None,
    prepare: Callable[[Path], list[str]] | None = None,
    hba: str | None = None,
) -> Iterator[Endpoint]:
    """Start a scram-sha-256 server on a free loopback port; stop and remove it afterwards.

    ``prepare(root)`` may write files into the server's directory (certificates, say) and
    returns settings that name them; ``hba`` replaces pg_hba.conf.
    """
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries not installed")
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="dbs-pgpriv-"))
    (root / "pw").write_text(password)
    extra = list(settings or []) + (prepare(root) if prepare else [])
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        for path in [root, *root.iterdir()]:
            shutil.chown(path, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = root / "data"
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                    "-A", "scram-sha-256", f"--pwfile={root / 'pw'}", "-N"],
                   check=True, capture_output=True)  # fmt: skip
    if hba is not None:
        (data / "pg_hba.conf").write_text(hba)
    options = " ".join(
        [f"-p {port}", f"-k {root}", "-c listen_addresses=127.0.0.1", "-c fsync=off"]
        + [f"-c {s}" for s in extra]
    )
    started = subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w",
                              "-l", str(root / "log"), "-o", options, "start"],
                             capture_output=True)  # fmt: skip
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"private PostgreSQL did not start: {log[-2000:]}")
    try:
        yield Endpoint(engine="postgresql", host="127.0.0.1", port=port, user="postgres",
                       password=password, database="postgres")  # fmt: skip
    finally:
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
