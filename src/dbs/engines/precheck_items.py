"""The names of precheck items, one place for every engine.

DBS reports a precheck as items named ``CHECK_*`` (``DescribePreCheckProgressList``:
``Item``, ``State``, ``ErrMsg``; research/dbs-product.md §5.2), with ``CHECK_OTHER`` for
what belongs nowhere else. The same check has the same name on every engine, so a
script or a console page can look for ``CHECK_PRIVILEGES`` whatever the database.
"""

from __future__ import annotations

# Shared: every engine that can make the check reports it under this name.
CHECK_CONNECTIVITY = "CHECK_CONNECTIVITY"  # the source answers (and takes the credentials)
CHECK_SERVER_VERSION = "CHECK_SERVER_VERSION"  # the server is a version the engine supports
CHECK_PRIVILEGES = "CHECK_PRIVILEGES"  # the account may read / replicate what is selected
CHECK_BACKUP_OBJECTS = "CHECK_BACKUP_OBJECTS"  # the selection (BackupObjects) matches something
CHECK_OTHER = "CHECK_OTHER"  # DBS's group for anything else (e.g. a precheck that could not run)

# PostgreSQL
CHECK_CLIENT_TOOLS = "CHECK_CLIENT_TOOLS"  # pg_dump / psql / pg_restore, new enough
CHECK_DATABASE_PRIVILEGE = "CHECK_DATABASE_PRIVILEGE"  # may connect to each selected database
CHECK_SNAPSHOT_EXPORT = "CHECK_SNAPSHOT_EXPORT"  # pg_export_snapshot() works (no pooler)

# MySQL / MariaDB
CHECK_TRANSACTIONAL_ENGINE = "CHECK_TRANSACTIONAL_ENGINE"  # tables the snapshot covers
CHECK_BINLOG = "CHECK_BINLOG"  # log_bin on (point-in-time recovery)
CHECK_BINLOG_FORMAT = "CHECK_BINLOG_FORMAT"  # binlog_format=ROW (log backup)

# Redis
CHECK_AUTH = "CHECK_AUTH"  # the server takes the credentials (connecting alone needs none)
CHECK_MEMORY = "CHECK_MEMORY"  # room for the fork's copy-on-write
CHECK_FORK = "CHECK_FORK"  # the snapshot's fork is likely to succeed

# SQLite
CHECK_SOURCE_FILE = "CHECK_SOURCE_FILE"  # the file exists
CHECK_SQLITE_FORMAT = "CHECK_SQLITE_FORMAT"  # it is a SQLite 3 database
CHECK_INTEGRITY = "CHECK_INTEGRITY"  # PRAGMA integrity_check
CHECK_TEMP_SPACE = "CHECK_TEMP_SPACE"  # room to stage the snapshot
