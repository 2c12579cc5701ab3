"""MySQL / MariaDB engine: consistent, parallel logical backup and restore.

See docs/engines/mysql.md for the stream format, how consistency is obtained and what
is untested.
"""

from dbs.engines.mysql.engine import ENGINE

__all__ = ["ENGINE"]
