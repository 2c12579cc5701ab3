"""What a Redis server says about itself (INFO), read once per operation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis


@dataclass(frozen=True)
class ServerFacts:
    version: str
    role: str
    keyspace: Mapping[str, Mapping[str, int]]
    info: Mapping[str, Any]

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor = [*self.version.split("."), "0", "0"][:2]
        return int(major), int(minor)


def server_facts(client: redis.Redis) -> ServerFacts:
    info: dict[str, Any] = client.info("all")
    keyspace = {k: v for k, v in info.items() if k.startswith("db") and isinstance(v, dict)}
    return ServerFacts(
        version=str(info.get("redis_version", "0.0.0")),
        role=str(info.get("role", "")),
        keyspace=keyspace,
        info=info,
    )
