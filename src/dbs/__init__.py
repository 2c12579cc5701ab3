"""dbs: a self-hosted Database Backup Service."""

__version__ = "0.1.0"
