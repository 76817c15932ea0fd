"""Albedo's conversations over HTTP: start, list, rename, delete, read their messages, and ask (`POST
/albedo/conversations/{id}/messages`: a JSON reply, or server-sent events with `"stream": true` or `Accept:
text/event-stream`). Each conversation is its user's own (an admin does not read others'); `albedo:use` is needed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import Field

from ai.albedo import chat
from ai.albedo.contract import Reply
from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.actor import Actor
from core.albedo import service as albedo
from core.albedo.schemas import ConversationCreate, ConversationRead, ConversationRename, MessageRead
from core.db import unit_of_work
from core.errors import DomainError
from core.schemas import ReadSchema, Schema

log = logging.getLogger(__name__)

router = APIRouter(prefix="/albedo", tags=["albedo"], dependencies=[requires("albedo", "use")])
ERRORS = error_responses(400, 401, 403, 404)


def _conversation(row: object) -> dict:
    return ConversationRead.model_validate(row).model_dump(mode="json", by_alias=True)


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ConversationRead],
    responses=ERRORS,
)
def start_conversation(
    actor: CurrentActor, session: SessionDep, response: Response, body: ConversationCreate | None = None
) -> dict:
    """A new conversation, optionally about a record (`context`: the record an "Ask Albedo" came from). Untitled,
    it takes its first question as its title."""
    conversation = albedo.start(session, actor, body)
    response.headers["Location"] = f"/api/v1/albedo/conversations/{conversation.id}"
    return ok(_conversation(conversation))


@router.get("/conversations", response_model=Envelope[list[ConversationRead]], responses=ERRORS)
def list_conversations(
    actor: CurrentActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Your conversations, most recently active first."""
    return ok([_conversation(c) for c in albedo.list_conversations(session, actor, limit=limit, offset=offset)])


@router.get("/conversations/{conversation_id}", response_model=Envelope[ConversationRead], responses=ERRORS)
def get_conversation(conversation_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_conversation(albedo.get(session, actor, conversation_id)))


@router.patch("/conversations/{conversation_id}", response_model=Envelope[ConversationRead], responses=ERRORS)
def rename_conversation(
    conversation_id: UUID, body: ConversationRename, actor: CurrentActor, session: SessionDep
) -> dict:
    return ok(_conversation(albedo.rename(session, actor, conversation_id, body)))


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_conversation(conversation_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Deletes the conversation and its messages for good."""
    albedo.remove(session, actor, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/conversations/{conversation_id}/messages", response_model=Envelope[list[MessageRead]], responses=ERRORS)
def list_messages(
    conversation_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    """The conversation's messages in order (the latest `limit`): who said what, the intent and entities
    understood, the action taken, the data shown and the engine that answered."""
    rows = albedo.messages(session, actor, conversation_id, limit=limit)
    return ok([MessageRead.model_validate(m).model_dump(mode="json", by_alias=True) for m in rows])


class Question(Schema):
    """What the user asks."""

    content: str = Field(min_length=1, max_length=4000, examples=["What's my open pipeline worth this quarter?"])
    stream: bool = Field(
        False,
        description="Answer as server-sent events: `delta` text chunks, `reset` (drop the text so far: Claude failed "
        "part-way and the offline engine answers instead), then `reply` with everything; `error` if it failed.",
    )
    engine: str | None = Field(
        None,
        pattern="^(offline|claude)$",
        description="`offline` forces the offline engine; default: Claude when a key is set, else offline.",
    )


class Answer(ReadSchema):
    question: MessageRead
    answer: MessageRead
    reply: Reply


def _answer(exchange: chat.Exchange) -> dict[str, Any]:
    return {
        "question": MessageRead.model_validate(exchange.question).model_dump(mode="json", by_alias=True),
        "answer": MessageRead.model_validate(exchange.answer).model_dump(mode="json", by_alias=True),
        "reply": exchange.reply.model_dump(mode="json"),
    }


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


def _stream(actor: Actor, conversation_id: UUID, body: Question) -> Iterator[str]:
    """Run the exchange in its own unit of work on a thread, passing the reply's text on as it comes; the final
    `reply` event is sent after the exchange is committed."""
    events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()

    def work() -> None:
        try:
            with unit_of_work(actor) as session:
                exchange = chat.send(
                    session,
                    actor,
                    conversation_id,
                    body.content,
                    on_text=lambda text: events.put(("delta", {"text": text})),
                    on_reset=lambda: events.put(("reset", {})),
                    engine=body.engine,
                )
                payload = _answer(exchange)
            events.put(("reply", payload))
        except DomainError as exc:
            events.put(("error", {"code": exc.code, "message": exc.message}))
        except Exception:  # the stream has begun: say so in it rather than cut it
            log.exception("albedo stream failed")
            events.put(("error", {"code": "INTERNAL_ERROR", "message": "Albedo failed to answer; try again."}))
        finally:
            events.put(None)

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), daemon=True, name="albedo-stream").start()
    while (item := events.get()) is not None:
        yield _event(*item)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=Envelope[Answer],
    responses={
        **ERRORS,
        200: {
            "description": "The stored question and answer, with the structured reply (JSON), or server-sent events",
            "content": {
                "text/event-stream": {
                    "example": 'event: delta\ndata: {"text": "Open pipeline: $1,204,500."}\n\n'
                    'event: reply\ndata: {"question": {...}, "answer": {...}, "reply": {...}}\n\n'
                }
            },
        },
    },
)
def ask(
    conversation_id: UUID,
    body: Question,
    actor: CurrentActor,
    session: SessionDep,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Ask Albedo. The reply carries its text, what was understood (intent, entities), the tool calls made (with
    the records behind each figure), the data shown (value, table, chart) and, for a change, a `proposal` that
    does nothing until `POST /albedo/proposals/{id}/confirm`."""
    albedo.get(session, actor, conversation_id)  # 404 before any stream starts
    if body.stream or (accept or "").startswith("text/event-stream"):
        session.rollback()
        return StreamingResponse(
            _stream(actor, conversation_id, body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    exchange = chat.send(session, actor, conversation_id, body.content, engine=body.engine)
    return ok(_answer(exchange))
