"""The catalog on both backends: SQLite in the home, and PostgreSQL via DBS_DATABASE_URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, select, text

from dbs.catalog import open_catalog
from dbs.catalog.models import AccessKey, Account, AuditEvent
from dbs.home import Home
from dbs.secretbox import SecretBox
from dbs.service import identity, onboarding, plans
from dbs.service.context import ServiceContext, authenticate
from dbs.service.storage import activate_storage
from tests.foundation.cli import DbsCommand

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    name = f"dbs_catalog_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ctx(
    catalog_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceContext]:
    monkeypatch.setenv("DBS_DATABASE_URL", catalog_url)
    home = Home.resolve(tmp_path / "home")
    context = ServiceContext.open(home)
    try:
        yield context
    finally:
        context.close()


def test_migrations_create_every_table_and_are_idempotent(ctx: ServiceContext) -> None:
    tables = set(inspect(ctx.catalog.engine).get_table_names())
    assert {
        "accounts",
        "users",
        "access_keys",
        "policies",
        "policy_attachments",
        "roles",
        "role_deletion_tasks",
        "storages",
        "backup_plans",
        "audit_events",
        "alembic_version",
    } <= tables
    again = open_catalog(ctx.home.catalog_url)  # runs the migrations a second time
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    again.close()


def test_a_catalog_of_revision_0001_upgrades_and_keeps_its_restore_tasks(tmp_path: Path) -> None:
    """Revision 0002 adds restore_tasks.verify; tasks made before it read as "content"."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from dbs.catalog.database import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text(
            "INSERT INTO restore_tasks (id, plan_id, backup_set_id, target_url, objects_spec, "
            "conflict, rename, state, created_at) VALUES ('r1', 'p1', 's1', 'sqlite:///x', '', "
            "'renamenew', '{}', 'init', '2026-11-27 00:00:00')"))
    engine.dispose()
    catalog = open_catalog(url)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT verify FROM restore_tasks WHERE id = 'r1'")).scalar() == (
            "content")
    catalog.close()


def test_first_use_through_the_service_layer(ctx: ServiceContext) -> None:
    result = onboarding.init_account(ctx)
    root = authenticate(ctx, result.access_key_id, result.access_key_secret)
    assert root.is_root and root.account_id == result.account_id
    onboarding.authorize_service(ctx, root)
    activate_storage(ctx, root, accept_agreement=True)
    plan = plans.create_plan(
        ctx, root, engine="sqlite", method="logical", plan_class="micro", name=None
    )
    identity.create_user(ctx, root, "bob")
    identity.attach_policy_to_user(ctx, root, "bob", "AliyunDBSReadOnlyAccess")
    key = identity.create_access_key(ctx, root, "bob")
    bob = authenticate(ctx, key["AccessKeyId"], key["AccessKeySecret"])
    assert [p["BackupPlanId"] for p in plans.list_plans(ctx, bob)] == [plan["BackupPlanId"]]

    with ctx.catalog.session() as session:
        account = session.scalars(select(Account)).one()
        assert account.created_at.tzinfo is not None
        assert account.created_at.utcoffset() == UTC.utcoffset(None)
        sealed = session.get(AccessKey, key["AccessKeyId"])
        assert sealed is not None
        assert key["AccessKeySecret"] not in sealed.secret_sealed
        assert (
            SecretBox(ctx.home.secret_key()).open(sealed.secret_sealed, f"access-key:{sealed.id}")
            == key["AccessKeySecret"]
        )
        assert session.scalars(select(AuditEvent)).first() is not None


def test_cli_runs_on_a_postgresql_catalog(tmp_path: Path) -> None:
    name = f"dbs_catalog_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        dbs = DbsCommand(
            tmp_path / "home", {"DBS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
        )
        dbs("init", check=True)
        dbs("authorize", check=True)
        assert (
            dbs("role", "show", "--json", check=True).json()["RoleName"]
            == "AliyunServiceRoleForDBS"
        )
        assert not (tmp_path / "home" / "catalog.db").exists()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_unreachable_catalog_is_a_clear_error(tmp_path: Path) -> None:
    dbs = DbsCommand(
        tmp_path / "home", {"DBS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    r = dbs("init")
    assert r.code == 1
    assert "CatalogUnavailable" in r.err and "Traceback" not in r.err


def test_head_revision_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from dbs.catalog.database import HEAD_REVISION, MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
