"""Embeddings and search by meaning: the int8 ONNX export agrees with sentence-transformers' float model; the
store keeps vectors current (changed text re-embedded, unchanged text not, deleted records dropped); hybrid search
finds what keyword search misses ("notes about pricing complaints", "companies like Acme"), honours record scope
and tenancy; a note changed through the CRM is found by meaning within 10 seconds through a real worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from sqlalchemy import text

from ai.nlp import embeddings, store
from ai.nlp import search as hybrid
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.db import unit_of_work
from core.errors import ValidationFailed
from core.notes import service as notes
from core.notes.schemas import NoteCreate, NoteUpdate
from tests.core.conftest import WorkerProcess, module_worker, wait_for
from tests.factories import TenantWorld, create_tenant, quiesce

PRICING = "Call recap: they said our quote is far too expensive and they are unhappy with what we charge per seat."
ACCOUNTS = {
    "acme": ("Acme Robotics", "Industrial robots and warehouse automation arms for factories"),
    "globex": ("Globex Automation", "Robotic arms and automated assembly lines for manufacturing plants"),
    "initech": ("Initech Payroll", "Payroll and HR software for small accounting firms"),
    "umbrella": ("Umbrella Bakery", "Artisan bread and pastries delivered to cafes"),
}


def ids_of(hits: list[Any]) -> list[UUID]:
    return [h.id for h in hits]


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    tenant = create_tenant()
    admin = tenant.admin
    made: dict[str, UUID] = {}
    with unit_of_work(admin) as session:
        for key, (name, description) in ACCOUNTS.items():
            made[key] = accounts.create(session, admin, AccountCreate(name=name, description=description)).id
        made["pricing"] = notes.create(session, admin, "accounts", made["initech"], NoteCreate(body=PRICING)).id
        made["lunch"] = notes.create(
            session,
            admin,
            "accounts",
            made["umbrella"],
            NoteCreate(body="Lunch with their team on Friday, very friendly."),
        ).id
        made["call"] = activities.create(
            session,
            admin,
            ActivityCreate(
                type="call",
                subject="Renewal call",
                body="The buyer threatened to leave for a cheaper vendor because the price went up again.",
                account_id=made["globex"],
            ),
        ).id
    with unit_of_work(Actor.system(tenant.tenant_id)) as session:
        first = store.refresh(session, tenant.tenant_id)
    yield {"tenant": tenant, "ids": made, "first": first}
    quiesce(tenant.tenant_id)


def test_the_int8_export_agrees_with_the_float_model_and_ranks_meaning() -> None:
    texts = [PRICING, "Pricing complaint from the buyer", "Meeting booked for Tuesday at 10", "Robots for factories"]
    fast = embeddings.embed(texts)
    assert fast.shape == (4, embeddings.DIMENSIONS) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-3)
    reference = embeddings.reference_model().encode(texts, normalize_embeddings=True)
    agreement = (fast * reference).sum(axis=1)
    assert agreement.min() > 0.95, agreement
    similarity = fast @ fast.T
    assert similarity[0, 1] > similarity[0, 2] + 0.1  # a complaint about price is nearer "pricing complaint"
    assert embeddings.embed([]).shape == (0, embeddings.DIMENSIONS)
    with pytest.raises(TypeError):
        embeddings.embed("one string")  # type: ignore[arg-type]
    again = embeddings.embed(list(reversed(texts)))  # cached per text, returned in the order asked
    assert np.array_equal(again, fast[::-1])


def test_refresh_embeds_every_record_once_and_only_what_changed(world: dict[str, Any]) -> None:
    tenant: TenantWorld = world["tenant"]
    system = Actor.system(tenant.tenant_id)
    assert world["first"]["embedded"] == {"contacts": 0, "accounts": 4, "deals": 0, "notes": 2, "activities": 1}
    with unit_of_work(system) as session:
        again = store.refresh(session, tenant.tenant_id)
        assert sum(again["embedded"].values()) == 0  # re-read within the overlap, nothing re-embedded
        full = store.refresh(session, tenant.tenant_id, full=True)
        assert sum(full["read"].values()) == 7 and sum(full["embedded"].values()) == 0


def test_a_text_embedded_before_is_copied_not_run_through_the_model_again(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant: TenantWorld = world["tenant"]
    admin, system = tenant.admin, Actor.system(tenant.tenant_id)
    ran: list[str] = []
    embed = embeddings.embed

    def counted(texts: Any) -> Any:
        ran.extend(texts)
        return embed(texts)

    monkeypatch.setattr(embeddings, "embed", counted)
    body = "Lunch with their team on Friday, very friendly."  # the text of the "lunch" note, already embedded
    with unit_of_work(admin) as session:
        twin = notes.create(session, admin, "accounts", world["ids"]["globex"], NoteCreate(body=body)).id
        fresh = notes.create(
            session, admin, "accounts", world["ids"]["globex"], NoteCreate(body="Asked for the security review.")
        ).id
    with unit_of_work(system) as session:
        result = store.refresh(session, tenant.tenant_id, types=["notes"])
        assert result["embedded"] == {"notes": 2}  # both got a vector ...
        assert ran == ["Asked for the security review."]  # ... but only the new text went through the model
        rows = dict(
            session.execute(
                text("SELECT entity_id, embedding::text FROM embeddings WHERE entity_id = ANY(:ids)"),
                {"ids": [twin, world["ids"]["lunch"]]},
            ).all()
        )
    assert rows[twin] == rows[world["ids"]["lunch"]]
    with unit_of_work(admin) as session:  # the twin edited: its own new text, its own new vector
        notes.update(session, admin, twin, NoteUpdate(body="Dinner with their CFO, tense about the budget."))
    with unit_of_work(system) as session:
        store.refresh(session, tenant.tenant_id, types=["notes"])
        changed = session.execute(
            text("SELECT embedding::text FROM embeddings WHERE entity_id = :id"), {"id": twin}
        ).scalar_one()
    assert changed != rows[twin] and ran[-1] == "Dinner with their CFO, tense about the budget."
    with unit_of_work(admin) as session:
        notes.delete(session, admin, twin)
        notes.delete(session, admin, fresh)
    with unit_of_work(system) as session:
        store.refresh(session, tenant.tenant_id, types=["notes"])


def test_notes_about_pricing_complaints_are_found_by_meaning_not_by_words(world: dict[str, Any]) -> None:
    admin = world["tenant"].admin
    ids = world["ids"]
    with unit_of_work(admin) as session:
        words = hybrid.search(session, admin, "notes about pricing complaints", mode="text")
        meaning = hybrid.search(session, admin, "notes about pricing complaints", mode="semantic", types=["notes"])
        both = hybrid.search(session, admin, "pricing complaints")
    assert ids["pricing"] not in ids_of(words)
    assert ids_of(meaning)[0] == ids["pricing"]
    assert meaning[0].matched == ["semantic"] and 0 < meaning[0].score <= 1
    assert ids["pricing"] in ids_of(both)[:3] and ids["call"] in ids_of(both)[:3]  # the angry call too
    assert ids["lunch"] not in ids_of(both)[:2]


def test_companies_like_acme_finds_the_similar_company_first(world: dict[str, Any]) -> None:
    admin = world["tenant"].admin
    ids = world["ids"]
    with unit_of_work(admin) as session:
        hits = hybrid.search(session, admin, "companies like Acme", mode="semantic")
        hybrid_hits = hybrid.search(session, admin, "accounts similar to acme robotics")
    assert ids_of(hits)[0] == ids["globex"]
    assert ids["acme"] not in ids_of(hits)  # the example itself is not a result
    assert {h.type for h in hits} == {"accounts"}
    assert ids_of(hybrid_hits)[0] == ids["globex"]


def test_hybrid_keeps_exact_word_matches_on_top(world: dict[str, Any]) -> None:
    admin = world["tenant"].admin
    with unit_of_work(admin) as session:
        hits = hybrid.search(session, admin, "Umbrella Bakery")
    assert hits[0].id == world["ids"]["umbrella"]
    assert set(hits[0].matched) >= {"fulltext", "semantic"}


def test_semantic_hits_respect_record_scope_and_tenancy(world: dict[str, Any]) -> None:
    tenant: TenantWorld = world["tenant"]
    rep = tenant.actor(tenant.add_user("rep"))  # owns nothing: the admin's records are out of scope
    other = create_tenant()
    try:
        with unit_of_work(rep) as session:
            assert hybrid.search(session, rep, "pricing complaints", mode="semantic") == []
        # Many of the admin's notes are nearer the query than the rep's own: the search widens until it finds it.
        admin = tenant.admin
        with unit_of_work(admin) as session:
            for i in range(40):
                body = f"Complaint {i}: the customer says our pricing is far too high and the quote too expensive."
                notes.create(session, admin, "accounts", world["ids"]["initech"], NoteCreate(body=body))
        with unit_of_work(rep) as session:
            own = accounts.create(session, rep, AccountCreate(name="Rep's own account")).id
            mine = notes.create(session, rep, "accounts", own, NoteCreate(body="They grumbled a bit about the cost."))
        with unit_of_work(Actor.system(tenant.tenant_id)) as session:
            store.refresh(session, tenant.tenant_id)
        with unit_of_work(rep) as session:
            found = hybrid.search(session, rep, "pricing complaints", mode="semantic", types=["notes"])
        assert [h.id for h in found] == [mine.id]
        with unit_of_work(other.admin) as session:
            assert hybrid.search(session, other.admin, "robots for factories", mode="semantic") == []
            # Row-level security: another tenant's vectors are invisible even to a raw query.
            assert session.execute(text("SELECT count(*) FROM embeddings")).scalar_one() == 0
    finally:
        quiesce(other.tenant_id)


@pytest.mark.parametrize(
    "kwargs",
    [{"q": "x", "mode": "fuzzy"}, {"q": ""}, {"q": "x" * 201}, {"q": "x", "types": ["people"]}, {"q": "x", "limit": 0}],
)
def test_bad_input_is_a_validation_error(world: dict[str, Any], kwargs: dict[str, Any]) -> None:
    admin = world["tenant"].admin
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed):
        hybrid.search(session, admin, **kwargs)


def test_text_mode_has_no_activities(world: dict[str, Any]) -> None:
    admin = world["tenant"].admin
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed, match="activities"):
        hybrid.search(session, admin, "renewal", mode="text", types=["activities"])


@pytest.fixture
def nlp_worker(tmp_path: Path) -> Iterator[WorkerProcess]:
    worker = module_worker("nlp", tmp_path, "ai.nlp.tasks")
    yield worker
    worker.stop()


def test_a_changed_note_is_searchable_by_meaning_within_10_seconds(nlp_worker: WorkerProcess) -> None:
    import ai.nlp.tasks  # noqa: F401  (subscribes nlp.changes in this process, where the events are emitted)

    tenant = create_tenant()
    admin = tenant.admin
    try:
        with unit_of_work(admin) as session:
            account = accounts.create(session, admin, AccountCreate(name="Hooli")).id
            warm = notes.create(session, admin, "accounts", account, NoteCreate(body="Kick-off meeting notes")).id

        def found(query: str, note_id: UUID) -> bool:
            with unit_of_work(admin) as session:
                return note_id in ids_of(hybrid.search(session, admin, query, mode="semantic", types=["notes"]))

        # The worker is up (model loaded) once the first note is searchable.
        assert wait_for(lambda: found("kick-off meeting", warm), 120) is not None, nlp_worker.log_tail()
        with unit_of_work(admin) as session:
            note = notes.create(session, admin, "accounts", account, NoteCreate(body="Weekly status, nothing new."))
        assert wait_for(lambda: found("weekly status update", note.id), 10) is not None, nlp_worker.log_tail()
        with unit_of_work(admin) as session:
            notes.update(session, admin, note.id, NoteUpdate(body="They complained that the invoice total was wrong."))
        took = wait_for(lambda: found("billing complaint", note.id), 10)
        print(f"\nchanged note searchable by meaning {took:.2f} s after its commit" if took else "\nnot in 10 s")
        assert took is not None, nlp_worker.log_tail()
        with unit_of_work(admin) as session:
            notes.delete(session, admin, note.id)
        assert not found("billing complaint", note.id)  # at once: a deleted record is never a hit

        def vectors() -> int:
            with unit_of_work(Actor.system(tenant.tenant_id)) as session:
                sql = text("SELECT count(*) FROM embeddings WHERE entity_id = :i")
                return session.execute(sql, {"i": note.id}).scalar_one()

        assert wait_for(lambda: vectors() == 0, 10) is not None  # and the worker drops its vector
    finally:
        quiesce(tenant.tenant_id)
