"""Redis over TLS (rediss://): precheck, replication pull and key-by-key restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed.ports import free_port
from testbed.redis_server import RedisServer

from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.redis import ENGINE
from dbs.engines.selection import ObjectSelection
from tests.engines.certs import self_signed
from tests.engines.harness_redis import populate_varied, redis_digest
from tests.engines.redis_fixtures import back_up, restore


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RedisServer, Endpoint]]:
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    server = RedisServer(
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(cert),
        "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert),
        "--tls-auth-clients", "no",
        "--tls-replication", "yes",
        password="tls-secret",
    )  # fmt: skip
    try:
        url = f"rediss://:tls-secret@127.0.0.1:{tls_port}?ssl_ca_certs={cert}"
        yield server, parse_endpoint(url)
    finally:
        server.stop()


def test_backup_and_restore_over_tls(
    tls_server: tuple[RedisServer, Endpoint], repository: Any
) -> None:
    server, endpoint = tls_server
    populate_varied(server)
    items = ENGINE.precheck(endpoint, ObjectSelection.everything())
    assert not [i for i in items if i.state == "failed"], items
    set_id, metadata = back_up(repository, endpoint, "0")
    assert metadata["keys_per_db"]["0"] == server.client(0).dbsize()
    result = restore(repository, set_id, endpoint, rename={"0": "7"})
    assert result.verified, result
    digest = redis_digest(server.port, server.password)
    assert digest["db7"] == digest["db0"]
