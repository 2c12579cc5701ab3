"""``dbs server`` starts on a fresh home, says where it is and what to do, and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.foundation.cli import DBS, DbsCommand


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _health(port: int, deadline: float) -> dict[str, object]:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                body: dict[str, object] = json.loads(resp.read())
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_server_reports_home_and_next_steps(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBS_")}
    env["DBS_HOME"] = str(home)
    proc = subprocess.Popen(
        [DBS, "server", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = _health(port, time.monotonic() + 30)
        assert status["Home"] == str(home.resolve())
        assert status["AccountId"] is None
        assert str(status["NextStep"]).startswith("dbs init")
        DbsCommand(home)("init", check=True)  # the CLI and the server share the catalog
        status = _health(port, time.monotonic() + 10)
        assert status["AccountId"] is not None
        assert str(status["NextStep"]).startswith("dbs authorize")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"home {home.resolve()}" in out
    assert "next, in another terminal: " in out and "dbs init (creates the account" in out
    assert (home / "catalog.db").exists()


def test_server_refuses_a_bad_listen_address(tmp_path: Path) -> None:
    r = DbsCommand(tmp_path / "home")("server", "--listen", "nonsense")
    assert r.code == 1 and "--listen" in r.err
