"""Running the real ``dbs`` command in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DBS = str(Path(sys.executable).with_name("dbs"))


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class DbsCommand:
    """``dbs`` with a fixed home, optionally acting with an access key."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = env or {}

    def as_key(self, key_id: str, secret: str) -> DbsCommand:
        return DbsCommand(
            self.home, {**self.env, "DBS_ACCESS_KEY_ID": key_id, "DBS_ACCESS_KEY_SECRET": secret}
        )

    def __call__(self, *args: str, check: bool = False, timeout: float = 120) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBS_")}
        env.update({"DBS_HOME": str(self.home), "COLUMNS": "200", **self.env})
        proc = subprocess.run(
            [DBS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and result.code != 0:
            raise AssertionError(
                f"dbs {' '.join(args)} exited {result.code}: {result.err}{result.out}"
            )
        return result
