"""Database endpoints from URLs.

``postgresql://user@host:port/db``, ``mysql://`` (or ``mariadb://``),
``redis://[user:password@]host:port[/db]`` (``rediss://`` for TLS) and
``sqlite:///absolute/path.db``. A URL without a database means the whole
instance. Passwords are accepted in the URL only for tests and scripts that
build them; the CLI takes them from a file, a prompt or an environment
variable and keeps them out of anything it prints (`Endpoint.display`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from dbs.errors import InvalidParameter

_SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "redis": "redis",
    "rediss": "redis",
    "sqlite": "sqlite",
}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "redis": 6379}


@dataclass(frozen=True)
class Endpoint:
    engine: str  # postgresql | mysql | redis | sqlite
    host: str = ""
    port: int = 0
    user: str = ""
    password: str | None = field(default=None, repr=False)
    database: str = ""  # "" = whole instance; for sqlite, the file path
    tls: bool = False
    params: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The database file of a sqlite endpoint."""
        return self.database

    def with_password(self, password: str | None) -> Endpoint:
        return replace(self, password=password)

    def with_database(self, database: str) -> Endpoint:
        return replace(self, database=database)

    def display(self) -> str:
        """The URL without its password: safe to print and store in plain text."""
        if self.engine == "sqlite":
            return f"sqlite://{self.database}"
        scheme = "rediss" if (self.engine == "redis" and self.tls) else self.engine
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        db = f"/{quote(self.database, safe='')}" if self.database else ""
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(self.params.items()))
        return f"{scheme}://{user}{self.host}:{self.port}{db}" + (f"?{query}" if query else "")


def parse_endpoint(url: str, *, field_name: str = "--source") -> Endpoint:
    """Parse a database URL; errors name ``field_name`` and show the accepted forms."""
    forms = (
        "postgresql://user@host:port/db, mysql://user@host:port/db, "
        "redis://[user:password@]host:port[/db], sqlite:///absolute/path.db"
    )
    parts = urlsplit(url.strip())
    engine = _SCHEMES.get(parts.scheme.lower())
    if engine is None:
        raise InvalidParameter(
            f"{field_name}: unsupported URL scheme {parts.scheme!r}; use one of {forms}",
            code="InvalidParameter.Endpoint",
        )
    if engine == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise InvalidParameter(
                f"{field_name}: a SQLite URL needs an absolute path with three slashes, "
                f"e.g. sqlite:///var/data/app.db (got {url!r})",
                code="InvalidParameter.Endpoint",
            )
        # sqlite:////abs/path (SQLAlchemy's spelling) means the same file as sqlite:///abs/path.
        return Endpoint(engine="sqlite", database="/" + path.lstrip("/"))
    if not parts.hostname:
        raise InvalidParameter(
            f"{field_name}: the URL names no host; use e.g. {engine}://user@127.0.0.1/",
            code="InvalidParameter.Endpoint",
        )
    try:
        port = parts.port or _DEFAULT_PORTS[engine]
    except ValueError:
        raise InvalidParameter(
            f"{field_name}: the port must be a number from 1 to 65535",
            code="InvalidParameter.Endpoint",
        ) from None
    database = unquote(parts.path.lstrip("/"))
    if engine == "redis" and database and not database.isdigit():
        raise InvalidParameter(
            f"{field_name}: a Redis database is a number (redis://host:6379/0), got {database!r}",
            code="InvalidParameter.Endpoint",
        )
    return Endpoint(
        engine=engine,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        tls=parts.scheme.lower() == "rediss",
        params=dict(parse_qsl(parts.query)),
    )
