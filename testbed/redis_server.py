"""Private redis-server instances (own port, own temp dir), for the Redis engine tests and
the Redis benchmark."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from dbs.engines.endpoint import Endpoint, parse_endpoint
from testbed.ports import free_port
from testbed.process import stop_process

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One redis-server process; ``stop()`` ends it and removes its directory."""

    def __init__(self, *extra: str, password: str | None = None, directory: Path | None = None):
        self.dir = directory or Path(tempfile.mkdtemp(prefix="dbs-redis-"))
        self.owns_dir = directory is None
        self.port = free_port()
        self.password = password
        args = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--enable-debug-command", "yes",
            # Redis 7 waits 5 s for more replicas before a diskless transfer by default.
            "--repl-diskless-sync-delay", "0",
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
            *extra,
        ]  # fmt: skip
        if password:
            args += ["--requirepass", password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"redis-server did not start:\n{log}") from None
                time.sleep(0.05)

    def client(self, db: int = 0) -> redis.Redis:
        # DEBUG DIGEST over a million keys takes seconds, more on a busy machine.
        return redis.Redis(port=self.port, db=db, password=self.password, socket_timeout=600)

    def endpoint(self, db: int | None = None) -> Endpoint:
        auth = f":{self.password}@" if self.password else ""
        suffix = f"/{db}" if db is not None else ""
        return parse_endpoint(f"redis://{auth}127.0.0.1:{self.port}{suffix}")

    def stop(self) -> None:
        stop_process(self.process)
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def redis_server(*extra: str, password: str | None = None) -> Iterator[RedisServer]:
    server = RedisServer(*extra, password=password)
    try:
        yield server
    finally:
        server.stop()
