"""Feed a stream to ``LOAD DATA LOCAL INFILE`` without holding it in memory or on disk.

PyMySQL sends the client-side file the server asks for by opening it by name. We name a
FIFO and write the backup stream into it from a thread, so the bytes flow straight from
the repository reader to the server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from dbs.engines.mysql.connection import Connection


def load_stream(conn: Connection, statement: str, chunks: Iterator[bytes], fifo_path: str) -> None:
    """Run ``statement`` (one ``%s`` for the file name) reading ``chunks`` as the file."""
    os.mkfifo(fifo_path, 0o600)
    failures: list[BaseException] = []

    def feed() -> None:
        try:
            with open(fifo_path, "wb") as pipe:
                for chunk in chunks:
                    pipe.write(chunk)
        except BrokenPipeError:
            pass  # the server stopped reading; its error is the one to report
        except BaseException as exc:  # e.g. a damaged stream: fail the load, not silently
            failures.append(exc)

    feeder = threading.Thread(target=feed, name="mysql-load-feed", daemon=True)
    feeder.start()
    try:
        with conn.cursor() as cur:
            cur.execute(statement, (fifo_path,))
    finally:
        # If the server never asked for the file, the feeder still waits to open the FIFO:
        # open and close the read end so its writes fail and it ends.
        try:
            fd = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        feeder.join()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        os.unlink(fifo_path)
    if failures:
        raise failures[0]
