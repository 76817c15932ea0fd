"""Next best actions where a rep sees them (a test page rendering the sections the deal page, My day and the
Insights page use): the deal's actions ranked with reasons and expected values, Apply creating the task and Ignore
recording the choice (both gone after the click), the rep's own actions linked to their records, and the
taken/ignored rates."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ai.insights import actions as nba
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actions import service as nba_service
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from core.tasks.models import Task
from tests.ui.conftest import ROOT, actor_of, shown

PAGE = str(ROOT / "tests" / "ui" / "actions_page.py")


@pytest.fixture(scope="module")
def planted(demo_workspace: SeedResult) -> dict[str, Any]:
    """Two fresh deals of the rep at single-contact accounts, nothing booked, large enough that their actions lead
    the rep's list whatever the demo drew; the workspace's actions refreshed."""
    rep = actor_of(demo_workspace, "rep")
    ids = []
    with unit_of_work(rep) as session:
        for name, account_name in (("Nextbest pilot", "Nextbest Ltd"), ("Nextbest expansion", "Furtherbest Ltd")):
            account = accounts.create(session, rep, AccountCreate(name=account_name))
            contact = contacts.create(
                session, rep, ContactCreate(first_name="Ned", last_name="Best", account_id=account.id)
            )
            about = {"account_id": account.id, "contact_id": contact.id}
            ids.append(deals.create(session, rep, DealCreate(name=name, amount=Decimal(5_000_000), **about)).id)
    system = Actor.system(demo_workspace.tenant_id)
    with unit_of_work(system) as session:
        nba.refresh(session, system)
    return {"rep": rep, "deal": ids[0], "other": ids[1]}


def page(actor: Actor, deal_id: UUID) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["cf_actor"] = actor
    at.session_state["nba_entity"] = ("deals", str(deal_id))
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_a_rep_applies_and_ignores_the_actions_of_their_deal(planted: dict[str, Any]) -> None:
    rep, deal_id = planted["rep"], planted["deal"]
    at = page(rep, deal_id)
    text = shown(at)
    assert "Book the next step for Nextbest pilot" in text and "Multi-thread Nextbest Ltd" in text
    assert "no future task or meeting booked" in text and "expected." in text
    values = [m.value for m in at.metric if m.label == "Expected value"]
    assert len(values) >= 2 and all(v.startswith("$") for v in values)
    apply_keys = [b.key for b in at.button if b.key and b.key.startswith("nba_record_apply_")]
    assert apply_keys, "each action has its Apply button"

    # The actions come highest expected value first (their order follows the uplifts measured on the demo).
    with unit_of_work(rep) as session:
        first, second = (
            nba_service.get(session, rep, UUID(key.removeprefix("nba_record_apply_"))) for key in apply_keys[:2]
        )
        first_kind, first_title, second_title = first.kind, first.title, second.title
        first_task = nba_service.task_for(first).title
    at.button(key=apply_keys[0]).click().run()
    assert not at.exception and not at.error
    with unit_of_work(rep) as session:
        titles = list(session.scalars(select(Task.title).where(Task.deal_id == deal_id)))
    assert titles == [first_task], "Apply created the task the first action implies"
    assert first_title not in shown(at)

    ignore = next(b.key for b in at.button if b.key and b.key.startswith("nba_record_ignore_"))
    at.button(key=ignore).click().run()
    assert not at.exception and not at.error
    assert second_title not in shown(at)
    tiles = {m.label: m.value for m in at.metric}
    assert (tiles["Taken"], tiles["Ignored"], tiles["Taken rate"]) == ("1", "1", "50%")
    table = at.dataframe[0].value
    assert list(table["Action"]) == [
        "Follow up on a rotting deal",
        "Schedule the missing next step",
        "Re-engage a champion gone quiet",
        "Multi-thread a single-contact account",
        "Call a hot lead now",
    ]
    label = {
        "schedule_next_step": "Schedule the missing next step",
        "multi_thread": "Multi-thread a single-contact account",
    }
    assert table.set_index("Action").loc[label[first_kind], "Taken"] == 1


def test_what_should_i_do_next_links_the_reps_own_actions(planted: dict[str, Any]) -> None:
    at = page(planted["rep"], planted["deal"])
    links = [p.proto.label for p in at.get("page_link")]
    assert "Book the next step for Nextbest expansion" in links, links
    assert len(links) <= 5
    # a role without insights:read (read_only's): the same rep's view with that permission taken away
    rep = planted["rep"]
    viewer = page(replace(rep, permissions=rep.permissions - {"insights:read"}), planted["deal"])
    assert "Next best actions" not in shown(viewer) and "What should I do next" not in shown(viewer)
    assert not viewer.button, "a role without insights:read sees no actions"
