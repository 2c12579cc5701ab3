"""Selective restore (one table, one schema, one database) and the conflict rules.

renamenew (the default) gives the restored object a new name when the name is
taken and leaves the existing one alone; overwrite replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dbs.engines.base import EngineError, RestoreOptions
from dbs.engines.postgresql import ENGINE
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.harness_postgresql import (
    admin,
    create_database,
    databases_like,
    drop_database,
    endpoint,
    table_digests,
    unique_name,
)

SHOP = """
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers(id),
                     total numeric(10, 2), note text);
CREATE INDEX orders_customer ON orders (customer);
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 100) g;
INSERT INTO orders (customer, total, note)
SELECT 1 + g % 100, g * 1.5, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END
FROM generate_series(1, 2000) g;
CREATE SCHEMA sales;
CREATE TABLE sales.q1 (id int PRIMARY KEY, amount numeric);
CREATE TABLE sales.q2 (id int PRIMARY KEY, amount numeric);
INSERT INTO sales.q1 SELECT g, g / 7.0 FROM generate_series(1, 300) g;
INSERT INTO sales.q2 SELECT g, g / 9.0 FROM generate_series(1, 300) g;
"""


@pytest.fixture
def shop() -> Iterator[str]:
    name = unique_name("dbs_shop")
    create_database(name, SHOP)
    try:
        yield name
    finally:
        drop_database(name)
        for leftover in databases_like(name):
            drop_database(leftover)


def _backup(repository: Any, database: str, spec: str | None = None) -> Any:
    with repository.begin_backup() as writer:
        info = writer.commit(ENGINE.backup(endpoint(database),
                                           ObjectSelection.parse(spec or database), writer,
                                           NullProgress()))
    return repository.open_backup_set(info.id)


def _tables(database: str, schema: str = "public") -> set[str]:
    with admin(database) as conn:
        rows = conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r' "
                            "AND relnamespace = %s::regnamespace", (schema,)).fetchall()
    return {str(r[0]) for r in rows}


def test_one_table_renamed_when_it_exists(shop: str, repository: Any) -> None:
    before = table_digests(shop)
    reader = _backup(repository, shop)
    with admin(shop) as conn:  # the live table moves on after the backup
        conn.execute("DELETE FROM orders WHERE id % 2 = 0")
    live = table_digests(shop)["public.orders"]

    result = ENGINE.restore(reader, endpoint(shop),
                            RestoreOptions(objects=ObjectSelection.parse(f"{shop}.public.orders")),
                            NullProgress())
    assert result.verified
    restored = result.restored[f"{shop}.public.orders"]
    new_name = restored.rsplit(".", 1)[1]
    assert new_name.startswith("orders_restored_")
    assert _tables(shop) == {"customers", "orders", new_name}
    after = table_digests(shop)
    assert after["public.orders"] == live  # the existing table was left alone
    assert after[f"public.{new_name}"] == before["public.orders"]
    with admin(shop) as conn:
        indexes = {str(r[0]) for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", (new_name,)).fetchall()}
        fks = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                           "AND conrelid = %s::regclass", (new_name,)).fetchone()
        next_id = conn.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))",
                               (new_name,)).fetchone()
    assert len(indexes) == 2 and all("_restored_" in i for i in indexes), indexes
    assert fks == (1,)  # the foreign key to customers came along
    assert next_id == (2001,)  # its own sequence, set to the backed-up value


def test_one_table_overwritten(shop: str, repository: Any) -> None:
    before = table_digests(shop)
    reader = _backup(repository, shop)
    with admin(shop) as conn:
        conn.execute("UPDATE orders SET note = 'changed' WHERE id < 100")
    result = ENGINE.restore(reader, endpoint(shop), RestoreOptions(
        objects=ObjectSelection.parse(f"{shop}.public.orders"), conflict="overwrite"),
        NullProgress())
    assert result.verified
    assert result.restored[f"{shop}.public.orders"] == f"{shop}.public.orders"
    assert _tables(shop) == {"customers", "orders"}
    assert table_digests(shop) == before


def test_conflict_rule_fail_refuses_an_existing_table(shop: str, repository: Any) -> None:
    reader = _backup(repository, shop)
    with pytest.raises(EngineError, match=r"orders exists"):
        ENGINE.restore(reader, endpoint(shop), RestoreOptions(
            objects=ObjectSelection.parse(f"{shop}.public.orders"), conflict="fail"),
            NullProgress())


def test_one_schema_into_a_new_database(shop: str, repository: Any) -> None:
    before = table_digests(shop, schemas=("sales",))
    reader = _backup(repository, shop)
    target = unique_name("dbs_shop_sales")
    try:
        result = ENGINE.restore(reader, endpoint(target), RestoreOptions(
            objects=ObjectSelection.parse(f"{shop}.sales.*")), NullProgress())
        assert result.verified
        assert _tables(target, "sales") == {"q1", "q2"}
        assert _tables(target) == set()  # nothing from public
        assert table_digests(target) == before
    finally:
        drop_database(target)


def test_one_database_of_several_renamed_then_overwritten(repository: Any) -> None:
    first, second = unique_name("dbs_multi_a"), unique_name("dbs_multi_b")
    create_database(first, SHOP)
    create_database(second, "CREATE TABLE only_here (id int); INSERT INTO only_here VALUES (1);")
    try:
        with repository.begin_backup() as writer:  # instance endpoint, two databases selected
            info = writer.commit(ENGINE.backup(endpoint(), ObjectSelection.parse(
                f"{first},{second}"), writer, NullProgress()))
        reader = repository.open_backup_set(info.id)
        assert {d["name"] for d in reader.metadata["databases"]} == {first, second}
        expected = table_digests(first)

        result = ENGINE.restore(reader, endpoint(), RestoreOptions(
            objects=ObjectSelection.parse(first)), NullProgress())
        renamed = result.restored[first]
        assert renamed.startswith(first + "_restored_")
        assert second not in result.restored
        assert table_digests(renamed) == expected

        with admin(first) as conn:
            conn.execute("TRUNCATE orders")
        result = ENGINE.restore(reader, endpoint(), RestoreOptions(
            objects=ObjectSelection.parse(first), conflict="overwrite"), NullProgress())
        assert result.restored[first] == first
        assert table_digests(first) == expected
    finally:
        for name in (first, second, *databases_like(first + "_restored_")):
            drop_database(name)
