"""SQLite: online, consistent full backups of a database file, and exact restores.

See docs/engines/sqlite.md for the stream format and the consistency argument.
"""

from dbs.engines.sqlite.engine import ENGINE

__all__ = ["ENGINE"]
