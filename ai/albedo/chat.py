"""Asking Albedo: one question in, one stored exchange out, whichever engine answers.

`send()` is the single entry point of the page, the API and the evaluation: it stores the user's message, gives
the engine the conversation so far, falls back to the offline engine (saying why) when Claude cannot answer,
and stores the reply with what was understood (intent, entities), what it did (action_taken: the proposal, if
any) and what it showed (data). Both messages are written in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ai.albedo.contract import Reply
from ai.albedo.engine import Engine, EngineUnavailable, PastMessage, Turn
from ai.albedo.tools import ToolContext
from core.actor import Actor
from core.albedo import service as conversations
from core.albedo.models import Message
from core.analytics.service import tenant_timezone
from core.forecasts.service import fiscal_start_month
from core.users import service as users

HISTORY = 20  # messages given to the engine: enough for follow-ups, bounded for speed and for Claude's tokens


@dataclass(frozen=True)
class Exchange:
    conversation_id: UUID
    question: Message
    answer: Message
    reply: Reply


def context_for(
    session: Session, actor: Actor, conversation_id: UUID | None = None, engine: str = "offline"
) -> ToolContext:
    """The calendar the user lives in: their time zone (else the workspace's) and the workspace's fiscal year."""
    tz = tenant_timezone(session, actor)
    if actor.user_id is not None:
        tz = users.me(session, actor).timezone or tz
    now = datetime.now(UTC)
    return ToolContext(
        session=session,
        actor=actor,
        today=now.astimezone(ZoneInfo(tz)).date(),
        now=now,
        tz=tz,
        fiscal_start_month=fiscal_start_month(session, actor),
        conversation_id=conversation_id,
        engine=engine,
    )


def past(rows: list[Message]) -> list[PastMessage]:
    return [PastMessage(m.role, m.content, m.intent, m.entities, m.data) for m in rows if m.role != "system"]


def stored(reply: Reply) -> dict[str, Any]:
    """What ai_messages.data keeps of a reply (everything but the text, which is the message's content)."""
    return reply.model_dump(mode="json", exclude={"text", "engine", "intent", "entities"}, exclude_none=True)


def reply_of(message: Message) -> Reply | None:
    """A stored assistant message as the reply it was (None for user messages)."""
    if message.role != "assistant":
        return None
    return Reply.model_validate(
        {
            **(message.data or {}),
            "text": message.content,
            "engine": message.engine or "offline",
            "intent": message.intent,
            "entities": message.entities or {},
        }
    )


def _engines(choice: str | None) -> list[Engine]:
    from ai.albedo import offline

    engines: list[Engine] = []
    if choice != "offline":
        try:
            from ai.albedo import claude
        except ImportError:  # the Claude engine is optional
            claude = None  # type: ignore[assignment]
        if claude is not None and claude.available():
            engines.append(claude.ClaudeEngine())
    engines.append(offline.OfflineEngine())
    return engines


def send(
    session: Session,
    actor: Actor,
    conversation_id: UUID,
    text: str,
    *,
    on_text: Callable[[str], None] | None = None,
    on_reset: Callable[[], None] | None = None,
    engine: str | None = None,
) -> Exchange:
    """Ask Albedo `text` in one of the actor's conversations. `engine="offline"` forces the offline engine.

    `on_text` receives the reply's text as it comes; when Claude fails part-way and the offline engine answers
    instead, `on_reset` is called first, so whoever shows the partial text can clear it."""
    conversation = conversations.get(session, actor, conversation_id)
    history = past(conversations.messages(session, actor, conversation_id, limit=HISTORY))
    question = conversations.add_message(session, actor, conversation_id, "user", text)
    streamed: list[str] = []

    def relay(piece: str) -> None:
        streamed.append(piece)
        if on_text is not None:
            on_text(piece)

    turn = Turn(text=question.content, history=history, context=conversation.context, on_text=relay)
    notice = None
    reply: Reply | None = None
    for candidate in _engines(engine):
        ctx = context_for(session, actor, conversation_id, candidate.name)
        try:
            reply = candidate.respond(ctx, turn)
            break
        except EngineUnavailable as exc:
            notice = exc.notice
            if streamed:
                streamed.clear()
                if on_reset is not None:
                    on_reset()
    assert reply is not None  # the offline engine always answers
    if notice and reply.notice is None:
        reply = reply.model_copy(update={"notice": notice})
    action = None
    if reply.proposal is not None:
        action = {"proposalId": reply.proposal.id, "action": reply.proposal.action, "status": reply.proposal.status}
    answer = conversations.add_message(
        session,
        actor,
        conversation_id,
        "assistant",
        reply.text,
        intent=reply.intent,
        entities=reply.entities or None,
        action_taken=action,
        data=stored(reply),
        engine=reply.engine,
    )
    return Exchange(conversation_id, question, answer, reply)
