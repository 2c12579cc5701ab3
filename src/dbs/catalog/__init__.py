"""The catalog: accounts, identities, policies, roles, storage, plans, audit.

SQLAlchemy 2 models with Alembic migrations; SQLite in the home by default,
PostgreSQL when ``DBS_DATABASE_URL`` is set. Migrations run on open.
"""

from dbs.catalog.database import Catalog, open_catalog

__all__ = ["Catalog", "open_catalog"]
