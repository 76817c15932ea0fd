"""Audit: data changes are written by database triggers; auth events and reads of the trail live here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.audit.models import AuditLog
from core.db import current_context
from core.ids import new_id


def mask_email(email: str | None) -> str | None:
    """`jane.doe@example.com` -> `j***e@e***.com`: enough to correlate, not enough to harvest."""
    if not email or "@" not in email:
        return None if email is None else "***"
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    masked_local = local[0] + "***" + (local[-1] if len(local) > 1 else "")
    masked_domain = (name[0] + "***" + dot + tld) if name else "***"
    return f"{masked_local}@{masked_domain}"


def record_auth_event(
    session: Session,
    *,
    tenant_id: UUID,
    action: str,
    user_id: UUID | None = None,
    api_key_id: UUID | None = None,
    email: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Login ok/failed, lockout, logout, key use, session revocation: emails are stored masked."""
    ctx = current_context()
    values: dict[str, Any] = dict(details or {})
    if email is not None:
        values["email"] = mask_email(email)
    session.add(
        AuditLog(
            id=new_id(),
            tenant_id=tenant_id,
            user_id=user_id,
            api_key_id=api_key_id,
            entity_type="auth",
            entity_id=user_id or api_key_id,
            action=action,
            new_values=values or None,
            ip_address=ctx.ip,
            user_agent=(ctx.user_agent or None) and ctx.user_agent[:500],
            request_id=ctx.request_id,
            via=ctx.via,
        )
    )


def list_entries(
    session: Session,
    actor: Actor,
    *,
    entity_type: str | None = None,
    entity_id: UUID | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditLog], int]:
    actor.require("audit_logs", "read")
    statement: Select[Any] = select(AuditLog).where(AuditLog.tenant_id == actor.tenant_id)
    if entity_type:
        statement = statement.where(AuditLog.entity_type == entity_type)
    if entity_id:
        statement = statement.where(AuditLog.entity_id == entity_id)
    if action:
        statement = statement.where(AuditLog.action == action)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    statement = statement.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(statement)), total
