"""The MySQL/MariaDB engine in the shared conformance suite (against the shared server)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from testbed.mariadb import execute, rows

from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import ENGINE
from dbs.engines.selection import ObjectSelection
from tests.engines.mysql_fixtures import (
    SHARED,
    create_fidelity_database,
    drop_databases,
    q,
    schema_fingerprint,
    table_checksums,
)


class MySQLHarness:
    """Works as an account of its own, so that its sessions can be told from others'."""

    engine = ENGINE

    def __init__(self) -> None:
        self.prefix = f"dbs_conf_{uuid.uuid4().hex[:8]}"
        self.count = 0
        self.user = self.prefix
        password = uuid.uuid4().hex
        execute(SHARED, [f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{password}'",
                         f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'%'"])
        self.server = replace(SHARED, user=self.user, password=password)

    def _name(self, role: str) -> str:
        self.count += 1
        return f"{self.prefix}_{role}{self.count}"

    def make_source(self) -> Endpoint:
        name = self._name("src")
        create_fidelity_database(self.server, name, big_rows=2000)
        return self.server.with_database(name)

    def make_large_source(self) -> Endpoint:
        name = self._name("src")
        create_fidelity_database(self.server, name, big_rows=50_000)  # ~17 MB in `big`
        return self.server.with_database(name)

    def source_selection(self, source: Endpoint) -> ObjectSelection:
        return ObjectSelection(includes=(source.database,))

    def expected_objects(self, source: Endpoint) -> set[str]:
        db = source.database
        return {db, f"{db}.types", f"{db}.no_pk", f"{db}.child table", f"{db}.big"}

    def new_target(self) -> Endpoint:
        # A database name that does not exist yet: the restore creates it.
        return self.server.with_database(self._name("dst"))

    def digest(self, endpoint: Endpoint) -> dict[str, str]:
        out = {
            f"checksum {t}": str(c) for t, c in table_checksums(endpoint, endpoint.database).items()
        }
        out.update(schema_fingerprint(endpoint, endpoint.database))
        return out

    def restored_endpoint(self, target: Endpoint, source: Endpoint) -> Endpoint:
        return target

    def bad_credentials(self, source: Endpoint) -> Endpoint:
        return replace(source, user="dbs_no_such_user", password="wrong-password")

    def sessions(self, endpoint: Endpoint) -> list[str]:
        found = rows(SHARED, "SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST "
                     f"WHERE USER = '{self.user}'")
        return [" ".join(str(v) for v in row) for row in found]

    def drop(self, endpoint: Endpoint) -> None:
        # A session left in a transaction would hold metadata locks: the drop would wait.
        execute(SHARED, ["SET SESSION lock_wait_timeout = 60",
                         f"DROP DATABASE IF EXISTS {q(endpoint.database)}"])

    def cleanup(self) -> None:
        drop_databases(SHARED, self.prefix)
        execute(SHARED, [f"DROP USER IF EXISTS '{self.user}'@'%'"])
