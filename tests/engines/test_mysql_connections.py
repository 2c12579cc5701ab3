"""MySQL/MariaDB over TLS and over a Unix socket: backup and restore round trips on a private
server whose backup account may only connect with TLS (``REQUIRE SSL``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed.mariadb import PrivateServer, execute, rows

from dbs.engines.base import EngineError, RestoreOptions
from dbs.engines.endpoint import parse_endpoint
from dbs.engines.mysql import ENGINE
from dbs.engines.mysql.connection import connect
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.certs import self_signed
from tests.engines.mysql_fixtures import table_checksums

SOURCE = "shop"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateServer, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("mysql-tls"))
    server = PrivateServer()
    server.extra_args += [f"--ssl-cert={cert}", f"--ssl-key={key}", f"--ssl-ca={cert}"]
    server.start()
    try:
        execute(server.endpoint, [
            f"CREATE DATABASE {SOURCE} CHARACTER SET utf8mb4",
            f"CREATE TABLE {SOURCE}.items (id INT PRIMARY KEY, name VARCHAR(40), "
            "photo VARBINARY(8), price DECIMAL(10,2))",
            f"INSERT INTO {SOURCE}.items VALUES (1, 'ünïcode ✓', x'00ff', 1.50), "
            "(2, '', NULL, NULL), (3, NULL, x'', -0.01)",
            "CREATE USER dbs_tls@'%' IDENTIFIED BY 'tls-secret' REQUIRE SSL",
            "GRANT ALL PRIVILEGES ON *.* TO dbs_tls@'%'",
        ])  # fmt: skip
        yield server, cert
    finally:
        server.stop()


def _round_trip(source_url: str, target_url: str, repository: Any) -> Any:
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(parse_endpoint(source_url), ObjectSelection.everything(),
                                 writer, NullProgress())  # fmt: skip
        info = writer.commit(metadata)
    return ENGINE.restore(repository.open_backup_set(info.id), parse_endpoint(target_url),
                          RestoreOptions(), NullProgress())  # fmt: skip


def test_backup_and_restore_over_tls_with_a_verified_certificate(
    tls_server: tuple[PrivateServer, Path], repository: Any
) -> None:
    server, ca = tls_server
    base = f"mysql://dbs_tls:tls-secret@127.0.0.1:{server.port}"
    conn = connect(parse_endpoint(f"{base}/?ssl_ca={ca}"))
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert cur.fetchone()[1]  # the session is encrypted
    finally:
        conn.close()
    result = _round_trip(f"{base}/{SOURCE}?ssl_ca={ca}", f"{base}/tls_copy?ssl_ca={ca}", repository)
    assert result.verified and result.restored[SOURCE] == "tls_copy"
    assert table_checksums(server.endpoint, "tls_copy") == table_checksums(server.endpoint, SOURCE)
    # ssl=1 encrypts without checking the certificate.
    assert _round_trip(f"{base}/{SOURCE}?ssl=1", f"{base}/tls_copy2?ssl=1", repository).verified


def test_tls_is_used_when_offered_and_an_account_that_requires_it_is_told_how(
    tls_server: tuple[PrivateServer, Path],
) -> None:
    server, _ca = tls_server
    base = f"mysql://dbs_tls:tls-secret@127.0.0.1:{server.port}/{SOURCE}"
    conn = connect(parse_endpoint(base))  # no ssl parameter: encrypted since the server offers it
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert cur.fetchone()[1]
    finally:
        conn.close()
    plain = parse_endpoint(f"{base}?ssl=0")
    with pytest.raises(EngineError) as caught:
        connect(plain)
    assert "requires TLS" in caught.value.message and "?ssl=1" in caught.value.message
    assert "tls-secret" not in str(caught.value)
    items = ENGINE.precheck(plain, ObjectSelection.everything())
    assert any(i.state == "failed" and "?ssl=1" in i.message + i.fix for i in items), items


def test_backup_and_restore_over_a_unix_socket(
    tls_server: tuple[PrivateServer, Path], repository: Any
) -> None:
    server, _ca = tls_server
    socket = server.dir / "sock"
    base = "mysql://root@localhost"
    result = _round_trip(f"{base}/{SOURCE}?socket={socket}", f"{base}/sock_copy?socket={socket}",
                         repository)  # fmt: skip
    assert result.verified
    assert table_checksums(server.endpoint, "sock_copy") == table_checksums(server.endpoint, SOURCE)
    assert rows(server.endpoint, "SELECT COUNT(*) FROM sock_copy.items") == [(3,)]
