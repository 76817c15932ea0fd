"""Albedo's proposals: a write becomes a stored proposal showing exactly what will change, and nothing changes
until the user who asked confirms it.

- `propose` validates the arguments, previews the change (the actor's permissions and record scope apply, so
  nothing is offered that the user could not do), tries it in a savepoint that is rolled back (what the services
  would refuse is refused now, with the reason) and stores it, pending for an hour.
- `confirm` applies it through the core services in a savepoint, audited via "albedo" with request id
  `albedo:<conversation id>:<proposal id>`. Refused then (a record changed since, a permission gone), the proposal
  is marked `failed` with the reason and *returned*, not raised: the savepoint leaves no partial write, and the
  caller's transaction keeps the failure on record (the API answers it with the error's status). Confirming one
  that is not pending, or expired, is a Conflict and changes nothing.
- `undo` takes a confirmed change back where the service allows (audited the same way, request id suffixed
  `:undo`); `cancel` drops a pending one. Each appends an assistant message to the conversation saying what
  happened.

Only the proposer sees or decides a proposal; anyone else gets a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.albedo import actions
from core.albedo import service as conversations
from core.albedo.models import Message, Proposal
from core.albedo.schemas import ProposalRead
from core.db import refresh_context, reset_context, set_context, with_context
from core.errors import Conflict, DomainError, NotFound, ValidationFailed
from core.ids import new_id

TTL = timedelta(hours=1)
MAX_LIST = 200


class _DryRun(Exception):
    """Raised to roll back the savepoint of a trial apply."""


def _now() -> datetime:
    return datetime.now(UTC)


def _owned(actor: Actor) -> Any:
    return select(Proposal).where(Proposal.tenant_id == actor.tenant_id, Proposal.user_id == actor.user_id)


def propose(
    session: Session,
    actor: Actor,
    conversation_id: UUID,
    action: str,
    arguments: dict[str, Any],
    *,
    message_id: UUID | None = None,
) -> Proposal:
    """Store what `action` would change, pending the actor's confirmation; raises ValidationFailed, NotFound or
    PermissionDenied with what to fix when it could not be done."""
    conversation = conversations.get(session, actor, conversation_id)  # albedo:use, and the actor's own
    kind = actions.kind(action)
    args = actions.parse(action, arguments)
    if message_id is not None:
        found = session.scalar(
            select(Message.id).where(
                Message.tenant_id == actor.tenant_id,
                Message.id == message_id,
                Message.conversation_id == conversation.id,
            )
        )
        if found is None:
            raise ValidationFailed("messageId is not a message of this conversation", details=[{"field": "messageId"}])
    preview = kind.preview(session, actor, args)
    try:  # what the services would refuse is refused now, not at confirmation
        with session.begin_nested():
            kind.apply(session, actor, args, preview.versions)
            raise _DryRun
    except _DryRun:
        pass
    proposal = Proposal(
        id=new_id(),
        tenant_id=actor.tenant_id,
        conversation_id=conversation.id,
        message_id=message_id,
        user_id=actor.user_id,
        action=action,
        arguments=args.model_dump(mode="json", exclude_unset=True),
        changes=preview.changes,
        versions=preview.versions,
        summary=preview.summary,
        status="pending",
        created_at=_now(),
        expires_at=_now() + TTL,
    )
    session.add(proposal)
    session.flush()
    return proposal


def get(session: Session, actor: Actor, proposal_id: UUID, *, for_update: bool = False) -> Proposal:
    """One of the actor's own proposals; anyone else's (or none) is a 404."""
    actor.require(conversations.ALBEDO, "use")
    statement = _owned(actor).where(Proposal.id == proposal_id)
    found = session.scalar(statement.with_for_update() if for_update else statement)
    if found is None:
        raise NotFound("Proposal not found")
    return found


def list_for(session: Session, actor: Actor, conversation_id: UUID) -> list[Proposal]:
    """The proposals of one of the actor's conversations, oldest first."""
    conversation = conversations.get(session, actor, conversation_id)
    statement = _owned(actor).where(Proposal.conversation_id == conversation.id)
    return list(session.scalars(statement.order_by(Proposal.created_at, Proposal.id).limit(MAX_LIST)))


@contextmanager
def _as_albedo(session: Session, proposal: Proposal, suffix: str = "") -> Iterator[None]:
    """The audit context of an action carried out for a proposal, whatever began the transaction."""
    request_id = f"albedo:{proposal.conversation_id}:{proposal.id}{suffix}"
    token = set_context(with_context(via="albedo", request_id=request_id))
    try:
        refresh_context(session)
        yield
    finally:
        reset_context(token)
        refresh_context(session)


def _say(session: Session, actor: Actor, proposal: Proposal, text: str) -> None:
    records = (proposal.result or {}).get("records", [])
    conversations.add_message(
        session,
        actor,
        proposal.conversation_id,
        "assistant",
        text,
        intent=proposal.action,
        action_taken={
            "proposalId": str(proposal.id),
            "action": proposal.action,
            "status": proposal.status,
            "records": records,
        },
    )


def _error_result(exc: DomainError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "status": exc.status, "details": to_jsonable_python(exc.details)}}


def confirm(session: Session, actor: Actor, proposal_id: UUID) -> Proposal:
    """Carry out a pending proposal. Returns it `confirmed` (with `result`: records created or changed), or `failed`
    (with `error`, and `result.error` the code and HTTP status) when the services refused it, nothing written."""
    proposal = get(session, actor, proposal_id, for_update=True)
    if proposal.status != "pending":
        raise Conflict(f"This proposal is already {proposal.status}; nothing was done again", code="NOT_PENDING")
    if proposal.expires_at <= _now():
        raise Conflict("This proposal expired; ask again", code="PROPOSAL_EXPIRED")
    kind = actions.kind(proposal.action)
    try:
        args = actions.parse(proposal.action, proposal.arguments)
        with _as_albedo(session, proposal), session.begin_nested():
            result = kind.apply(session, actor, args, proposal.versions)
    except DomainError as exc:
        proposal.status, proposal.error, proposal.result = "failed", exc.message, _error_result(exc)
        proposal.decided_at = _now()
        session.flush()
        _say(session, actor, proposal, f"Could not do it: {exc.message}")
        return proposal
    proposal.status, proposal.result, proposal.decided_at = "confirmed", to_jsonable_python(result), _now()
    session.flush()
    _say(session, actor, proposal, f"Done: {proposal.summary}")
    return proposal


def cancel(session: Session, actor: Actor, proposal_id: UUID) -> Proposal:
    """Drop a pending proposal (nothing was changed, nothing will be)."""
    proposal = get(session, actor, proposal_id, for_update=True)
    if proposal.status != "pending":
        raise Conflict(f"Only a pending proposal can be cancelled; this one is {proposal.status}", code="NOT_PENDING")
    proposal.status, proposal.decided_at = "cancelled", _now()
    session.flush()
    _say(session, actor, proposal, f"Cancelled: {proposal.summary}")
    return proposal


def undo(session: Session, actor: Actor, proposal_id: UUID) -> Proposal:
    """Take back a confirmed proposal's change through the services (created records deleted, fields and stages
    restored, owners given back). A Conflict, nothing changed, when the records changed since or the action
    cannot be undone."""
    proposal = get(session, actor, proposal_id, for_update=True)
    if proposal.status != "confirmed":
        raise Conflict(f"Only a confirmed proposal can be undone; this one is {proposal.status}", code="NOT_CONFIRMED")
    kind = actions.kind(proposal.action)
    if kind.undo is None:
        raise Conflict(kind.cannot_undo, code="NOT_UNDOABLE")
    args = actions.parse(proposal.action, proposal.arguments)
    with _as_albedo(session, proposal, ":undo"), session.begin_nested():
        kind.undo(session, actor, args, proposal.result or {})
    proposal.status, proposal.undone_at = "undone", _now()
    session.flush()
    _say(session, actor, proposal, f"Undone: {proposal.summary}")
    return proposal


def to_read(proposal: Proposal) -> ProposalRead:
    undoable = proposal.status == "confirmed" and actions.kind(proposal.action).undo is not None
    return ProposalRead.model_validate(proposal).model_copy(update={"undoable": undoable})


def to_view(proposal: Proposal) -> dict[str, Any]:
    """The fields of ai.albedo.contract.ProposalView (id, action, summary, changes, status), as JSON."""
    read = to_read(proposal)
    return read.model_dump(mode="json", include={"id", "action", "summary", "changes", "status"})
