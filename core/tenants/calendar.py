"""The workspace's calendar: its time zone, and what day it is there (due dates and close dates are its days)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.tenants.models import Tenant


def zone(session: Session, actor: Actor) -> ZoneInfo:
    """The tenant's time zone (UTC when unset or unknown)."""
    name = session.scalar(select(Tenant.timezone).where(Tenant.id == actor.tenant_id)) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today(session: Session, actor: Actor) -> date:
    """Today where the tenant works."""
    return datetime.now(zone(session, actor)).date()
