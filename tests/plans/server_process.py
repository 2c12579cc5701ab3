"""Starting and stopping a real ``dbs server`` in tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.foundation.cli import DBS
from tests.foundation.test_server import _free_port

T = TypeVar("T")


class ServerProcess:
    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBS_")}
        env["DBS_HOME"] = str(home)
        self.log = home.parent / f"server-{time.monotonic_ns()}.log"
        self._log_file = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [DBS, "server", "--listen", f"127.0.0.1:{_free_port()}", "--tick", "0.2"],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._log_file.close()
        return code

    def output(self) -> str:
        return self.log.read_text()


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
