"""MySQL/MariaDB test helpers: uniquely named databases, the fidelity dataset, engine-free
comparisons (private servers and plain SQL helpers are in `testbed.mariadb`).

Comparisons here use only SQL (SHOW CREATE, CHECKSUM TABLE, COUNT/SUM), never the
engine under test, so a restore that loses or alters anything cannot pass.
"""

from __future__ import annotations

import uuid

from testbed.mariadb import execute, rows, sql_connect

from dbs.engines.endpoint import Endpoint

SHARED = Endpoint(engine="mysql", host="127.0.0.1", port=3306, user="root", password="")


def unique(prefix: str = "dbs_t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def drop_databases(endpoint: Endpoint, prefix: str) -> None:
    """Drop every database whose name starts with ``prefix`` (a test's unique name)."""
    names = [r[0] for r in rows(endpoint, "SHOW DATABASES") if str(r[0]).startswith(prefix)]
    execute(endpoint, [f"DROP DATABASE IF EXISTS {q(n)}" for n in names])


def q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def schema_fingerprint(endpoint: Endpoint, database: str) -> dict[str, str]:
    """SHOW CREATE text of every table, view, routine, trigger and event in ``database``."""
    out: dict[str, str] = {}
    conn = sql_connect(endpoint, database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s",
                (database,),
            )
            for name, kind in cur.fetchall():
                what = "VIEW" if kind == "VIEW" else "TABLE"
                cur.execute(f"SHOW CREATE {what} {q(name)}")
                out[f"{what.lower()} {name}"] = cur.fetchone()[1]
            for kind, sql, column in (
                ("PROCEDURE", "SHOW PROCEDURE STATUS WHERE Db = %s", 2),
                ("FUNCTION", "SHOW FUNCTION STATUS WHERE Db = %s", 2),
                ("TRIGGER", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                 "WHERE TRIGGER_SCHEMA = %s", 2),
                ("EVENT", "SELECT EVENT_NAME FROM information_schema.EVENTS "
                 "WHERE EVENT_SCHEMA = %s", 3),
            ):  # fmt: skip
                cur.execute(sql, (database,))
                names = [
                    r[1] if kind in ("PROCEDURE", "FUNCTION") else r[0] for r in cur.fetchall()
                ]
                for name in names:
                    cur.execute(f"SHOW CREATE {kind} {q(name)}")
                    row = cur.fetchone()
                    out[f"{kind.lower()} {name}"] = f"{row[1]}|{row[column]}"
    finally:
        conn.close()
    return out


def table_checksums(endpoint: Endpoint, database: str) -> dict[str, int | None]:
    """CHECKSUM TABLE of every base table (computed by the server over the row images)."""
    names = [
        r[0]
        for r in rows(
            endpoint,
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            f"'{database}' AND TABLE_TYPE = 'BASE TABLE'",
        )
    ]
    out: dict[str, int | None] = {}
    for name in names:
        result = rows(endpoint, f"CHECKSUM TABLE {q(database)}.{q(name)} EXTENDED")
        out[name] = result[0][1]
    return out


# A database touching every common column type and schema object, with awkward values.
TYPES_TABLE = """
CREATE TABLE `types` (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), f FLOAT, db DOUBLE, b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), yr YEAR,
  ch CHAR(10), vc VARCHAR(255), tx TEXT, lt LONGTEXT,
  bn BINARY(8), vb VARBINARY(64), bl BLOB,
  en ENUM('a','b','c d'), st SET('x','y','z'),
  js JSON, g GEOMETRY, pt POINT,
  lat VARCHAR(20) CHARACTER SET latin1,
  gen_v BIGINT AS (i * 2) VIRTUAL,
  gen_s VARCHAR(300) AS (CONCAT(vc, '!')) STORED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

TYPES_ROWS = [
    # extremes of every width, signed and unsigned
    "(NULL, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    "-9223372036854775808, 18446744073709551615, "
    "'-99999999999999999999999999999999999.999999999999999999999999999999', "
    "3.40282e38, 1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', "
    "'9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000', 2155, "
    "'tenchars!!', 'tab\\there\\nnewline\\\\backslash \\'quote\\' \\\\N', 'emoji 🙂🚀 ünïcödé 中文', "
    "REPEAT('long text ', 5000), "
    "X'00090A5C4E000D0A', X'00', X'000102030405060708090A0B0C0D0E0F5C5C0A0A00', "
    '\'c d\', \'x,z\', \'{"k": [1, 2.5, "s\\\\ttab", null, {"e": "🙂"}]}\', '
    "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))', 4326), ST_GeomFromText('POINT(1.5 -2.25)'), "
    "'café', DEFAULT, DEFAULT)",
    # the other ends, tiny fractions and zero values
    "(NULL, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, "
    "'0.000000000000000000000000000001', 1.17549e-38, 4.9406564584124654e-324, b'0', b'0', "
    "'1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '-838:59:59.000000', "
    "1901, '', '', '', '', X'', X'', X'', 'a', '', '[]', "
    "ST_GeomFromText('LINESTRING(0 0,1 1,2 1)'), ST_GeomFromText('POINT(0 0)'), '', DEFAULT, DEFAULT)",
    # every nullable column NULL
    "(NULL" + ", NULL" * 33 + ", DEFAULT, DEFAULT)",
    # float values that print with many digits
    "(NULL, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, '3.141592653589793238462643383279', 0.1, 0.1, b'1', "
    "b'101', '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.654321', "
    "'12:00:00.5', 2024, 'x', 'trailing space ', 'line1\\r\\nline2', 'NULL', "
    "'a\\0b', 'NULL', '\\\\N', 'b', 'y', '\"just a string\"', NULL, NULL, 'ÿ', DEFAULT, DEFAULT)",
]

ZERO_DATES_TABLE = (
    "CREATE TABLE zero_dates (id INT PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP NULL)"
)


def create_fidelity_database(
    endpoint: Endpoint, database: str, *, big_rows: int = 0, wide_rows: int = 0
) -> None:
    """The fidelity dataset in a new database ``database`` (``big_rows`` in table `big`,
    ``wide_rows`` 1 MiB rows in table `wide`)."""
    statements = [
        f"CREATE DATABASE {q(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        f"USE {q(database)}",
        "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'",
        TYPES_TABLE,
        "INSERT INTO `types` VALUES " + ",".join(TYPES_ROWS),
        ZERO_DATES_TABLE,
        "INSERT INTO zero_dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),"
        " (2, '2024-00-00', '2024-01-00 10:00:00', NULL)",
        # AUTO_INCREMENT counter beyond the highest row, and a row holding 0
        "CREATE TABLE counters (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT) "
        "AUTO_INCREMENT=1000",
        "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
        "INSERT INTO counters VALUES (0, 0), (5, 5), (999, 999)",
        "DELETE FROM counters WHERE id = 999",
        "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'",
        # foreign keys, odd identifiers
        "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, UNIQUE KEY (name))",
        "CREATE TABLE `child table` (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, "
        "`order` INT, `we``ird col` VARCHAR(10), KEY idx_order (`order`), "
        "CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)",
        "INSERT INTO parent VALUES (1, 'one'), (2, 'two')",
        "INSERT INTO `child table` (parent_id, `order`, `we``ird col`) VALUES (1, 10, 'a'), (2, 20, 'b'), (2, NULL, NULL)",
        "CREATE TABLE `select` (`from` INT PRIMARY KEY, `where` VARCHAR(10))",
        "INSERT INTO `select` VALUES (1, 'reserved')",
        "CREATE TABLE `ünï cödé ``tbl``` (`ключ` INT PRIMARY KEY, `值` VARCHAR(10))",
        "INSERT INTO `ünï cödé ``tbl``` VALUES (1, '值一'), (2, NULL)",
        # a composite, non-integer primary key (read row by row, not in key-range batches)
        "CREATE TABLE composite (a VARCHAR(10), b INT, v TEXT, PRIMARY KEY (a, b))",
        "INSERT INTO composite VALUES ('x', 2, 'x2'), ('x', 1, NULL), ('a\tb', 1, 'tab key')",
        # no primary key, duplicate rows, MyISAM
        "CREATE TABLE no_pk (a INT, b VARCHAR(20))",
        "INSERT INTO no_pk VALUES (3, 'c'), (1, 'a'), (1, 'a'), (NULL, NULL), (2, 'b')",
        "CREATE TABLE legacy_myisam (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM",
        "INSERT INTO legacy_myisam VALUES (1, 'old')",
        # views (one on another), routines, triggers, an event
        "CREATE VIEW v_parent AS SELECT p.id, p.name, COUNT(c.id) AS children "
        "FROM parent p LEFT JOIN `child table` c ON c.parent_id = p.id GROUP BY p.id, p.name",
        "CREATE VIEW v_busy AS SELECT name FROM v_parent WHERE children > 1",
        "CREATE PROCEDURE add_parent(IN pid INT, IN pname VARCHAR(50)) "
        "BEGIN INSERT INTO parent VALUES (pid, pname); END",
        "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
        "CREATE TRIGGER child_bi BEFORE INSERT ON `child table` FOR EACH ROW "
        "SET NEW.`order` = IFNULL(NEW.`order`, 0)",
        "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE "
        "DO DELETE FROM counters WHERE v < 0",
    ]
    if big_rows:
        statements += [
            "CREATE TABLE big (id BIGINT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, "
            "pad VARCHAR(200) NOT NULL, KEY k_1 (k))",
            "INSERT INTO big SELECT seq, seq % 1000, MD5(seq), REPEAT(SHA1(seq), 5) "
            f"FROM seq_1_to_{big_rows}",
            # The engine sizes key ranges from InnoDB statistics; refresh them as a server
            # would some seconds after a bulk load.
            "ANALYZE TABLE big",
        ]
    if wide_rows:
        # Rows so long that one key-range batch exceeds the server's packet limit.
        statements += [
            "CREATE TABLE wide (id INT PRIMARY KEY, payload LONGBLOB)",
            f"INSERT INTO wide SELECT seq, REPEAT(MD5(seq), 32768) FROM seq_1_to_{wide_rows}",
        ]
    execute(endpoint, statements)
