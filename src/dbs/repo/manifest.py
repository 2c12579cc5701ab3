"""Backup-set manifests: ``sets/<set id>``, written last, with a create-only put.

A set exists if and only if its manifest exists. The manifest is a sealed
JSON document listing the set's streams (name, size, BLAKE3 checksum, chunk
count and the ids of its chunk-list blobs) and the engine's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.layout import FORMAT_VERSION, set_key
from dbs.streams import StreamInfo

MANIFEST_FORMAT = "dbs-manifest"


@dataclass(frozen=True)
class BackupSetInfo:
    id: str
    created_at: datetime  # aware, UTC
    stream_count: int
    original_size: int  # bytes of all streams
    stored_size: int  # new bytes this set added to storage (after dedup/compression)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamRecord:
    info: StreamInfo
    chunk_lists: list[bytes]  # ids of chunk-list blobs, in order

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "size": self.info.size,
            "checksum": self.info.checksum,
            "chunk_count": self.info.chunk_count,
            "chunk_lists": [cid.hex() for cid in self.chunk_lists],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StreamRecord:
        info = StreamInfo(
            name=str(raw["name"]),
            size=int(raw["size"]),
            checksum=str(raw["checksum"]),
            chunk_count=int(raw["chunk_count"]),
        )
        return cls(info, [bytes.fromhex(h) for h in raw["chunk_lists"]])


@dataclass(frozen=True)
class Manifest:
    info: BackupSetInfo
    streams: list[StreamRecord]
    metadata: Mapping[str, Any]

    def encode(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "version": FORMAT_VERSION,
            "id": self.info.id,
            "created_at": self.info.created_at.isoformat(),
            "original_size": self.info.original_size,
            "stored_size": self.info.stored_size,
            "tags": dict(self.info.tags),
            "streams": [s.to_json() for s in self.streams],
            "metadata": self.metadata,
        }
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != MANIFEST_FORMAT:
                raise IntegrityError("not a manifest")
            if int(doc["version"]) > FORMAT_VERSION:
                raise IntegrityError(
                    f"manifest format version {doc['version']} is newer than this program "
                    f"({FORMAT_VERSION}); upgrade dbs"
                )
            streams = [StreamRecord.from_json(s) for s in doc["streams"]]
            info = BackupSetInfo(
                id=str(doc["id"]),
                created_at=datetime.fromisoformat(doc["created_at"]),
                stream_count=len(streams),
                original_size=int(doc["original_size"]),
                stored_size=int(doc["stored_size"]),
                tags={str(k): str(v) for k, v in doc["tags"].items()},
            )
            return cls(info, streams, doc["metadata"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(f"manifest is malformed: {exc}") from None


def read_manifest(crypto: Crypto, set_id: str, data: bytes) -> Manifest:
    manifest = Manifest.decode(crypto.open_object(set_key(set_id), data))
    if manifest.info.id != set_id:
        raise IntegrityError("manifest id does not match its object name")
    return manifest
