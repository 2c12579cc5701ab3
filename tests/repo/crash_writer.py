"""A backup writer that streams until it is killed (run by test_crash.py as a subprocess).

The store is described by the JSON in ``DBS_TEST_STORE`` (secrets stay out of argv).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

from dbs.repo import KeySource, Repository
from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore


def open_store(config: dict[str, str]) -> ObjectStore:
    if config["kind"] == "local":
        return LocalStore(config["root"])
    from dbs.storage.s3 import MIN_PART_SIZE, S3Store

    return S3Store(
        config["endpoint"],
        config["bucket"],
        config["region"],
        config["access_key_id"],
        config["secret_access_key"],
        "",
        part_size=MIN_PART_SIZE,
    )


def endless() -> Iterator[bytes]:
    while True:
        yield os.urandom(1 << 20)


def main() -> None:
    store = open_store(json.loads(os.environ["DBS_TEST_STORE"]))
    repo = Repository.open(store, KeySource.keyfile(sys.argv[1]))
    writer = repo.begin_backup()
    print("writing", flush=True)
    writer.add_stream("endless", endless())


if __name__ == "__main__":
    main()
