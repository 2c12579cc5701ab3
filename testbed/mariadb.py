"""A private MariaDB server (binlog on, ROW format) in a temp dir, and plain SQL helpers.

Used by the MySQL engine tests that need server settings the shared server does not have,
and by the MySQL benchmark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql

from dbs.engines.endpoint import Endpoint
from testbed.ports import free_port
from testbed.process import stop_process


def sql_connect(endpoint: Endpoint, database: str | None = None) -> Any:
    return pymysql.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password or "",
        database=database,
        charset="utf8mb4",
        autocommit=True,
    )


def execute(endpoint: Endpoint, statements: list[str], database: str | None = None) -> None:
    conn = sql_connect(endpoint, database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def rows(endpoint: Endpoint, sql: str, database: str | None = None) -> list[tuple[Any, ...]]:
    conn = sql_connect(endpoint, database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


class PrivateServer:
    """A mariadbd of our own in a temp dir (binlog on, ROW format), stopped by ``stop()``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dbs-mariadb-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_args: list[str] = ["--innodb-buffer-pool-size=128M"]

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(engine="mysql", host="127.0.0.1", port=self.port, user="root", password="")

    def start(self) -> PrivateServer:
        datadir = self.dir / "data"
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db", "--user=" + _user()],
            check=True, capture_output=True,
        )  # fmt: skip
        with open(self.dir / "err.log", "wb") as log:
            self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.dir / 'sock'}", "--user=" + _user(),
             "--log-bin=binlog", "--binlog-format=ROW", "--server-id=1", "--local-infile=1",
             "--skip-log-error", *self.extra_args,
             f"--pid-file={self.dir / 'pid'}"],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                sql_connect(self.endpoint).close()
                return self
            except pymysql.err.OperationalError:
                if self.process.poll() is not None:
                    raise RuntimeError((self.dir / "err.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        raise RuntimeError("private mariadbd did not start in 60 s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


def _user() -> str:
    return "root" if os.geteuid() == 0 else os.environ.get("USER", "mysql")


def private_server() -> Iterator[PrivateServer]:
    server = PrivateServer().start()
    try:
        yield server
    finally:
        server.stop()
