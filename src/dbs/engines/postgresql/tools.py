"""Running the libpq command-line tools (pg_dump, psql, pg_restore) as streaming subprocesses.

Why subprocesses: libpq hands a COPY to Python one row per message, which
caps a psycopg reader at ~140 MiB/s on narrow rows; reading psql's stdout in
1 MiB blocks runs ~2.5x faster and keeps the per-table work in its own process.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence

from dbs.engines.base import EngineError
from dbs.streams import closing_stream

BLOCK = 1 << 20


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EngineError(
            f"find {name}",
            f"{name} is not installed; install the PostgreSQL client tools "
            "(e.g. apt-get install postgresql-client) matching the server's major version or newer",
        )
    return path


def _stderr_text(raw: bytes) -> str:
    lines = [ln.strip() for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]
    return "; ".join(lines[-4:]) if lines else "no message"


class _Drain(threading.Thread):
    """Collects a pipe in the background so a chatty stderr cannot block the child."""

    def __init__(self, pipe: object) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.data = b""

    def run(self) -> None:
        self.data = self.pipe.read()  # type: ignore[attr-defined]


def stream_stdout(
    argv: Sequence[str], env: dict[str, str], step: str, tool: str | None = None
) -> Iterator[bytes]:
    """Yield the tool's stdout in blocks; raise EngineError(step) if it exits non-zero.

    Closing the generator before the end (whoever iterates it must, see
    `dbs.streams.closing_stream`) kills the tool and reaps it: a tool left blocked on a
    pipe nobody reads would hold its server session (and a snapshot) for good.
    ``tool`` names the tool in that error when argv starts with a wrapper (stdbuf)."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    drain = _Drain(proc.stderr)
    drain.start()
    try:
        while True:
            block = proc.stdout.read(BLOCK)
            if not block:
                break
            yield block
        rc = proc.wait()
        drain.join()
        if rc != 0:
            name = tool or argv[0].rsplit("/", 1)[-1]
            raise EngineError(step, f"{name} failed: {_stderr_text(drain.data)}")
    finally:
        _end(proc, drain)


def _end(proc: subprocess.Popen[bytes], *drains: _Drain) -> None:
    """Kill the tool if it still runs, reap it, and close our ends of its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for drain in drains:
        drain.join()  # its pipe hits end-of-file once the tool is gone
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def feed_stdin(argv: Sequence[str], env: dict[str, str], step: str, blocks: Iterable[bytes]) -> str:
    """Run the tool with ``blocks`` as stdin; return its stdout; EngineError on failure."""
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None
    out, err = _Drain(proc.stdout), _Drain(proc.stderr)
    out.start()
    err.start()
    try:
        try:
            with closing_stream(blocks) as pieces:
                for block in pieces:
                    proc.stdin.write(block)
        except BrokenPipeError:
            pass  # the tool died; its exit status and stderr say why
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        rc = proc.wait()
    finally:
        _end(proc, out, err)
    if rc != 0:
        raise EngineError(step, f"{argv[0].rsplit('/', 1)[-1]} failed: {_stderr_text(err.data)}")
    return out.data.decode("utf-8", "replace")


def run(argv: Sequence[str], env: dict[str, str], step: str) -> str:
    """Run a tool to completion; return stdout; raise EngineError(step) on failure."""
    proc = subprocess.run(list(argv), capture_output=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise EngineError(step, f"{argv[0].rsplit('/', 1)[-1]} failed: {_stderr_text(proc.stderr)}")
    return proc.stdout.decode("utf-8", "replace")
