"""Key-by-key restore into a running server: pipelined ``RESTORE ... ABSTTL``, verified per batch.

Each key's DUMP payload is rebuilt from the RDB (type + serialized value +
RDB version + CRC64), so values keep their exact encoding, and TTLs are given
as the absolute expiry times the snapshot recorded (keys already past theirs
are not restored at all). After every batch the same keys are read back
(``TYPE``, ``PEXPIRETIME``) and compared with the snapshot (verify.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from dbs.engines.base import EngineError, RestoreResult
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis.connection import RawConnection, client, encode_command
from dbs.engines.redis.format import PIPELINE_BATCH, PIPELINE_BYTES, RDB_STREAM
from dbs.engines.redis.objects import KeyFilter, key_label
from dbs.engines.redis.rdb import ChunkReader, FunctionRecord, KeyRecord, RdbParser, dump_payload
from dbs.engines.redis.verify import now_ms, readback_commands, readback_mismatches
from dbs.streams import BackupReader, Progress

_MAX_REPORTED = 20


@dataclass
class _Outcome:
    restored: Counter[int] = field(default_factory=Counter)
    skipped: int = 0
    expired: int = 0
    mismatches: list[str] = field(default_factory=list)
    mismatch_count: int = 0

    def mismatch(self, text: str) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < _MAX_REPORTED:
            self.mismatches.append(text)


def selected_records(
    reader: BackupReader, keep: KeyFilter
) -> Iterator[tuple[RdbParser, KeyRecord | FunctionRecord]]:
    """Every function and every selected key of the backup, in RDB order."""
    parser = RdbParser(ChunkReader(reader.open_stream(RDB_STREAM)))
    for record in parser.records():
        if isinstance(record, KeyRecord) and not keep.wants(record.db, record.key):
            continue
        yield parser, record


def _batches(
    reader: BackupReader, keep: KeyFilter, functions: list[FunctionRecord], out: _Outcome
) -> Iterator[tuple[int, list[KeyRecord]]]:
    """(source db, keys) in pipeline-sized batches; expired keys counted and dropped."""
    batch: list[KeyRecord] = []
    batch_bytes = 0
    now = now_ms()
    for _parser, record in selected_records(reader, keep):
        if isinstance(record, FunctionRecord):
            functions.append(record)
            continue
        if record.expire_ms is not None and record.expire_ms <= now:
            out.expired += 1
            continue
        full = len(batch) >= PIPELINE_BATCH or batch_bytes >= PIPELINE_BYTES
        if batch and (record.db != batch[0].db or full):
            yield batch[0].db, batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += len(record.value)
    if batch:
        yield batch[0].db, batch


class LiveRestore:
    def __init__(
        self,
        reader: BackupReader,
        target: Endpoint,
        keep: KeyFilter,
        db_map: dict[int, int],
        conflict: str,
        progress: Progress,
    ) -> None:
        self.reader = reader
        self.target = target
        self.keep = keep
        self.db_map = db_map
        self.conflict = conflict
        self.progress = progress
        self.rdb_version = int(reader.metadata.get("rdb_version", 0))
        self._clients: dict[int, redis.Redis] = {}
        self._raw: dict[int, RawConnection] = {}

    def client(self, db: int) -> redis.Redis:
        if db not in self._clients:
            self._clients[db] = client(self.target, db)
        return self._clients[db]

    def raw(self, db: int) -> RawConnection:
        """A pipelining connection with ``db`` selected (the bulk path)."""
        if db not in self._raw:
            conn = RawConnection(self.target)
            conn.call("SELECT", db)
            self._raw[db] = conn
        return self._raw[db]

    def close(self) -> None:
        for conn in self._raw.values():
            conn.close()
        for c in self._clients.values():
            c.close()

    # -- conflict pre-check ------------------------------------------------------------

    def refuse_existing_keys(self) -> None:
        """For rule fail: look before writing anything, so a refusal changes nothing."""
        targets = sorted(set(self.db_map.values()))
        if all(self.client(db).dbsize() == 0 for db in targets):
            return
        self.progress.step("check which keys already exist in the target")
        found: list[str] = []
        for db, batch in _batches(self.reader, self.keep, [], _Outcome()):
            pipe = self.client(self.db_map[db]).pipeline(transaction=False)
            for record in batch:
                pipe.exists(record.key)
            replies = pipe.execute()
            found += [
                key_label(self.db_map[db], r.key) for r, n in zip(batch, replies, strict=True) if n
            ]
            if len(found) >= 5:
                break
        if found:
            raise EngineError(
                "check target keys",
                f"keys already exist in the target, e.g. {found[:5]}; use conflict rule "
                "skip or overwrite, or restore into an empty database (rename 0 -> N)",
            )

    # -- restore -------------------------------------------------------------------------

    def _restore_command(self, record: KeyRecord) -> bytes:
        args: list[bytes | str | int] = [
            b"RESTORE",
            record.key,
            record.expire_ms or 0,
            dump_payload(record, self.rdb_version),
        ]
        if self.conflict == "overwrite":
            args.append(b"REPLACE")
        if record.expire_ms is not None:
            args.append(b"ABSTTL")
        if record.idle is not None:
            args += [b"IDLETIME", record.idle]
        if record.freq is not None:
            args += [b"FREQ", record.freq]
        return encode_command(*args)

    def _write(self, db: int, batch: list[KeyRecord], out: _Outcome) -> list[KeyRecord]:
        replies = self.raw(self.db_map[db]).pipeline([self._restore_command(r) for r in batch])
        written: list[KeyRecord] = []
        for record, reply in zip(batch, replies, strict=True):
            if not reply.startswith(b"-"):
                written.append(record)
                continue
            text = reply[1:].decode(errors="replace")
            if "BUSYKEY" in text and self.conflict == "skip":
                out.skipped += 1
                continue
            hint = ""
            if "payload version" in text:
                hint = (
                    f"; the backup's RDB version {self.rdb_version} is newer than the target "
                    "server accepts: restore into the same or a newer Redis, or use --rdb-file"
                )
            raise EngineError(f"restore key {key_label(db, record.key)}", text + hint)
        out.restored[self.db_map[db]] += len(written)
        return written

    def _verify(self, db: int, written: list[KeyRecord], out: _Outcome) -> None:
        replies = self.raw(self.db_map[db]).pipeline(readback_commands(written))
        for problem in readback_mismatches(self.db_map[db], written, replies):
            out.mismatch(problem)

    def _functions(self, functions: list[FunctionRecord], out: _Outcome) -> None:
        if not functions:
            return
        if not self.keep.everything:
            self.progress.step(f"{len(functions)} function libraries not restored (partial)")
            return
        for fn in functions:
            args = ["FUNCTION", "LOAD", *(["REPLACE"] if self.conflict == "overwrite" else [])]
            try:
                self.client(0).execute_command(*args, fn.code)  # type: ignore[no-untyped-call]
            except redis.ResponseError as exc:
                if "already exists" in str(exc) and self.conflict == "skip":
                    out.skipped += 1
                    continue
                raise EngineError("restore function library", str(exc)) from exc

    def run(self) -> RestoreResult:
        try:
            return self._run()
        except (OSError, redis.RedisError) as exc:
            raise EngineError("restore into target", f"{exc}; check the target server") from exc
        finally:
            self.close()

    def _run(self) -> RestoreResult:
        if self.conflict in ("fail", "renamenew"):
            self.refuse_existing_keys()
        out = _Outcome()
        functions: list[FunctionRecord] = []
        self.progress.step("restore keys with pipelined RESTORE ... ABSTTL")
        for db, batch in _batches(self.reader, self.keep, functions, out):
            written = self._write(db, batch, out)
            self._verify(db, written, out)
            self.progress.advance(items_done=len(batch))
        self._functions(functions, out)
        if out.mismatch_count > len(out.mismatches):
            out.mismatches.append(f"... {out.mismatch_count - len(out.mismatches)} more")
        self.progress.step(
            f"restored {sum(out.restored.values())} keys, skipped {out.skipped} existing, "
            f"{out.expired} already expired, {out.mismatch_count} mismatches"
        )
        return RestoreResult(
            restored={str(s): str(t) for s, t in sorted(self.db_map.items())},
            verified=not out.mismatches,
            mismatches=out.mismatches,
        )
