"""Fidelity: every common type and object survives backup -> repository -> restore unchanged.

Compared after restore into a new database: pg_dump --schema-only of both
(identical once the database name is masked), every table's content digest
computed in SQL, sequences' next values and large objects.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from dbs.engines.base import RestoreOptions
from dbs.engines.postgresql import ENGINE
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.harness_postgresql import (
    admin,
    create_database,
    drop_database,
    endpoint,
    table_digests,
    unique_name,
)

# Rows in big_rows: ~100 bytes of COPY text each, so ~100 MB of row data.
BIG_ROWS = 1_000_000

FIXTURE = r"""
CREATE EXTENSION hstore;
CREATE EXTENSION btree_gist;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE types (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint, num numeric, num_huge numeric(1000, 500),
  r real, d double precision, flag boolean, t text, vc varchar(20), ch char(5), by bytea,
  j json, jb jsonb, arr int[], arr2 text[][], uid uuid, ip inet, net cidr, mac macaddr,
  iv interval, ts timestamp, tstz timestamptz, dt date, tm time, tmtz timetz,
  rng int4range, trng tstzrange, md mood, dom posint, comp pair, hs hstore,
  bits bit varying(10), pt point, tsv tsvector, x xml,
  doubled bigint GENERATED ALWAYS AS (i4::bigint * 2) STORED
);
COMMENT ON TABLE types IS 'every common type; ''quoted'' comment';
COMMENT ON COLUMN types.t IS 'NULL vs empty string';
INSERT INTO types (i2, i4, i8, num, num_huge, r, d, flag, t, vc, ch, by, j, jb, arr, arr2, uid,
  ip, net, mac, iv, ts, tstz, dt, tm, tmtz, rng, trng, md, dom, comp, hs, bits, pt, tsv, x)
VALUES
 (-32768, -2147483648, -9223372036854775808, 'NaN',
  (repeat('9', 500) || '.' || repeat('1', 500))::numeric,
  'NaN', 'Infinity', true, '', '', '', '\x'::bytea, '{}', '{}', '{}', '{}',
  '00000000-0000-0000-0000-000000000000', '0.0.0.0', '0.0.0.0/0', '00:00:00:00:00:00',
  '-178000000 years', '4713-01-01 00:00:00 BC', '-infinity', '-infinity', '00:00', '00:00+14',
  'empty', '(,)', 'sad', 1, '(,)', '', B'', '(0,0)', '', '<a/>'),
 (32767, 2147483647, 9223372036854775807, 'Infinity', ('-0.' || repeat('0', 499) || '1')::numeric,
  '-Infinity', '-Infinity', false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL),
 (1, 42, 1, '-Infinity', 0, 1.17549435e-38, 2.2250738585072014e-308, NULL,
  E'tab\there\nnewline\\backslash \r carriage "quote" ''single''',
  'emoji 😀🏳️‍🌈', 'عربي', E'\\x00000100ff'::bytea,
  '{"a": [1, 2.50, null], "k": "v\u00e9"}', '{"b": {"c": [true, false, null]}, "a": 1}',
  '{1,NULL,3}', '{{a,NULL},{"with space","with,comma"}}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1/64', '192.168.0.0/16',
  '08:00:2b:01:02:03', '1 year 2 mons 3 days 04:05:06.789', '2026-11-27 23:59:59.999999',
  '2026-11-27 23:59:59.999999+05:30', '2026-02-28', '24:00', '12:34:56-08', '[1,10)',
  '["2026-01-01 00:00+00","2026-12-31 00:00+00"]', 'happy 😀', 2147483647,
  '(7,"x, \"y\"")', 'a=>1, "b c"=>NULL, "é"=>"😀"', B'1010101', '(1.5,-2.25)',
  'the quick brown fox', '<doc lang="he">שלום</doc>');

CREATE TABLE ser (id serial PRIMARY KEY, v text);
INSERT INTO ser (v) VALUES ('a'), ('b');
SELECT setval('ser_id_seq', 1000000);
CREATE SEQUENCE free_seq START 5 INCREMENT 7;
SELECT nextval('free_seq'), nextval('free_seq');

CREATE TABLE events (id int, at date NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON events (at);
INSERT INTO events SELECT g, '2025-06-01'::date + g, 'event ' || g FROM generate_series(1, 400) g;

CREATE TABLE base (id int, note text);
CREATE TABLE child (extra int) INHERITS (base);
INSERT INTO base VALUES (1, 'parent row');
INSERT INTO child VALUES (2, 'child row', 99);

CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE CHECK (email LIKE '%@%'));
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES customers(id),
                     total numeric(12,2) CHECK (total >= 0));
INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 50) g;
INSERT INTO orders SELECT g, 1 + g % 50, g * 3.5 FROM generate_series(1, 200) g;
CREATE TABLE bookings (room int, during tsrange, EXCLUDE USING gist (room WITH =, during WITH &&));
INSERT INTO bookings VALUES (1, '[2026-01-01 10:00, 2026-01-01 11:00)'),
                            (1, '[2026-01-01 11:00, 2026-01-01 12:00)');

-- A trigger that would alter rows if it fired while loading: restore must create it after.
CREATE TABLE audited (id int PRIMARY KEY, note text, touched int DEFAULT 0);
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE TRIGGER audited_bump BEFORE INSERT OR UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION bump();
INSERT INTO audited (id, note) SELECT g, 'n' || g FROM generate_series(1, 20) g;
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';

CREATE VIEW order_totals AS SELECT customer, sum(total) AS total FROM orders GROUP BY customer;
CREATE MATERIALIZED VIEW big_customers AS SELECT * FROM order_totals WHERE total > 100;

CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."with space" ("select" int PRIMARY KEY, "from" text, "Quoted""Col" text);
CREATE TABLE "Mixed Case"."quote""d" (id int);
CREATE TABLE "Mixed Case"."user" (id int);
INSERT INTO "Mixed Case"."with space" VALUES (1, 'reserved words', 'q"c'), (2, NULL, '');
INSERT INTO "Mixed Case"."quote""d" VALUES (1), (NULL);
COMMENT ON SCHEMA "Mixed Case" IS 'odd names';

CREATE TABLE docs (id int PRIMARY KEY, body text);
CREATE INDEX docs_trgm ON docs USING gin (body gin_trgm_ops);

SELECT lo_from_bytea(0, '\x00010203'::bytea);
SELECT lo_from_bytea(0, decode(repeat('ab', 1500000), 'hex'));
CREATE TABLE big_rows (id bigint PRIMARY KEY, h1 text, h2 text, v numeric);
"""


def _schema_dump(database: str) -> str:
    out = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--schema-only", "--no-owner",
         "--no-privileges", "-d", database], capture_output=True, text=True, check=True).stdout
    # \restrict lines carry a random key per run (pg_dump's guard against injected psql
    # meta-commands); everything else must match.
    lines = [ln for ln in out.splitlines() if not ln.startswith(("\\restrict", "\\unrestrict"))]
    return "\n".join(lines).replace(database, "<db>")


def _state(database: str) -> dict[str, Any]:
    with admin(database) as conn:
        seqs = conn.execute(
            "SELECT nextval('ser_id_seq'), nextval('free_seq'), "
            "nextval(pg_get_serial_sequence('types', 'id'))").fetchone()
        los = conn.execute(
            "SELECT oid::bigint, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY 1"
        ).fetchall()
        touched = conn.execute("SELECT sum(touched) FROM audited").fetchone()
    return {"sequences": seqs, "large_objects": los, "trigger_effect": touched}


@pytest.fixture(scope="module")
def fidelity_source() -> Any:
    name = unique_name("dbs_fid")
    create_database(name)
    try:
        with admin(name) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")
            conn.execute(FIXTURE)
            conn.execute(
                "INSERT INTO big_rows SELECT g, md5(g::text), md5((g * 7)::text), g / 3.0 "
                "FROM generate_series(1, %s) g", (BIG_ROWS,))
            conn.execute("INSERT INTO docs SELECT g, 'document ' || md5(g::text) "
                         "FROM generate_series(1, 1000) g")
        yield name
    finally:
        drop_database(name)


def test_every_type_and_object_round_trips(fidelity_source: str, repository: Any) -> None:
    source = endpoint(fidelity_source)
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(source, ObjectSelection.parse(fidelity_source), writer,
                                 NullProgress())
        info = writer.commit(metadata)
    rows = {f"{t['schema']}.{t['name']}": t["rows"] for t in metadata["databases"][0]["tables"]}
    assert rows["public.big_rows"] == BIG_ROWS
    assert rows["public.types"] == 3
    assert "public.events" not in rows  # a partitioned parent holds no rows; its partitions do
    assert rows["public.events_2025"] + rows["public.events_2026"] == 400

    target = unique_name("dbs_fid_dst")
    try:
        result = ENGINE.restore(repository.open_backup_set(info.id), endpoint(target),
                                RestoreOptions(), NullProgress())
        assert result.verified and not result.mismatches
        assert result.restored[fidelity_source] == target
        assert _schema_dump(target) == _schema_dump(fidelity_source)
        assert table_digests(target) == table_digests(fidelity_source)
        assert _state(target) == _state(fidelity_source)
    finally:
        drop_database(target)


def test_special_values_read_back_exactly(fidelity_source: str, repository: Any) -> None:
    """Spot checks in SQL, so a digest that treats two values alike cannot hide a loss."""
    source = endpoint(fidelity_source)
    selection = ObjectSelection.parse(f"{fidelity_source}.public.types")
    with repository.begin_backup() as writer:
        info = writer.commit(ENGINE.backup(source, selection, writer, NullProgress()))
    target = unique_name("dbs_fid_types")
    try:
        ENGINE.restore(repository.open_backup_set(info.id), endpoint(target), RestoreOptions(),
                       NullProgress())
        query = ("SELECT t IS NULL, t = '', num::text, r::text, d::text, by, "
                 "num_huge = (SELECT num_huge FROM types WHERE id = 1), arr2[2][2], md::text, "
                 "doubled FROM types ORDER BY id")
        with admin(fidelity_source) as a, admin(target) as b:
            expected = a.execute(query.replace("(SELECT num_huge FROM types WHERE id = 1)",
                                               "num_huge")).fetchall()
            got = b.execute(query.replace("(SELECT num_huge FROM types WHERE id = 1)",
                                          "num_huge")).fetchall()
            assert got == expected
            assert got[1][0] is True and got[0][1] is True  # NULL stays NULL, '' stays ''
            assert got[0][2] == "NaN" and got[1][2] == "Infinity"
            assert bytes(got[2][5]) == b"\x00\x00\x01\x00\xff"
            # Only the selected table came back, with the types it needs.
            names = {r[0] for r in b.execute(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')"
                " AND relnamespace = 'public'::regnamespace").fetchall()}
            assert names == {"types"}
    finally:
        drop_database(target)
