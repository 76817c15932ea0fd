"""Search on the real database: ranking, prefixes, typo tolerance, permission and tenant filtering."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pytest

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.errors import PermissionDenied, ValidationFailed
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.search.service import search
from tests.factories import TenantWorld, create_tenant


@dataclass
class World:
    home: TenantWorld
    away: TenantWorld
    admin: Actor
    rep: Actor
    other_rep: Actor
    ids: dict[str, UUID]


@pytest.fixture(scope="module")
def world() -> World:
    home, away = create_tenant(), create_tenant()
    admin = home.admin
    rep = home.actor(home.add_user("rep"))
    other_rep = home.actor(home.add_user("rep"))
    ids: dict[str, UUID] = {}
    with unit_of_work(admin) as session:

        def contact(key: str, first: str, last: str, owner: Actor, **extra: object) -> None:
            data = ContactCreate(first_name=first, last_name=last, owner_id=owner.user_id, **extra)
            ids[key] = contacts.create(session, admin, data).id

        contact("ada", "Ada", "Lovelace", rep, email="ada@engines.example")
        contact("adam", "Adam", "Lovell", rep)
        contact("grace", "Grace", "Hopper", other_rep)
        ids["microsoft"] = accounts.create(
            session, admin, AccountCreate(name="Microsoft Corporation", owner_id=rep.user_id)
        ).id
        ids["microtek"] = accounts.create(session, admin, AccountCreate(name="Microtek", owner_id=rep.user_id)).id
        ids["deal"] = deals.create(
            session, admin, DealCreate(name="Lovelace renewal", owner_id=rep.user_id, contact_id=ids["ada"])
        ).id
        ids["note"] = notes.create(
            session, admin, "contacts", ids["ada"], NoteCreate(body="Discussed the analytical engine")
        ).id
        ids["hidden_note"] = notes.create(
            session, admin, "contacts", ids["grace"], NoteCreate(body="Analytical compiler plans")
        ).id
    with unit_of_work(away.admin) as session:
        contacts.create(session, away.admin, ContactCreate(first_name="Ada", last_name="Lovelace"))
    return World(home, away, admin, rep, other_rep, ids)


def _search(actor: Actor, q: str, **kwargs: object) -> list:
    with unit_of_work(actor) as session:
        return search(session, actor, q, **kwargs)  # type: ignore[arg-type]


def test_a_misspelt_last_name_finds_the_contact(world):
    hits = _search(world.admin, "Lovlace", types=["contacts"])
    assert hits[0].id == world.ids["ada"]
    assert hits[0].matched == ["fuzzy"] and hits[0].title == "Ada Lovelace"


@pytest.mark.parametrize("q", ["Lovelcae", "Lobelace", "Lovleace", "lovelase"])
def test_typos_after_the_first_letters_are_tolerated(world, q):
    assert world.ids["ada"] in [h.id for h in _search(world.admin, q, types=["contacts"])][:2]


def test_a_misspelt_company_name_finds_the_account_first(world):
    hits = _search(world.admin, "Microsfot", types=["accounts"])
    assert [h.id for h in hits][:1] == [world.ids["microsoft"]]


def test_full_text_and_prefix_matches_rank_above_fuzzy_ones(world):
    hits = _search(world.admin, "ada lov")
    assert hits[0].id == world.ids["ada"] and "fulltext" in hits[0].matched
    hits = _search(world.admin, "lovelace")
    ranked = [h.id for h in hits]
    assert set(ranked[:2]) == {world.ids["ada"], world.ids["deal"]}
    fuzzy_only = [h for h in hits if h.matched == ["fuzzy"]]
    assert all(h.score < hits[1].score for h in fuzzy_only)
    hits = _search(world.admin, "Lovel", types=["contacts"])
    assert {h.id for h in hits} >= {world.ids["ada"], world.ids["adam"]}
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_notes_are_found_by_their_words_and_type_filter_applies(world):
    hits = _search(world.admin, "analytical", types=["notes"])
    assert {h.id for h in hits} == {world.ids["note"], world.ids["hidden_note"]}
    assert all(h.type == "notes" for h in hits)
    assert _search(world.admin, "analytical", types=["deals"]) == []


def test_a_rep_sees_only_records_and_notes_they_may_read(world):
    found = {h.id for h in _search(world.other_rep, "lovelace")} | {h.id for h in _search(world.other_rep, "Lovlace")}
    assert world.ids["ada"] not in found and world.ids["deal"] not in found
    assert {h.id for h in _search(world.rep, "analytical")} == {world.ids["note"]}
    assert {h.id for h in _search(world.rep, "hopper")} == set()
    assert {h.id for h in _search(world.other_rep, "hopper")} == {world.ids["grace"]}


def test_another_tenant_never_sees_these_records(world):
    ids = {h.id for h in _search(world.away.admin, "lovelace")}
    assert len(ids) == 1 and not ids & set(world.ids.values())


@pytest.mark.parametrize(
    ("q", "kwargs"),
    [("", {}), ("x" * 201, {}), ("ada", {"types": ["people"]}), ("ada", {"limit": 0}), ("ada", {"limit": 51})],
)
def test_bad_input_is_a_validation_error(world, q, kwargs):
    with pytest.raises(ValidationFailed):
        _search(world.admin, q, **kwargs)


def test_punctuation_and_sql_looking_queries_are_harmless(world):
    assert _search(world.admin, "'); DROP TABLE contacts;-- :* & |") is not None
    assert _search(world.admin, "!!!") == []


def test_an_actor_without_read_permissions_is_refused(world):
    guest = Actor(tenant_id=world.home.tenant_id, user_id=world.home.admin_id, role="guest", scope="all")
    with pytest.raises(PermissionDenied):
        _search(guest, "ada")


def test_the_search_index_is_usable_by_the_application_role_under_rls():
    """Under RLS the planner may use the GIN index for `search @@ ...` only if the operator is leakproof (migration
    0009), and the name-length index only if length() is (0024). In a tenant of 20,000 contacts, a search for one
    rare name must be an index lookup, not a scan; so must the typo candidates among 20,000 names starting "Na"."""
    from sqlalchemy import event, text

    from core.db import owner_engine

    big = create_tenant()
    with owner_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (id, tenant_id, owner_id, first_name, last_name)"
                " SELECT gen_random_uuid(), :tenant, :owner, 'Common', 'Name' || (i % 50)"
                " FROM generate_series(1, 20000) AS i"
            ),
            {"tenant": big.tenant_id, "owner": big.admin.user_id},
        )
        conn.execute(text("ANALYZE contacts"))
    with unit_of_work(big.admin) as session:
        contacts.create(session, big.admin, ContactCreate(first_name="Ada", last_name="Zwicky"))
        contacts.create(session, big.admin, ContactCreate(first_name="Bartholomew", last_name="Quint"))
        plan = "\n".join(
            session.execute(
                text("EXPLAIN SELECT id FROM contacts WHERE search @@ to_tsquery('simple', 'zwicky:*')")
            ).scalars()
        )
        typo_plan = "\n".join(  # names of one length and two first letters (migration 0024), as `_fuzzy` asks
            session.execute(
                text(
                    "EXPLAIN SELECT id FROM contacts WHERE deleted_at IS NULL AND length(last_name) = 6"
                    " AND last_name >= 'Na' AND last_name < 'Nb'"
                )
            ).scalars()
        )
        near_plan = "\n".join(  # first names sharing three letters, of the lengths that can reach the ratio (0025)
            session.execute(
                text(
                    "EXPLAIN SELECT first_name FROM contacts WHERE deleted_at IS NULL"
                    " AND length(first_name) IN (2, 3, 4, 5, 6, 7, 8, 9) AND first_name >= 'Ada' AND first_name < 'Adb'"
                )
            ).scalars()
        )
    assert "ix_contacts_search" in plan, plan
    assert "ix_contacts_tenant_first_name_length" in near_plan, near_plan
    assert "(length((first_name)::text)) = ANY" in near_plan.split("Index Cond")[1].split("\n")[0], near_plan
    assert "ix_contacts_tenant_last_name_length" in typo_plan and "Index Cond: ((tenant_id = " in typo_plan, typo_plan
    assert "length((last_name)::text) = 6" in typo_plan.split("Index Cond")[1].split("\n")[0], typo_plan
    assert len(_search(big.admin, "zwicky")) == 1
    assert [h.title for h in _search(big.admin, "Zwkicy", types=["contacts"])][:1] == ["Ada Zwicky"]  # 3rd letter
    assert [h.title for h in _search(big.admin, "Bartholmew", types=["contacts"])][:1] == ["Bartholomew Quint"]
    with unit_of_work(big.admin) as session:  # the typo's records are read by index too (first names: by length)
        conn = session.connection()
        sent: list[tuple[str, object]] = []
        event.listen(conn, "before_cursor_execute", lambda *args: sent.append((args[2], args[3])))
        search(session, big.admin, "Bartholmew", types=["contacts"])
        reads = [(sql, params) for sql, params in sent if "first_name IN" in sql and "UNION" not in sql]
        assert len(reads) == 1, sent
        read_plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + reads[0][0], reads[0][1]))
    by_length = read_plan.split("ix_contacts_tenant_first_name_length")[-1].split("Index Cond:")[1].split("\n")[0]
    assert "length((first_name)::text)" in by_length and "Seq Scan" not in read_plan, read_plan
