"""Redis: RDB snapshots pulled over the replication protocol; key-by-key or file restores.

See docs/engines/redis.md for the stream format, the parser and what is untested.
"""

from dbs.engines.redis.engine import ENGINE

__all__ = ["ENGINE"]
