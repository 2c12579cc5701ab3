"""Redis over TLS (rediss://): precheck, replication pull and key-by-key restore."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.redis import ENGINE
from dbs.engines.selection import ObjectSelection
from tests.engines.harness_redis import populate_varied, redis_digest
from tests.engines.redis_fixtures import RedisServer, back_up, free_port, restore


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RedisServer, Endpoint]]:
    cert, key = _self_signed(tmp_path)
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
