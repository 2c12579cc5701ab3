"""PostgreSQL engine: consistent, parallel logical backup and restore.

See docs/engines/postgresql.md.
"""

from dbs.engines.postgresql.engine import ENGINE

__all__ = ["ENGINE"]
