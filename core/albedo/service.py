"""Albedo's conversations: each belongs to the user who started it, and only they read, rename or delete it
(`albedo:use`; an admin does not read other people's conversations). Messages are appended by the engines in
ai/albedo/, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.albedo.models import ENGINES, ROLES, Conversation, Message
from core.albedo.schemas import ConversationCreate, ConversationRename
from core.errors import NotFound, ValidationFailed
from core.ids import new_id

ALBEDO = "albedo"
MAX_CONTENT = 20_000
MAX_LIST = 100


def _require(actor: Actor) -> UUID:
    actor.require(ALBEDO, "use")
    if actor.user_id is None:  # an API key or the system: a conversation is a person's
        raise ValidationFailed("Conversations with Albedo belong to a user; sign in as one")
    return actor.user_id


def _own(actor: Actor) -> Any:
    return select(Conversation).where(Conversation.tenant_id == actor.tenant_id, Conversation.user_id == actor.user_id)


def start(session: Session, actor: Actor, data: ConversationCreate | None = None) -> Conversation:
    user_id = _require(actor)
    data = data or ConversationCreate()
    conversation = Conversation(
        id=new_id(),
        tenant_id=actor.tenant_id,
        user_id=user_id,
        title=data.title,
        context=data.context.model_dump(mode="json") if data.context else None,
    )
    session.add(conversation)
    session.flush()
    return conversation


def get(session: Session, actor: Actor, conversation_id: UUID) -> Conversation:
    """One of the actor's own conversations; anyone else's (or none) is a 404."""
    _require(actor)
    found = session.scalar(_own(actor).where(Conversation.id == conversation_id))
    if found is None:
        raise NotFound("Conversation not found")
    return found


def list_conversations(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> list[Conversation]:
    """The actor's conversations, most recently active first."""
    _require(actor)
    if not 1 <= limit <= MAX_LIST or offset < 0:
        raise ValidationFailed(
            f"limit must be 1 to {MAX_LIST} and offset 0 or more",
            details=[{"field": "limit", "message": f"1 to {MAX_LIST}"}],
        )
    statement = _own(actor).order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    return list(session.scalars(statement.limit(limit).offset(offset)))


def rename(session: Session, actor: Actor, conversation_id: UUID, data: ConversationRename) -> Conversation:
    conversation = get(session, actor, conversation_id)
    conversation.title = data.title
    session.flush()
    return conversation


def remove(session: Session, actor: Actor, conversation_id: UUID) -> None:
    """Delete the conversation and its messages for good (personal data, not a CRM record)."""
    conversation = get(session, actor, conversation_id)
    session.execute(
        delete(Message).where(Message.tenant_id == actor.tenant_id, Message.conversation_id == conversation.id)
    )
    session.delete(conversation)
    session.flush()


def add_message(
    session: Session,
    actor: Actor,
    conversation_id: UUID,
    role: str,
    content: str,
    *,
    intent: str | None = None,
    entities: dict[str, Any] | None = None,
    action_taken: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    engine: str | None = None,
) -> Message:
    """Append a turn to one of the actor's conversations (the first user message names an untitled one)."""
    conversation = get(session, actor, conversation_id)
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", details=[{"field": "role"}])
    if engine is not None and engine not in ENGINES:
        raise ValidationFailed(f"engine must be one of {', '.join(ENGINES)}", details=[{"field": "engine"}])
    text = (content or "").strip()
    if not 1 <= len(text) <= MAX_CONTENT:
        raise ValidationFailed(
            f"content must be 1 to {MAX_CONTENT:,} characters", details=[{"field": "content", "message": "length"}]
        )
    message = Message(
        id=new_id(),
        tenant_id=actor.tenant_id,
        conversation_id=conversation.id,
        role=role,
        content=text,
        intent=intent,
        entities=entities,
        action_taken=action_taken,
        data=data,
        engine=engine,
        created_at=datetime.now(UTC),
    )
    session.add(message)
    conversation.last_message_at = message.created_at
    if conversation.title is None and role == "user":
        conversation.title = text if len(text) <= 80 else text[:79] + "…"
    session.flush()
    return message


def messages(session: Session, actor: Actor, conversation_id: UUID, *, limit: int = 200) -> list[Message]:
    """A conversation's messages in the order they were written (the latest `limit`)."""
    conversation = get(session, actor, conversation_id)
    newest = session.scalars(
        select(Message)
        .where(Message.tenant_id == actor.tenant_id, Message.conversation_id == conversation.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    return list(reversed(newest))
