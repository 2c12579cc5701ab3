"""Full backup: pull an RDB over replication, prove it parses, store it as one stream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from typing import Any

import redis

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis.connection import client, db_number, server_facts
from dbs.engines.redis.format import FORMAT_VERSION, RDB_STREAM
from dbs.engines.redis.objects import KeyFilter
from dbs.engines.redis.rdb import ChunkReader, FunctionRecord, KeyRecord, RdbError, RdbParser
from dbs.engines.redis.rdb_writer import RdbWriter
from dbs.engines.redis.replication import pull_rdb
from dbs.engines.selection import ObjectSelection
from dbs.errors import DbsError
from dbs.streams import BackupWriter, Progress


class _Tally:
    """Key counts per db, expiring keys, functions: what the manifest records."""

    def __init__(self) -> None:
        self.keys: Counter[int] = Counter()
        self.expires: Counter[int] = Counter()
        self.functions = 0

    def add(self, record: KeyRecord | FunctionRecord) -> None:
        if isinstance(record, FunctionRecord):
            self.functions += 1
            return
        self.keys[record.db] += 1
        if record.expire_ms is not None:
            self.expires[record.db] += 1


def _pass_through(
    body: Iterator[bytes], parser_out: list[RdbParser], tally: _Tally
) -> Generator[bytes, None, None]:
    """The server's bytes unchanged, parsed on the way to count keys and check the CRC."""
    pulled: list[bytes] = []
    parser = RdbParser(ChunkReader(body, pulled))
    parser_out.append(parser)
    for record in parser.records():
        tally.add(record)
        if pulled:
            yield from pulled
            pulled.clear()
    yield from pulled


def _filtered(
    body: Iterator[bytes], parser_out: list[RdbParser], tally: _Tally, keep: KeyFilter
) -> Generator[bytes, None, None]:
    """A new RDB holding only the selected keys (functions kept: they are instance-wide)."""
    parser = RdbParser(ChunkReader(body))
    parser_out.append(parser)
    records = parser.records()
    writer: RdbWriter | None = None
    for record in records:
        if writer is None:  # the header has been read once the first record arrives
            writer = RdbWriter(parser.version, parser.aux)
        if isinstance(record, KeyRecord) and not keep.wants(record.db, record.key):
            continue
        tally.add(record)
        yield from writer.add(record)
    if writer is None:
        writer = RdbWriter(parser.version, parser.aux)
    yield writer.finish()


def backup(
    source: Endpoint,
    selection: ObjectSelection,
    writer: BackupWriter,
    progress: Progress,
    *,
    parallel: int = 1,  # one snapshot, one stream
) -> dict[str, Any]:
    keep = KeyFilter(selection, db_number(source))
    try:
        with client(source) as conn:
            facts = server_facts(conn)
    except redis.RedisError as exc:
        raise EngineError("connect to source", f"{exc}; run precheck") from exc
    progress.step(
        f"pull a snapshot from Redis {facts.version} over the replication protocol (PSYNC)"
    )
    sync, body = pull_rdb(source, progress)
    tally = _Tally()
    parsers: list[RdbParser] = []
    pieces = (
        _pass_through(body, parsers, tally)
        if keep.everything
        else _filtered(body, parsers, tally, keep)
    )
    try:
        info = writer.add_stream(RDB_STREAM, pieces, None)
    except RdbError as exc:
        raise EngineError("parse snapshot", f"{exc}; the backup was not stored") from exc
    except (EngineError, DbsError):
        raise
    except Exception as exc:
        raise EngineError(f"store stream {RDB_STREAM}", str(exc)) from exc
    finally:
        pieces.close()
        body.close()
    parser = parsers[0]
    if parser.checksum_ok is False:
        raise EngineError("verify snapshot", "the RDB's CRC64 does not match its content")
    aux = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in parser.aux}
    dbs = sorted(tally.keys)
    return {
        "engine": "redis",
        "format_version": FORMAT_VERSION,
        "redis_version": facts.version,
        "rdb_version": parser.version,
        "source": source.display(),
        "stream": RDB_STREAM,
        "replication_id": sync.replid,
        "replication_offset": sync.offset,
        "transfer": sync.framing,
        "rdb_only": sync.rdb_only,
        "db": keep.only_db,
        "selection": selection.to_spec(),
        "filtered": not keep.everything,
        "rdb_checksum": "ok" if parser.checksum_ok else "absent",
        "keys_per_db": {str(db): tally.keys[db] for db in dbs},
        "expires_per_db": {str(db): tally.expires[db] for db in dbs},
        "functions": tally.functions,
        "aux": {k: aux[k] for k in ("redis-ver", "ctime", "used-mem", "aof-base") if k in aux},
        "objects": [{"name": str(db), "kind": "keyspace", "rows": tally.keys[db]} for db in dbs],
        "size": info.size,
        "checksum": info.checksum,
    }
