"""Albedo's conversations over HTTP: start, list, rename, delete, and read their messages. Each conversation is
its user's own (an admin does not read others'); `albedo:use` is needed. Asking Albedo (`POST
/albedo/conversations/{id}/messages`) comes with its engine (issue 11)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.albedo import service as albedo
from core.albedo.schemas import ConversationCreate, ConversationRead, ConversationRename, MessageRead

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
