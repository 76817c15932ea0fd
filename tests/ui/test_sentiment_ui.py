"""Sentiment where users see it: the badge and its reason on each timeline entry of a contact, a one-click
correction by the rep that shows at once and becomes the workspace's example, no correction buttons for who may
not edit, and the account's trend by month (`app.ui.sentiment.account_trend`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

import ai.nlp.sentiment_tasks  # noqa: F401  (the sentiment.train job a correction queues)
from ai.nlp import sentiment_crm
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.sentiment import service
from core.sentiment.models import SentimentExample
from core.users import service as users
from core.users.schemas import UserCreate
from tests.factories import PASSWORD
from tests.ui.conftest import actor_of, as_role, new_app, open_page, shown, sign_in

ANGRY = "Called about the renewal. They are furious about the outage and want a refund."


def clean(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def planted(demo_workspace: SeedResult) -> Iterator[dict[str, Any]]:
    """A contact of the rep at a new account, with an angry note, labelled by the worker's pass."""
    rep = actor_of(demo_workspace, "rep")
    with unit_of_work(rep) as session:
        account = accounts.create(session, rep, AccountCreate(name="Sentiment Testers")).id
        contact = contacts.create(
            session, rep, ContactCreate(first_name="Sam", last_name="Feelings", account_id=account)
        ).id
        note = notes.create(session, rep, "contacts", contact, NoteCreate(body=ANGRY)).id
    system = Actor.system(demo_workspace.tenant_id)
    with unit_of_work(system) as session:  # as the worker's pass does (the demo's own texts are not needed here)
        sentiment_crm.read_texts(session, system, service.texts_of(session, system, "notes", [note]))
    yield {"account": account, "contact": contact, "note": note}


def test_the_timeline_shows_the_label_its_reason_and_corrects_it_in_one_click(
    planted: dict[str, Any], demo_workspace: SeedResult
) -> None:
    at = as_role(demo_workspace, "rep")
    at.query_params["id"] = str(planted["contact"])
    clean(open_page(at, "contact.py"))
    text = shown(at)
    assert ":red-badge[:material/sentiment_dissatisfied: Negative]" in text
    assert "They are furious about the outage and want a refund." in text  # the sentence that carried it
    buttons = {b.key for b in at.button if b.key and b.key.startswith(f"sentiment_notes_{planted['note']}_")}
    assert buttons == {f"sentiment_notes_{planted['note']}_neutral", f"sentiment_notes_{planted['note']}_positive"}

    at.button(key=f"sentiment_notes_{planted['note']}_neutral").click().run()
    clean(at)
    assert ":gray-badge[:material/sentiment_neutral: Neutral · corrected]" in shown(at)
    rep = actor_of(demo_workspace, "rep")
    with unit_of_work(rep) as session:
        example = session.scalar(select(SentimentExample).where(SentimentExample.entity_id == planted["note"]))
        assert example is not None and (example.label, example.created_by) == ("neutral", rep.user_id)


def test_who_may_not_edit_sees_the_label_without_buttons(planted: dict[str, Any], demo_workspace: SeedResult) -> None:
    admin = actor_of(demo_workspace, "admin")
    email = f"analyst-{secrets.token_hex(3)}@{demo_workspace.slug}.example.com"
    with unit_of_work(admin) as session:  # an analyst reads everything and edits nothing
        users.create(
            session,
            admin,
            UserCreate(email=email, first_name="Ana", last_name="Lyst", password=PASSWORD, role="analyst"),
        )
    at = sign_in(new_app(), demo_workspace.slug, email)
    at.query_params["id"] = str(planted["contact"])
    clean(open_page(at, "contact.py"))
    assert "-badge[:material/sentiment_" in shown(at)
    assert not [b for b in at.button if b.key and b.key.startswith("sentiment_")]


def test_the_account_trend_panel(planted: dict[str, Any], demo_workspace: SeedResult) -> None:
    script = f"""
import streamlit as st
from uuid import UUID
from app.ui import sentiment
sentiment.account_trend(st.session_state["actor"], UUID("{planted["account"]}"))
"""
    at = AppTest.from_string(script, default_timeout=60)
    at.session_state["actor"] = actor_of(demo_workspace, "manager")
    clean(at.run())
    text = shown(at)
    assert "Customer sentiment" in text and "Last three months: " in text and "of 1 notes and activities" in text
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
