"""Connections to a Redis server named by an endpoint, and what the server says about itself.

Two kinds: a redis-py client for ordinary commands, and a raw socket for the
replication handshake (redis-py cannot read an RDB payload off the wire).
Both authenticate the same way; the password is never logged.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbs.engines.endpoint import Endpoint

CONNECT_TIMEOUT = 10.0
# A fork of a large dataset can keep the master silent (bar keepalives) for long.
READ_TIMEOUT = 300.0


def db_number(endpoint: Endpoint) -> int | None:
    return int(endpoint.database) if endpoint.database else None


def _tls_kwargs(endpoint: Endpoint) -> dict[str, Any]:
    if not endpoint.tls:
        return {}
    p = endpoint.params
    return {
        "ssl": True,
        "ssl_ca_certs": p.get("ssl_ca_certs"),
        "ssl_certfile": p.get("ssl_certfile"),
        "ssl_keyfile": p.get("ssl_keyfile"),
        "ssl_cert_reqs": p.get("ssl_cert_reqs", "required"),
    }


def client(endpoint: Endpoint, db: int | None = None) -> redis.Redis:
    """A binary-safe client (``decode_responses=False``: DUMP payloads are bytes)."""
    return redis.Redis(
        host=endpoint.host,
        port=endpoint.port,
        db=db if db is not None else (db_number(endpoint) or 0),
        username=endpoint.user or None,
        password=endpoint.password,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=READ_TIMEOUT,
        decode_responses=False,
        protocol=2,
        # Fail fast and say why; a backup job is retried as a whole, not per command.
        retry=Retry(NoBackoff(), 0),
        **_tls_kwargs(endpoint),
    )


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


def server_facts(conn: redis.Redis) -> ServerFacts:
    """INFO, read once per operation."""
    info: dict[str, Any] = conn.info("all")
    keyspace = {k: v for k, v in info.items() if k.startswith("db") and isinstance(v, dict)}
    return ServerFacts(
        version=str(info.get("redis_version", "0.0.0")),
        role=str(info.get("role", "")),
        keyspace=keyspace,
        info=info,
    )


def encode_command(*args: bytes | str | int) -> bytes:
    """One command in RESP (array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class RawConnection:
    """A socket speaking just enough RESP for AUTH, REPLCONF and PSYNC."""

    def __init__(self, endpoint: Endpoint) -> None:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=CONNECT_TIMEOUT)
        if endpoint.tls:
            p = endpoint.params
            context = ssl.create_default_context(cafile=p.get("ssl_ca_certs"))
            if p.get("ssl_certfile"):
                context.load_cert_chain(p["ssl_certfile"], p.get("ssl_keyfile"))
            if p.get("ssl_cert_reqs") == "none":
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        sock.settimeout(READ_TIMEOUT)
        self.sock = sock
        self.buffer = b""
        if endpoint.password is not None:
            if endpoint.user:
                self.call("AUTH", endpoint.user, endpoint.password)
            else:
                self.call("AUTH", endpoint.password)

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def read_some_into_buffer(self) -> None:
        self._fill()

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def read_some(self) -> bytes:
        """Whatever is buffered, else the next bytes from the socket."""
        if not self.buffer:
            self._fill()
        data, self.buffer = self.buffer, b""
        return data

    def read_lines(self, count: int) -> list[bytes]:
        """``count`` one-line replies (``+OK``, ``-ERR ...``, ``:5``, ``+string``)."""
        lines: list[bytes] = []
        while len(lines) < count:
            if b"\r\n" not in self.buffer:
                self._fill()
                continue
            *complete, self.buffer = self.buffer.split(b"\r\n")
            lines += complete
        if len(lines) > count:  # more than asked for: keep them for the next read
            self.buffer = b"".join(line + b"\r\n" for line in lines[count:]) + self.buffer
            del lines[count:]
        return lines

    def pipeline(self, commands: list[bytes]) -> list[bytes]:
        """Send encoded commands at once; their one-line replies in order.

        Only for commands whose replies are single lines: RESTORE, TYPE,
        PEXPIRETIME, EXISTS, SELECT. Far cheaper than a general client when a
        million keys go through.
        """
        self.sock.sendall(b"".join(commands))
        return self.read_lines(len(commands))

    def call(self, *args: bytes | str | int) -> bytes:
        """Send a command; return its one-line reply (``+OK`` ...), raise on ``-ERR``."""
        self.sock.sendall(encode_command(*args))
        line = self.read_line()
        if line.startswith(b"-"):
            raise redis.ResponseError(line[1:].decode(errors="replace"))
        return line
