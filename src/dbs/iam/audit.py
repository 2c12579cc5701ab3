"""The audit log: every authorization decision, by a caller or by the service's role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dbs.catalog.models import AuditEvent


def record(
    session: Session,
    *,
    principal: str,
    action: str,
    resource: str,
    decision: str,
    decided_by: str,
    via: str,
) -> AuditEvent:
    event = AuditEvent(
        principal=principal,
        action=action,
        resource=resource,
        decision=decision,
        decided_by=decided_by,
        via=via,
    )
    session.add(event)
    return event


def list_events(
    session: Session, *, since: datetime | None = None, limit: int = 1000
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.time >= since)
    return list(session.scalars(query.limit(limit)))
