"""Database engines behind one protocol; see `dbs.engines.base`."""
