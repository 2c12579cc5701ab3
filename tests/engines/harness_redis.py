"""Conformance harness for the Redis engine: private redis-server processes.

The digest is computed with the server's own ``DEBUG DIGEST-VALUE`` per key
(plus TYPE, PEXPIRETIME and, for streams, ``XINFO STREAM FULL`` because the
value digest leaves consumer groups out), independently of the engine.
"""

from __future__ import annotations

import hashlib
import os
import time

import redis
from testbed.redis_server import RedisServer

from dbs.engines.endpoint import Endpoint
from dbs.engines.redis import ENGINE
from dbs.engines.selection import ObjectSelection

FUNCTION_LIBRARY = b"#!lua name=dbslib\nredis.register_function('seven', function() return 7 end)"


def populate_varied(server: RedisServer) -> None:
    """Every data type and encoding, TTLs, binary data, three logical databases."""
    c = server.client(0)
    c.set(b"bin\x00\xff", bytes(range(256)) * 4)
    c.set("empty", b"")
    c.set("int", 1234567)
    c.set("large", b"0123456789abcdef" * 65536 + b"tail")  # 1 MiB + 4, LZF-compressible
    c.set("unicode:ключ", "значение ✓ 日本語")
    c.rpush("list:small", *range(10))
    c.rpush("list:big", *[b"x" * 200] * 3000)
    c.sadd("set:ints", 1, 2, 3, 40000)
    c.sadd("set:strs", "a", "b", "c")
    c.sadd("set:big", *[f"member-{i}" for i in range(2000)])
    c.zadd("zset:small", {"a": 1.5, "b": float("inf"), "c": float("-inf"), "d": -2})
    c.zadd("zset:big", {f"m{i}": i / 7 for i in range(1000)})
    c.hset("hash:small", mapping={"f1": "v1", "f2": b"\x00\x01"})
    c.hset("hash:big", mapping={f"field{i}": "v" * 80 for i in range(1000)})
    for i in range(5):
        c.xadd("stream", {"n": i, "payload": "p" * i})
    c.xgroup_create("stream", "group1", id="0")
    c.xgroup_create("stream", "group2", id="$")
    c.xreadgroup("group1", "alice", {"stream": ">"}, count=2)
    c.xreadgroup("group1", "bob", {"stream": ">"}, count=1)
    c.pfadd("hll", *range(5000))
    c.setbit("bitmap", 100_000, 1)
    c.setbit("bitmap", 7, 1)
    c.set("ttl:far", "lives", ex=86_400)
    c.hset("ttl:hash", "f", "v")
    c.pexpireat("ttl:hash", int(time.time() * 1000) + 3_600_000)
    server.client(1).set("db1:key", "in db 1")
    server.client(1).rpush("db1:list", "a", "b")
    server.client(5).set("db5:key", "in db 5")


def _keys_by_db(client: redis.Redis) -> dict[int, int]:
    info = client.info("keyspace")
    return {int(name[2:]): int(stats["keys"]) for name, stats in info.items()}


def redis_digest(port: int, password: str | None = None) -> dict[str, str]:
    """{"db<N>": sha256 over sorted keys of key, type, value digest, expiry, stream details}."""
    base = redis.Redis(port=port, password=password)
    out: dict[str, str] = {}
    for db in sorted(_keys_by_db(base)):
        c = redis.Redis(port=port, db=db, password=password)
        h = hashlib.sha256()
        for key in sorted(c.scan_iter(count=1000)):
            kind = c.type(key)
            h.update(repr((key, kind, c.execute_command("DEBUG", "DIGEST-VALUE", key))).encode())
            h.update(repr(c.execute_command("PEXPIRETIME", key)).encode())
            if kind == b"stream":
                h.update(repr(c.execute_command("XINFO", "STREAM", key, "FULL")).encode())
        out[f"db{db}"] = h.hexdigest()
    functions = base.execute_command("FUNCTION", "DUMP")
    if functions:
        out["functions"] = hashlib.sha256(
            repr(base.execute_command("FUNCTION", "LIST", "WITHCODE")).encode()
        ).hexdigest()
    return out


class RedisHarness:
    engine = ENGINE

    def __init__(self) -> None:
        self.servers: list[RedisServer] = []

    def _server(self, password: str | None = None) -> RedisServer:
        server = RedisServer(password=password)
        self.servers.append(server)
        return server

    def make_source(self) -> Endpoint:
        server = self._server(password="harness-secret")
        populate_varied(server)
        server.client(0).execute_command("FUNCTION", "LOAD", FUNCTION_LIBRARY)
        return server.endpoint()

    def source_selection(self, source: Endpoint) -> ObjectSelection:
        return ObjectSelection.everything()

    def expected_objects(self, source: Endpoint) -> set[str]:
        return {"0", "1", "5"}

    def make_large_source(self) -> Endpoint:
        source = self.make_source()
        with redis.Redis(port=source.port, password=source.password) as c:
            pipe = c.pipeline(transaction=False)
            for i in range(40_000):  # ~16 MB of values that do not compress
                pipe.set(f"bulk:{i}", os.urandom(200).hex())
            pipe.execute()
        return source

    def new_target(self) -> Endpoint:
        return self._server().endpoint()

    def sessions(self, endpoint: Endpoint) -> list[str]:
        """Every client of the server but this one (a replica left behind shows flag S), and
        a snapshot child the server still runs for a transfer nobody reads."""
        with redis.Redis(port=endpoint.port, password=endpoint.password) as c:
            me = c.client_id()
            found = [f"{x['id']} flags={x['flags']} cmd={x['cmd']}"
                     for x in c.client_list() if int(x["id"]) != me]
            if c.info("persistence")["rdb_bgsave_in_progress"]:
                found.append("a snapshot child (rdb_bgsave_in_progress)")
            return found

    def drop(self, endpoint: Endpoint) -> None:
        with redis.Redis(port=endpoint.port, password=endpoint.password) as c:
            c.flushall()

    def digest(self, endpoint: Endpoint) -> dict[str, str]:
        return redis_digest(endpoint.port, endpoint.password)

    def restored_endpoint(self, target: Endpoint, source: Endpoint) -> Endpoint:
        return target

    def bad_credentials(self, source: Endpoint) -> Endpoint:
        return source.with_password("not-the-password")

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
