"""The Albedo page under AppTest, with the offline engine, on a small demo workspace of its own: questions answered
with their figure, table (rows linked to their records) or chart; starter questions and clarifying options asked
with one click; text from records shown as written, never as markup; the history sidebar (open, rename, delete,
nobody else's); proposals that change a record only when confirmed (cancel, undo, overtaken, expired); "Ask Albedo"
from deal, account and contact pages and `?record=` links; and the refusal of roles without albedo:use."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.albedo import proposals
from core.albedo import service as conversations
from core.albedo.models import Conversation
from core.albedo.schemas import ConversationCreate
from core.auth import service as auth
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.demo import service as demo
from core.errors import NotFound
from core.users import service as users
from core.users.schemas import UserCreate
from etl import pipeline
from tests.factories import PASSWORD, quiesce
from tests.ui.conftest import ROOT, actor_of, new_app, open_page, shown, sign_in

PAGE = str(ROOT / "pages" / "albedo.py")
DEALS = ("Albedo Orion renewal", "Albedo Vega expansion", "Albedo Lyra pilot")


@dataclass(frozen=True)
class World:
    slug: str
    rep: Actor
    rep_email: str
    other: Actor  # another rep of the same workspace (whose records tests may add to)
    other_email: str
    read_only_email: str
    deal_ids: tuple[UUID, ...]


def _new_user(admin: Actor, first: str, role: str = "rep") -> tuple[Actor, str]:
    email = f"{first.lower()}-{secrets.token_hex(3)}@albedo.example.com"
    with unit_of_work(admin) as session:
        user, _ = users.create(
            session,
            admin,
            UserCreate(email=email, first_name=first, last_name="Albedo", password=PASSWORD, role=role),
        )
        user_id = user.id
    with unit_of_work(tenant_id=admin.tenant_id) as session:
        return auth.load_actor(session, tenant_id=admin.tenant_id, user_id=user_id), email


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A small demo workspace of its own (its warehouse loaded), with a new rep who owns exactly three open deals (so
    "my open deals" has one right answer), a second rep and a read-only user."""
    seeded = demo.seed(slug=f"al-{secrets.token_hex(4)}", scale="small", seed=7, password=PASSWORD)
    admin = actor_of(seeded, "admin")
    rep, email = _new_user(admin, "Riley")
    other, other_email = _new_user(admin, "Morgan")
    _, read_only_email = _new_user(admin, "Quinn", "read_only")
    amounts = (Decimal("12000"), Decimal("30000"), Decimal("8000"))
    with unit_of_work(rep) as session:
        ids = tuple(
            deals.create(session, rep, DealCreate(name=n, amount=a)).id for n, a in zip(DEALS, amounts, strict=True)
        )
    pipeline.run(seeded.tenant_id, full=True)  # the warehouse Albedo's figures come from
    yield World(seeded.slug, rep, email, other, other_email, read_only_email, ids)
    quiesce(seeded.tenant_id)


def page_as(actor: Actor, **params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["cf_actor"] = actor
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def clean(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def read(markdown: str) -> str:
    """Markdown as the user reads it (escapes and hard line breaks resolved)."""
    return re.sub(r"\\([^\w\s])", r"\1", markdown.replace("  \n", "\n"))


def said(at: AppTest) -> list[tuple[str, str]]:
    """The conversation as shown: (who, the words of each message, as read)."""
    return [(m.name, read(str(m.markdown[0].value))) for m in at.chat_message]


def titles(at: AppTest) -> list[str]:
    return [read(b.label) for b in at.sidebar.button if str(b.key).startswith("albedo_open_")]


def mine(actor: Actor) -> list[Conversation]:
    with unit_of_work(actor) as session:
        return conversations.list_conversations(session, actor)


def stage_of(actor: Actor, deal_id: UUID) -> str:
    with unit_of_work(actor) as session:
        return deals.to_read(session, actor, deals.get(session, actor, deal_id)).stage_name


# Asking ---------------------------------------------------------------------------------------------------


def ask(at: AppTest, text: str) -> AppTest:
    at.chat_input(key="albedo_ask").set_value(text).run()
    return clean(at)


def test_a_rep_asks_for_their_open_deals_and_sees_the_answer_and_the_deals(world: World) -> None:
    at = clean(page_as(world.rep))
    assert "How many open deals do I have?" in [b.label for b in at.button]  # the starters of an empty page
    ask(at, "show my open deals")
    (who_asked, question), (who_answered, answer) = said(at)
    assert (who_asked, who_answered) == ("user", "assistant")
    assert question == "show my open deals" and answer.startswith("3 deals")
    frame = at.dataframe[0].value
    assert sorted(frame["Deal"]) == sorted(DEALS)
    assert frame["Open"].str.startswith("/deal?id=").all()  # each row links to its deal
    conversation_id = at.query_params["conversation"]
    stored = mine(world.rep)
    assert str(stored[0].id) == conversation_id and stored[0].title == "show my open deals"
    assert titles(at)[0] == "show my open deals"
    with unit_of_work(world.rep) as session:
        kept = conversations.messages(session, world.rep, UUID(conversation_id))
    assert [(m.role, m.intent) for m in kept] == [("user", None), ("assistant", "find_records")]


def test_a_starter_question_is_asked_with_one_click_and_its_figure_shown(world: World) -> None:
    at = clean(page_as(world.rep))
    next(b for b in at.button if b.label == "How many open deals do I have?").click().run()
    clean(at)
    assert said(at)[0] == ("user", "How many open deals do I have?")
    assert [m.value for m in at.metric] == ["3"]


def test_the_pipeline_by_stage_comes_with_its_chart(world: World) -> None:
    at = ask(clean(page_as(world.rep)), "what is my pipeline by stage?")
    assert "50,000" in said(at)[-1][1]
    [drawn] = at.get("vega_lite_chart")
    spec = json.loads(drawn.proto.spec)
    assert spec["mark"]["type"] == "bar" and spec["title"] == "Open pipeline by stage"
    frame = at.dataframe[0].value
    assert frame.to_dict("records") == [{"Stage": "Prospecting", "Open pipeline": 50000.0, "Deals": 3}]


def test_a_clarifying_question_offers_the_matching_records_and_a_click_answers_it(world: World) -> None:
    other = world.other
    with unit_of_work(other) as session:
        for name in ("Apollo renewal", "Apollo expansion"):
            deals.create(session, other, DealCreate(name=name, amount=Decimal("4000")))
    at = ask(clean(page_as(other)), "summarize Apollo")
    assert said(at)[-1] == ("assistant", 'Which "Apollo" do you mean?')
    options = [b for b in at.button if str(b.key).startswith("albedo_option_")]
    assert sorted(read(b.label) for b in options) == ["Apollo expansion (deal)", "Apollo renewal (deal)"]
    next(b for b in options if b.label.startswith("Apollo renewal")).click().run()
    clean(at)
    assert said(at)[-2] == ("user", "Apollo renewal (deal)")
    assert said(at)[-1][1].startswith("Apollo renewal: $4,000, open")
    assert not [b for b in at.button if str(b.key).startswith("albedo_option_")]  # answered: no longer offered


def test_text_from_records_is_shown_as_written_never_as_markup(world: World) -> None:
    other = world.other
    name = "Zeta ![x](http://attacker.example/p.png) :red[$5] *bold*"
    with unit_of_work(other) as session:
        deals.create(session, other, DealCreate(name=name, amount=Decimal("5000")))
    at = ask(clean(page_as(other)), "summarize the Zeta deal")
    raw = str(at.chat_message[-1].markdown[0].value)
    assert re.search(r"(?<!\\)[\[\]!$*]", raw) is None  # no image, link, colour, LaTeX or emphasis
    assert said(at)[-1][1].startswith(f"{name}: $5,000")  # what the user reads: the name, literally


NOTICE = "Claude did not answer in time; the offline engine did."


def test_a_replys_notice_and_suggestions_are_shown_and_a_suggestion_asks_itself(world: World) -> None:
    rep = world.rep
    with unit_of_work(rep) as session:  # a reply as chat.send stores it, after Claude could not answer
        conversation = conversations.start(session, rep)
        conversations.add_message(session, rep, conversation.id, "user", "how is my quarter going")
        conversations.add_message(
            session,
            rep,
            conversation.id,
            "assistant",
            "You have 3 open deals.",
            data={"notice": NOTICE, "suggestions": ["show my open deals"]},
            engine="offline",
        )
    at = clean(page_as(rep, conversation=str(conversation.id)))
    assert [i.value for i in at.info] == [NOTICE]
    [suggested] = [b for b in at.button if str(b.key).startswith("albedo_suggest_")]
    assert suggested.label == "show my open deals"
    suggested.click().run()
    clean(at)
    assert said(at)[-2:] == [("user", "show my open deals"), ("assistant", said(at)[-1][1])]
    assert said(at)[-1][1].startswith("3 deals") and sorted(at.dataframe[0].value["Deal"]) == sorted(DEALS)


# The history sidebar --------------------------------------------------------------------------------------


def test_the_sidebar_opens_renames_and_deletes_the_reps_own_conversations(world: World) -> None:
    rep = world.rep
    with unit_of_work(rep) as session:
        first = conversations.start(session, rep, ConversationCreate(title="Pipeline review"))
        conversations.add_message(session, rep, first.id, "user", "what is my pipeline")
        conversations.add_message(session, rep, first.id, "assistant", "Your pipeline is $50k.")
        second = conversations.start(session, rep, ConversationCreate(title="Tasks this week"))
        conversations.add_message(session, rep, second.id, "user", "my tasks this week")
    with unit_of_work(world.other) as session:
        conversations.start(session, world.other, ConversationCreate(title="Someone else's chat"))
    at = clean(page_as(rep))
    assert {"Pipeline review", "Tasks this week"} <= set(titles(at))
    assert "Someone else's chat" not in titles(at)

    at.sidebar.button(key=f"albedo_open_{first.id}").click().run()
    clean(at)
    assert at.query_params["conversation"] == str(first.id)
    assert said(at) == [("user", "what is my pipeline"), ("assistant", "Your pipeline is $50k.")]

    at.sidebar.button(key="albedo_new").click().run()
    clean(at)
    assert "conversation" not in at.query_params and [who for who, _ in said(at)] == ["assistant"]  # the greeting
    at.sidebar.button(key=f"albedo_open_{first.id}").click().run()

    at.sidebar.text_input(key=f"albedo_title_{first.id}").input("Q3 pipeline review")
    at.sidebar.button(key="albedo_rename").click().run()
    clean(at)
    assert "Q3 pipeline review" in titles(at)
    with unit_of_work(rep) as session:
        assert conversations.get(session, rep, first.id).title == "Q3 pipeline review"

    at.sidebar.button(key="albedo_delete").click().run()  # asks first
    assert "for good" in shown(at)
    at.sidebar.button(key="albedo_delete_no").click().run()
    clean(at)
    with unit_of_work(rep) as session:
        assert conversations.get(session, rep, first.id)  # kept
    at.sidebar.button(key="albedo_delete").click().run()
    at.sidebar.button(key="albedo_delete_yes").click().run()
    clean(at)
    assert "Q3 pipeline review" not in titles(at) and "conversation" not in at.query_params
    with unit_of_work(rep) as session, pytest.raises(NotFound):
        conversations.get(session, rep, first.id)
    assert [who for who, _ in said(at)] == ["assistant"] and "Some ideas" in said(at)[0][1]  # a new conversation


def test_another_users_conversation_does_not_open(world: World) -> None:
    with unit_of_work(world.other) as session:
        theirs = conversations.start(session, world.other, ConversationCreate(title="Private"))
        conversations.add_message(session, world.other, theirs.id, "user", "my secret question")
    at = page_as(world.rep, conversation=str(theirs.id))
    assert not at.exception
    assert "not one of yours" in shown(at)
    assert "my secret question" not in shown(at) and "user" not in [who for who, _ in said(at)]


# Proposals ------------------------------------------------------------------------------------------------


def proposal_buttons(at: AppTest, verb: str) -> list[Any]:
    return [b for b in at.button if str(b.key).startswith(f"albedo_{verb}_")]


def test_a_proposal_moves_the_deal_only_when_confirmed_and_can_be_undone(world: World) -> None:
    rep, deal_id = world.rep, world.deal_ids[2]
    before = stage_of(rep, deal_id)
    at = ask(clean(page_as(rep)), f"move {DEALS[2]} to Negotiation")
    changes = next(d.value for d in at.dataframe if "After" in d.value.columns)
    assert {"Record": DEALS[2], "Field": "stage", "Now": before, "After": "Negotiation"} in changes.to_dict("records")
    assert "Waiting for your confirmation" in shown(at)
    assert stage_of(rep, deal_id) == before  # shown, not done

    [confirm] = proposal_buttons(at, "confirm")
    confirm.click().run()
    clean(at)
    assert stage_of(rep, deal_id) == "Negotiation"
    assert "Done" in shown(at) and not proposal_buttons(at, "confirm")
    assert said(at)[-1][0] == "assistant" and said(at)[-1][1].startswith("Done:")

    [undo] = proposal_buttons(at, "undo")
    undo.click().run()
    clean(at)
    assert stage_of(rep, deal_id) == before
    assert "Undone" in shown(at) and not proposal_buttons(at, "undo")


def test_a_cancelled_proposal_changes_nothing(world: World) -> None:
    rep, deal_id = world.rep, world.deal_ids[1]
    before = stage_of(rep, deal_id)
    at = ask(clean(page_as(rep)), f"move {DEALS[1]} to Negotiation")
    [cancel] = proposal_buttons(at, "cancel")
    proposal_id = UUID(str(cancel.key).removeprefix("albedo_cancel_"))
    cancel.click().run()
    clean(at)
    assert stage_of(rep, deal_id) == before
    with unit_of_work(rep) as session:
        assert proposals.get(session, rep, proposal_id).status == "cancelled"
    assert "nothing was changed" in shown(at)
    assert not proposal_buttons(at, "confirm") and not proposal_buttons(at, "cancel")


def test_a_proposal_overtaken_by_another_change_fails_and_changes_nothing(world: World) -> None:
    user = world.other
    with unit_of_work(user) as session:
        deal = deals.create(session, user, DealCreate(name="Kepler rollout", amount=Decimal("7000")))
    at = ask(clean(page_as(user)), "move Kepler rollout to Negotiation")
    with unit_of_work(user) as session:  # meanwhile, on the deal's page
        deals.update(session, user, deal.id, DealPatch(next_step="Call the CFO"))
    [confirm] = proposal_buttons(at, "confirm")
    confirm.click().run()
    assert not at.exception
    assert any(e.value.startswith("Could not do it: The deal changed since") for e in at.error)
    assert stage_of(user, deal.id) == "Prospecting" and not proposal_buttons(at, "confirm")


def test_an_expired_proposal_offers_no_buttons(world: World) -> None:
    user = world.other
    with unit_of_work(user) as session:
        deal = deals.create(session, user, DealCreate(name="Tycho refresh", amount=Decimal("6000")))
    at = ask(clean(page_as(user)), "move Tycho refresh to Negotiation")
    [confirm] = proposal_buttons(at, "confirm")
    with unit_of_work(user) as session:  # an hour later
        stored = proposals.get(session, user, UUID(str(confirm.key).removeprefix("albedo_confirm_")))
        stored.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    at.run()
    clean(at)
    assert "Expired" in shown(at) and not proposal_buttons(at, "confirm") and not proposal_buttons(at, "cancel")
    assert stage_of(user, deal.id) == "Prospecting"


# Record context -------------------------------------------------------------------------------------------


def _record(actor: Actor, kind: str) -> tuple[UUID, str]:
    """A record of `kind` the actor owns, and its name as its page shows it."""
    with unit_of_work(actor) as session:
        if kind == "deal":
            return deals.create(session, actor, DealCreate(name="Helios upgrade", amount=Decimal("15000"))).id, (
                "Helios upgrade"
            )
        if kind == "account":
            return accounts.create(session, actor, AccountCreate(name="Helios Industries")).id, "Helios Industries"
        return contacts.create(session, actor, ContactCreate(first_name="Hana", last_name="Helios")).id, "Hana Helios"


@pytest.mark.parametrize("kind", ["deal", "account", "contact"])
def test_ask_albedo_on_a_record_page_opens_a_conversation_about_the_record(world: World, kind: str) -> None:
    record_id, name = _record(world.other, kind)
    at = sign_in(new_app(), world.slug, world.other_email)
    at.query_params["id"] = str(record_id)
    open_page(at, f"{kind}.py")
    assert not at.exception
    at.button(key=f"ask_albedo_{kind}_{record_id}").click().run()
    assert not at.exception, at.exception
    assert f"About the {kind} {name}" in read(shown(at)).replace("[", "").replace("]", "")
    started = mine(world.other)[0]
    assert started.title == f"About {name}"
    assert started.context == {"entity_type": f"{kind}s", "entity_id": str(record_id)}
    open_page(at, "albedo.py")  # AppTest reruns the script it was switched to last, not the one a page switched to
    summarize = next(b for b in at.button if b.label == f"Summarize this {kind}")  # starters about the record
    summarize.click().run()
    assert not at.exception, at.exception
    assert said(at)[-2] == ("user", f"Summarize this {kind}")
    assert name in said(at)[-1][1]  # answered about this record, without naming it


def test_a_record_link_starts_one_conversation_about_it(world: World) -> None:
    deal_id = world.deal_ids[0]
    count = len(mine(world.rep))
    at = clean(page_as(world.rep, record=f"deal:{deal_id}"))
    assert "record" not in at.query_params and at.query_params["conversation"]
    assert len(mine(world.rep)) == count + 1
    at.run()  # a rerun (a reload) opens the same conversation, it does not start another
    clean(at)
    assert len(mine(world.rep)) == count + 1
    assert "About the deal" in shown(at)


def test_a_record_out_of_the_reps_scope_is_refused(world: World) -> None:
    deal_id = world.deal_ids[0]
    before = len(mine(world.other))
    at = page_as(world.other, record=f"deal:{deal_id}")
    assert not at.exception
    assert [e.value for e in at.error] == ["No deal you can open has that id."]
    assert len(mine(world.other)) == before  # no conversation started about it


# Permission -----------------------------------------------------------------------------------------------


def test_a_rep_without_albedo_use_is_refused(world: World) -> None:
    barred = replace(world.rep, permissions=world.rep.permissions - {"albedo:use"})
    at = page_as(barred)
    assert [e.value for e in at.error] == ["Your role (rep) cannot open Albedo."]
    assert not at.chat_input and not at.button


def test_a_read_only_user_has_no_albedo_page(world: World) -> None:
    at = sign_in(new_app(), world.slug, world.read_only_email)
    assert not at.exception
    with pytest.raises(ValueError, match=r"navigation page for '.*/pages/albedo\.py'"):
        open_page(at, "albedo.py")
    at = sign_in(new_app(), world.slug, world.rep_email)
    open_page(at, "albedo.py")
    assert not at.exception and at.chat_input(key="albedo_ask")
