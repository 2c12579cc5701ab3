"""Feed a stream to ``LOAD DATA LOCAL INFILE`` without holding it in memory or on disk.

PyMySQL sends the client-side file the server asks for by opening it by name. We name a
FIFO and write the backup stream into it from a feeder thread, so the bytes flow straight
from the repository reader to the server.

The feeder's open of the FIFO waits until PyMySQL opens it for reading. If the statement
ends without ever reading the file (the server refused it, or it was killed), nobody
will: then we open the FIFO for reading ourselves, which lets the feeder's open return,
and close it again, so its writes fail (EPIPE) and it ends. We repeat that until the
feeder has ended, since it may reach its open only after our first try.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from dbs.engines.mysql.connection import Connection
from dbs.engines.parallel import THREAD_PREFIX
from dbs.streams import Progress

_UNBLOCK_EVERY = 0.05  # seconds between attempts to let a waiting feeder go


def load_stream(
    conn: Connection, statement: str, chunks: Iterator[bytes], fifo_path: str, progress: Progress
) -> None:
    """Run ``statement`` (one ``%s`` for the file name) reading ``chunks`` as the file.

    ``progress`` hears of every piece fed; if it raises (a stop), the file ends there, the
    statement finishes on what it got and the exception is raised."""
    os.mkfifo(fifo_path, 0o600)
    failures: list[BaseException] = []

    def feed() -> None:
        try:
            with open(fifo_path, "wb") as pipe:
                for chunk in chunks:
                    pipe.write(chunk)
                    progress.advance(bytes_done=len(chunk))
        except BrokenPipeError:
            pass  # nobody reads any more: the statement's own error is the one to report
        except BaseException as exc:  # e.g. a damaged stream or a stop: fail the load
            failures.append(exc)

    feeder = threading.Thread(target=feed, name=f"{THREAD_PREFIX}-mysql-feed", daemon=True)
    feeder.start()
    try:
        with conn.cursor() as cur:
            cur.execute(statement, (fifo_path,))
    finally:
        while feeder.is_alive():
            with contextlib.suppress(OSError):
                os.close(os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK))
            feeder.join(_UNBLOCK_EVERY)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        os.unlink(fifo_path)
    if failures:
        raise failures[0]
