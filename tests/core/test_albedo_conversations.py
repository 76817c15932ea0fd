"""Albedo's conversations: a user's own (started, listed most recent first, renamed, deleted with their
messages), invisible to other users and other workspaces, refused to a role without `albedo:use`, and bad input
answered with a message that names the field."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.albedo import service as albedo
from core.albedo.models import Message
from core.albedo.schemas import ConversationCreate, ConversationRename, RecordContext
from core.db import unit_of_work
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from tests.factories import TenantWorld, create_tenant


def test_a_users_conversation_from_first_question_to_deletion(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(rep) as session:
        first = albedo.start(session, rep)
        albedo.add_message(session, rep, first.id, "user", "  Which of my deals close this month?  ")
        albedo.add_message(
            session,
            rep,
            first.id,
            "assistant",
            "3 deals close this month, worth USD 42,000.",
            intent="find_deals",
            entities={"period": "this_month", "owner": "me"},
            data={"value": 42000},
            engine="offline",
        )
        context = RecordContext(entity_type="accounts", entity_id=new_id())
        second = albedo.start(session, rep, ConversationCreate(title="About Acme", context=context))
        albedo.add_message(session, rep, second.id, "user", "Summarise this account")
    with unit_of_work(rep) as session:
        listed = albedo.list_conversations(session, rep)
        assert [c.id for c in listed] == [second.id, first.id]  # most recently active first
        assert listed[1].title == "Which of my deals close this month?"  # named by its first question
        assert listed[0].title == "About Acme" and listed[0].context["entity_type"] == "accounts"
        turns = albedo.messages(session, rep, first.id)
        assert [(m.role, m.intent, m.engine) for m in turns] == [
            ("user", None, None),
            ("assistant", "find_deals", "offline"),
        ]
        assert turns[1].entities == {"period": "this_month", "owner": "me"} and turns[1].data == {"value": 42000}
        assert albedo.rename(session, rep, first.id, ConversationRename(title="Month end")).title == "Month end"
    with unit_of_work(rep) as session:
        albedo.remove(session, rep, first.id)
    with unit_of_work(rep) as session:
        assert [c.id for c in albedo.list_conversations(session, rep)] == [second.id]
        left = session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == first.id))
        assert left == 0
        with pytest.raises(NotFound):
            albedo.messages(session, rep, first.id)


def test_nobody_else_reads_a_conversation(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(rep) as session:
        mine = albedo.start(session, rep, ConversationCreate(title="Private"))
    admin = tenant.admin
    other = create_tenant().admin
    for who in (admin, other):
        with unit_of_work(who) as session:
            assert albedo.list_conversations(session, who) == []
            with pytest.raises(NotFound):
                albedo.get(session, who, mine.id)
            with pytest.raises(NotFound):
                albedo.add_message(session, who, mine.id, "user", "let me in")


def test_a_role_without_albedo_is_refused_and_bad_input_changes_nothing(tenant: TenantWorld) -> None:
    reader = tenant.actor(tenant.add_user("read_only"))
    with unit_of_work(reader) as session, pytest.raises(PermissionDenied):
        albedo.start(session, reader)
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(rep) as session:
        conversation = albedo.start(session, rep)
    for kwargs, field in (
        ({"role": "user", "content": "   "}, "content"),
        ({"role": "user", "content": "x" * 20_001}, "content"),
        ({"role": "boss", "content": "hello"}, "role"),
        ({"role": "assistant", "content": "hello", "engine": "gpt"}, "engine"),
    ):
        with unit_of_work(rep) as session, pytest.raises(ValidationFailed) as raised:
            albedo.add_message(session, rep, conversation.id, **kwargs)
        assert raised.value.details[0]["field"] == field
    with pytest.raises(ValueError):
        ConversationRename(title="")
    with unit_of_work(rep) as session:
        assert albedo.messages(session, rep, conversation.id) == []
        assert albedo.get(session, rep, conversation.id).title is None
        with pytest.raises(ValidationFailed):
            albedo.list_conversations(session, rep, limit=0)
