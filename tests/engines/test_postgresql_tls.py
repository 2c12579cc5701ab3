"""PostgreSQL over TLS: a private server that refuses unencrypted connections; backup and
restore (psycopg and the libpq tools alike) with sslmode=require and verify-full."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbs.engines.base import RestoreOptions
from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.postgresql import ENGINE
from dbs.engines.precheck_items import CHECK_CONNECTIVITY
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.certs import self_signed
from tests.engines.harness_postgresql import unique_name
from tests.engines.private_postgres import private_postgres

TLS_ONLY_HBA = """\
local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
hostnossl all all 0.0.0.0/0 reject
"""


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, Path]]:
    ca_dir = tmp_path_factory.mktemp("pg-tls")

    def certificates(root: Path) -> list[str]:
        cert, key = self_signed(root)
        shutil.copy(cert, ca_dir / "ca.pem")  # what the client trusts
        key.chmod(0o600)
        return ["ssl=on", f"ssl_cert_file={cert}", f"ssl_key_file={key}"]

    with private_postgres("tls-" + unique_name("pw"), prepare=certificates,
                          hba=TLS_ONLY_HBA) as server:  # fmt: skip
        with _connect(server, "require") as conn:
            conn.execute("CREATE DATABASE shop")
        with _connect(server, "require", "shop") as conn:
            conn.execute(
                "CREATE TABLE items (id int PRIMARY KEY, name text, photo bytea, price numeric); "
                "INSERT INTO items VALUES (1, 'ünïcode ✓', '\\x00ff', 1.50), (2, '', NULL, NULL);"
                "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g"
            )
        yield server, ca_dir / "ca.pem"


def _connect(server: Endpoint, sslmode: str, dbname: str = "postgres") -> Any:
    return psycopg.connect(host=server.host, port=server.port, user=server.user,
                           password=server.password, dbname=dbname, sslmode=sslmode,
                           autocommit=True)  # fmt: skip


def _digest(server: Endpoint, database: str) -> list[Any]:
    with _connect(server, "require", database) as conn:
        return [conn.execute(f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) "
                             f"FROM {table} t").fetchone() for table in ("items", "big")]  # fmt: skip


def _url(server: Endpoint, database: str, query: str) -> str:
    return (f"postgresql://postgres:{server.password}@127.0.0.1:{server.port}/{database}"
            f"?{query}")  # fmt: skip


@pytest.mark.parametrize("mode", ["require", "verify-full"])
def test_backup_and_restore_over_tls(tls_server: tuple[Endpoint, Path], repository: Any,
                                     mode: str) -> None:
    server, ca = tls_server
    query = f"sslmode={mode}" + (f"&sslrootcert={ca}" if mode == "verify-full" else "")
    items = ENGINE.precheck(parse_endpoint(_url(server, "shop", query)),
                            ObjectSelection.everything())
    assert [i for i in items if i.state == "failed"] == [], items
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(parse_endpoint(_url(server, "shop", query)),
                                 ObjectSelection.everything(), writer, NullProgress())
        info = writer.commit(metadata)
    target = f"shop_{mode.replace('-', '_')}"
    result = ENGINE.restore(repository.open_backup_set(info.id),
                            parse_endpoint(_url(server, target, query)), RestoreOptions(),
                            NullProgress())
    assert result.verified and result.restored["shop"] == target
    assert _digest(server, target) == _digest(server, "shop")


def test_without_tls_the_server_refuses_and_the_precheck_says_so(
    tls_server: tuple[Endpoint, Path],
) -> None:
    server, _ca = tls_server
    items = ENGINE.precheck(parse_endpoint(_url(server, "shop", "sslmode=disable")),
                            ObjectSelection.everything())
    failed = [i for i in items if i.state == "failed"]
    assert [i.item for i in failed] == [CHECK_CONNECTIVITY]
    assert "no encryption" in failed[0].message, failed[0]
    assert "sslmode=require" in failed[0].fix
    assert server.password not in failed[0].message + failed[0].fix
