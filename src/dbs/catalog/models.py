"""Catalog tables. Secrets are stored only as SecretBox tokens (``*_sealed`` columns)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # 16-digit account id
    region: Mapped[str] = mapped_column(String(32), default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """The account root and RAM users."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    is_root: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("account_id", "name"),)


class AccessKey(Base):
    __tablename__ = "access_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # AccessKeyId
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Policy(Base):
    """Custom policies. System policies live in the package and are not stored."""

    __tablename__ = "policies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("account_id", "name"),)


class PolicyAttachment(Base):
    __tablename__ = "policy_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    principal_type: Mapped[str] = mapped_column(String(16))  # "user" | "role"
    principal_name: Mapped[str] = mapped_column(String(64))
    policy_type: Mapped[str] = mapped_column(String(16))  # "System" | "Custom"
    policy_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint(
            "account_id", "principal_type", "principal_name", "policy_type", "policy_name"
        ),
    )


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    trust_policy: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    service_name: Mapped[str | None] = mapped_column(String(128), nullable=True)  # set for SLRs
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("account_id", "name"),)


class RoleDeletionTask(Base):
    __tablename__ = "role_deletion_tasks"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # DeletionTaskId
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    role_name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # SUCCEEDED | FAILED | IN_PROGRESS ...
    reason: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Storage(Base):
    """Activated backup storage. At most one row is active."""

    __tablename__ = "storages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "local" | "s3"
    config: Mapped[dict[str, str]] = mapped_column(JSON)  # no secrets here
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    repository_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    encryption: Mapped[str] = mapped_column(
        String(32), default="keyfile"
    )  # keyfile|passphrase|none
    key_passphrase_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackupPlan(Base):
    __tablename__ = "backup_plans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # dbs + random
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    plan_class: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="wait")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Configuration (ConfigureBackupPlan); empty until configured.
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # without password
    source_password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    objects_spec: Mapped[str] = mapped_column(Text, default="")
    schedule_days: Mapped[str] = mapped_column(String(64), default="")  # "Mon,Wed" or "" = manual
    schedule_time: Mapped[str] = mapped_column(String(8), default="")  # "HH:MM[:SS]"
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    retention_days: Mapped[int] = mapped_column(Integer, default=730)
    keep_at_least: Mapped[int] = mapped_column(Integer, default=1)
    log_backup: Mapped[bool] = mapped_column(Boolean, default=False)
    encryption: Mapped[bool] = mapped_column(Boolean, default=True)
    configured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    precheck: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    error_message: Mapped[str] = mapped_column(Text, default="")


class Job(Base):
    """A backup or restore run: its state, progress and step log."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "full" | "restore"
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | schedule
    state: Mapped[str] = mapped_column(String(16), default="schedule", index=True)
    owner: Mapped[str] = mapped_column(String(128), default="")  # host:pid of the runner
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    bytes_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_done: Mapped[int] = mapped_column(Integer, default=0)
    items_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(32), default="")
    backup_set_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set by StopBackupPlan (method ALL); the process running the job sees it at its next
    # progress write and stops there (jobs/progress.py).
    stop_requested: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class BackupSet(Base):
    """A committed backup set in the repository, as the catalog knows it."""

    __tablename__ = "backup_sets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32), index=True)
    job_id: Mapped[str] = mapped_column(String(32))
    repository: Mapped[str] = mapped_column(String(16), default="main")  # main | plain
    status: Mapped[str] = mapped_column(String(16), default="finish")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    original_size: Mapped[int] = mapped_column(Integer, default=0)
    stored_size: Mapped[int] = mapped_column(Integer, default=0)
    consistent_position: Mapped[str] = mapped_column(Text, default="")
    objects: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The plan's retention when the set was made: it still applies after the plan is released.
    retention_days: Mapped[int] = mapped_column(Integer, default=730)
    keep_at_least: Mapped[int] = mapped_column(Integer, default=1)


class RestoreTask(Base):
    __tablename__ = "restore_tasks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32), index=True)
    backup_set_id: Mapped[str] = mapped_column(String(64))
    target_url: Mapped[str] = mapped_column(Text)
    target_password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    objects_spec: Mapped[str] = mapped_column(Text, default="")
    conflict: Mapped[str] = mapped_column(String(16), default="renamenew")
    rename: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # source db -> new name
    verify: Mapped[str] = mapped_column(String(16), default="content", server_default="content")
    # Engine-specific restore choices, e.g. {"definer": "current"} or {"owners": true}.
    engine_options: Mapped[dict[str, object]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    state: Mapped[str] = mapped_column(String(16), default="init")
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    principal: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(512))
    decision: Mapped[str] = mapped_column(String(16))  # Allow | ExplicitDeny | ImplicitDeny
    decided_by: Mapped[str] = mapped_column(Text, default="")  # which statement of which policy
    via: Mapped[str] = mapped_column(String(16), default="cli")  # cli | api | service
