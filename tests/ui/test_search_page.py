"""The Search page and the sidebar's search box: by words, by meaning or both, with links to the records."""

from __future__ import annotations

import secrets

from ai.nlp import store
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from tests.ui.conftest import actor_of, as_role, open_page, shown


def test_meaning_finds_what_words_miss_and_links_to_the_record(demo_workspace: SeedResult) -> None:
    rep = actor_of(demo_workspace, "rep")
    name = f"Crumb {secrets.token_hex(3)}"
    with unit_of_work(rep) as session:
        account = accounts.create(session, rep, AccountCreate(name=name, description="Artisan bakery: sourdough"))
        notes.create(session, rep, "accounts", account.id, NoteCreate(body="They say our prices are far too high."))
    with unit_of_work(Actor.system(demo_workspace.tenant_id)) as session:
        store.refresh(session, demo_workspace.tenant_id, types=["accounts", "notes"])

    at = open_page(as_role(demo_workspace, "rep"), "search.py")
    assert not at.exception and "Type what you are looking for" in shown(at)
    at.text_input(key="search_q").input("bread shop").run()
    assert not at.exception, at.exception
    links = [link.label for link in at.get("page_link")]
    assert name in links[:3]
    at.segmented_control(key="search_mode").set_value("Words").run()
    assert name not in [link.label for link in at.get("page_link")]
    at.segmented_control(key="search_mode").set_value("Meaning").run()
    at.text_input(key="search_q").input("complaint about pricing").run()
    assert "They say our prices are far too high." in [link.label for link in at.get("page_link")][:3]
    assert "matched by meaning" in shown(at)


def test_the_sidebar_box_opens_the_search_page_with_the_query(demo_workspace: SeedResult) -> None:
    at = as_role(demo_workspace, "manager")
    at.sidebar.text_input(key="cf_search_q").input("zzqx nothing like this")
    at.sidebar.button(key="cf_search_go").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="search_q").value == "zzqx nothing like this"
    assert "best matches" in shown(at) or "Nothing found" in shown(at)  # the search ran


def test_an_admin_sees_the_index_coverage_and_queues_a_rebuild(demo_workspace: SeedResult) -> None:
    import ai.nlp.tasks  # noqa: F401  (the rebuild job's handler, as `clientforge up` loads it)
    from core.search import service as search_service

    admin = actor_of(demo_workspace, "admin")
    at = open_page(as_role(demo_workspace, "admin"), "search.py")
    assert not at.exception, at.exception
    labels = {m.label: m.value for m in at.metric}
    embedded, total = (int(x.replace(",", "")) for x in labels["Accounts"].split(" / "))
    assert total >= 100 and 0 <= embedded <= total
    at.button(key="search_rebuild").click().run()
    assert not at.exception, at.exception
    with unit_of_work(admin) as session:
        job = search_service.latest_rebuild(session, admin)
        assert job is not None and job.kind == "nlp.embed_all" and job.status == "queued"
    rep = open_page(as_role(demo_workspace, "rep"), "search.py")
    assert not rep.metric  # not for reps
