"""Who may own a record the actor writes: an active user of the tenant within the actor's record scope."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.errors import ValidationFailed
from core.users.models import User


def resolve_owner(session: Session, actor: Actor, owner_id: UUID | None, *, field: str = "ownerId") -> UUID:
    """The owner for a record: `owner_id`, or the actor when None.

    The owner must be an active user of the tenant whom the actor may assign records to: anyone with "all"
    scope, a member of the actor's team with "team" scope, only the actor with "own" scope (so nobody creates
    records they could then not see). Anything else is a 400 naming `field`, the same for a user of another
    tenant as for no user at all.
    """
    if owner_id is None:
        if actor.user_id is None:
            raise ValidationFailed(
                "An owner is required when acting without a user", details=[{"field": field, "message": "required"}]
            )
        owner_id = actor.user_id
    statement = select(User.id, User.team_id).where(
        User.tenant_id == actor.tenant_id,
        User.id == owner_id,
        User.deleted_at.is_(None),
        User.is_active.is_(True),
    )
    row = session.execute(statement).first()
    allowed = row is not None and (
        actor.scope == "all"
        or owner_id == actor.user_id
        or (actor.scope == "team" and actor.team_id is not None and row.team_id == actor.team_id)
    )
    if not allowed:
        raise ValidationFailed(
            "The owner must be an active user of your workspace whom you may assign records to",
            details=[{"field": field, "message": "not an active user you may assign to"}],
        )
    return owner_id
