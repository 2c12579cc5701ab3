"""The Redis backup format: one stream holding an RDB file.

A backup set made by this engine has one stream, ``dump.rdb``: the snapshot
the server sent over the replication protocol, stored byte for byte when the
whole instance is selected, or rebuilt record by record (same RDB version,
fresh CRC64 trailer) when only some databases or keys are. Either way it is a
file ``redis-server`` loads and ``redis-check-rdb`` accepts.
"""

from __future__ import annotations

FORMAT_VERSION = 1
RDB_STREAM = "dump.rdb"
# Pieces handed to the repository; RDB has no record alignment worth cutting on.
PIECE = 1 << 20
# Commands per pipeline round trip during a key-by-key restore.
PIPELINE_BATCH = 1000
# ... or fewer, so that a batch of large values stays within this many bytes in memory.
PIPELINE_BYTES = 16 << 20
