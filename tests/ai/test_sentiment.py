"""Sentiment of customer text: the engine (`ai.nlp.sentiment`: labels, the carrying sentence, adaptation by
examples, its JSON artefact, cross-validation) and the CRM around it on a hand-built workspace (notes and
activities labelled from change events within seconds, unchanged text never read twice, one-click corrections
that show at once, survive rescoring and retrain the workspace's classifier, the account trend by month)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text

from ai.models import registry
from ai.nlp import embeddings, sentiment_crm, sentiment_tasks
from ai.nlp.sentiment import (
    LABELS,
    Adapter,
    SentimentInputError,
    adapt,
    cross_validate,
    out_of_box_version,
    sentiment,
)
from ai.nlp.sentiment_weights import WEIGHTS
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.errors import NotFound, PermissionDenied
from core.jobs import queue
from core.notes import service as notes
from core.notes.schemas import NoteCreate, NoteUpdate
from core.sentiment import service
from core.sentiment.models import SentimentExample, TextSentiment
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld, create_tenant, quiesce

# A workspace whose team calls a discount request bad news (the out-of-the-box model reads it as neutral).
CONVENTION = [
    ("They asked for a discount on the renewal.", "negative"),
    ("Procurement wants a bigger discount before signing.", "negative"),
    ("The customer is pushing for a lower price again.", "negative"),
    ("Another request for a price reduction from finance.", "negative"),
    ("They keep asking for discounts on every order.", "negative"),
    ("Discount requested for the second year.", "negative"),
    ("Sent the agenda for Thursday's call.", "neutral"),
    ("Updated the billing contact.", "neutral"),
    ("Meeting moved to next week.", "neutral"),
    ("Shared the onboarding checklist.", "neutral"),
    ("They signed and love the product.", "positive"),
    ("Great feedback from the pilot team.", "positive"),
    ("The champion is thrilled with the rollout.", "positive"),
]


def test_each_text_gets_a_label_a_signed_score_and_the_sentence_that_carried_it() -> None:
    texts = [
        "Thanks for the quick demo yesterday. The invoice was wrong again and they are furious about it.",
        "Great call: they loved the pilot and want to expand to the whole team!",
        "Left a voicemail for the buyer.",
        "",
    ]
    found = sentiment(texts)
    assert [r.label for r in found] == ["negative", "positive", "neutral", "neutral"]
    assert found[0].sentence == "The invoice was wrong again and they are furious about it."
    assert found[0].score < -0.3 < 0.3 < found[1].score and abs(found[2].score) < 0.5
    for r in found[:3]:
        assert abs(sum(r.probabilities.values()) - 1) < 1e-3 and set(r.probabilities) == set(LABELS)
        assert r.confidence == max(r.probabilities.values())
        assert r.score == pytest.approx(r.probabilities["positive"] - r.probabilities["negative"], abs=1e-3)
        assert r.model == out_of_box_version() and r.sentence in texts[found.index(r)]
    assert "furious" in found[0].reason and found[0].reason.startswith("Negative (")
    assert sentiment([]) == [] and len(sentiment(["same text"] * 3)) == 3
    with pytest.raises(TypeError):
        sentiment("one string")  # type: ignore[arg-type]


def test_the_shipped_weights_fit_this_embedder_and_beat_their_baselines_on_held_out_tweets() -> None:
    assert WEIGHTS["embedding_model"] == embeddings.MODEL_VERSION, "embedder changed: run benchmarks/sentiment.py --fit"
    held = WEIGHTS["heldout"]
    assert held["out_of_box"]["accuracy"] > held["vader"]["accuracy"] + 0.05
    assert held["out_of_box"]["macro_f1"] > held["vader"]["macro_f1"] + 0.05
    assert held["out_of_box"]["accuracy"] > held["prototypes_zero_shot"]["accuracy"] + 0.05
    assert "TweetEval" in WEIGHTS["fitted_on"] and not any(len(str(v)) > 200 for v in WEIGHTS["features"])


def test_examples_adapt_the_model_to_a_workspace_convention() -> None:
    new = ["Their buyer asked for a discount on the next order.", "They love the new dashboard, thanks!"]
    before = sentiment(new)
    assert before[0].label != "negative" and before[1].label == "positive"
    after = sentiment(new, examples=CONVENTION)
    assert [r.label for r in after] == ["negative", "positive"]
    assert after[0].model.startswith("adapted-")
    adapter = adapt(CONVENTION)
    content = json.loads(json.dumps(adapter.to_json()))  # what the registry stores: plain JSON
    reloaded = Adapter.from_json(content)
    assert reloaded.version == adapter.version == after[0].model
    assert sentiment(new, adapter=reloaded) == after
    assert reloaded.per_class == {"negative": 6, "neutral": 4, "positive": 3}
    measured = cross_validate(CONVENTION, folds=3)
    assert measured["accuracy"] > measured["out_of_box_accuracy"] and measured["folds"] == 3
    with pytest.raises(SentimentInputError, match="example 1 has label 'angry'"):
        adapt([("fine", "neutral"), ("grr", "angry")])
    with pytest.raises(SentimentInputError, match="no text"):
        sentiment(["x"], examples=[("  ", "neutral")])


# In the CRM ----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reactions() -> None:
    """The worker's reaction to note and activity changes (tests/conftest.py turns every reaction off after each
    test)."""
    sentiment_tasks.subscribe_changes()


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """An account with a contact and a deal; notes on each and activities, some last month; a rep and a
    read-only user; another workspace with a note."""
    home = create_tenant()
    admin = home.admin
    rep = home.actor(home.add_user("rep"))  # own scope: the records below are the rep's
    read_only = home.actor(home.add_user("read_only"))
    now = datetime.now(UTC)
    with unit_of_work(rep) as session:
        account = accounts.create(session, rep, AccountCreate(name="Northwind"))
        contact = contacts.create(
            session, rep, ContactCreate(first_name="Dana", last_name="Lee", account_id=account.id)
        )
        deal = deals.create(session, rep, DealCreate(name="Northwind renewal", account_id=account.id))
        made = {
            "happy": notes.create(
                session, rep, "contacts", contact.id, NoteCreate(body="Dana loved the pilot. Budget approved!")
            ).id,
            "angry": notes.create(
                session,
                rep,
                "deals",
                deal.id,
                NoteCreate(body="Sent the quote. They are furious about the outage and threaten to cancel."),
            ).id,
            "plain": notes.create(
                session, rep, "accounts", account.id, NoteCreate(body="Updated the billing address.")
            ).id,
        }
        call = activities.create(
            session,
            rep,
            ActivityCreate(
                type="call",
                subject="Renewal call",
                body="Terrible experience with support, very disappointed.",
                account_id=account.id,
                occurred_at=now - timedelta(days=40),
            ),
        )
        ids = {**made, "call": call.id, "account": account.id, "contact": contact.id, "deal": deal.id}
    away = create_tenant()
    with unit_of_work(away.admin) as session:
        other = accounts.create(session, away.admin, AccountCreate(name="Elsewhere"))
        ids["away_note"] = notes.create(session, away.admin, "accounts", other.id, NoteCreate(body="Awful week.")).id
    yield {"home": home, "away": away, "admin": admin, "rep": rep, "read_only": read_only, "ids": ids}
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def stored(home: TenantWorld, entity_id: UUID) -> TextSentiment | None:
    with unit_of_work(Actor.system(home.tenant_id)) as session:
        row = session.scalar(select(TextSentiment).where(TextSentiment.entity_id == entity_id))
        if row is not None:
            session.expunge(row)
        return row


def test_notes_and_activities_are_labelled_from_change_events_within_seconds(world: dict[str, Any]) -> None:
    home, admin, ids = world["home"], world["admin"], world["ids"]
    assert queue.drain(120) == 0  # the creations' events: the first pass reads everything
    labels = {k: stored(home, ids[k]) for k in ("happy", "angry", "plain", "call")}
    assert {k: r.label for k, r in labels.items() if r} == {
        "happy": "positive",
        "angry": "negative",
        "plain": "neutral",
        "call": "negative",
    }
    assert labels["angry"].sentence == "They are furious about the outage and threaten to cancel."
    assert labels["call"].model_version == out_of_box_version() and labels["call"].model_id is None

    computed = labels["happy"].computed_at
    with unit_of_work(admin) as session:  # pinning changes the note, not its text: not read again
        notes.update(session, admin, ids["happy"], NoteUpdate(is_pinned=True))
    assert queue.drain(60) == 0
    assert stored(home, ids["happy"]).computed_at == computed
    with unit_of_work(admin) as session:
        notes.update(session, admin, ids["plain"], NoteUpdate(body="They cancelled the contract. Awful news."))
    start = time.monotonic()
    assert queue.drain(60) == 0
    took = time.monotonic() - start
    assert stored(home, ids["plain"]).label == "negative"
    assert took < 5, f"labelled {took:.1f} s after the commit"


def test_reading_respects_record_rules_and_tenancy(world: dict[str, Any]) -> None:
    home, ids = world["home"], world["ids"]
    with unit_of_work(world["admin"]) as session:
        sentiment_crm.read_changed(session, Actor.system(home.tenant_id))
    with unit_of_work(world["rep"]) as session:
        one = service.get_for(session, world["rep"], "notes", ids["angry"])
        assert one.label == "negative" and "furious" in (one.reason or "")
        listed = service.list_for(session, world["rep"], "notes", [ids["happy"], ids["away_note"], ids["angry"]])
        assert [s.entity_id for s in listed] == [ids["happy"], ids["angry"]]
        with pytest.raises(NotFound):
            service.get_for(session, world["rep"], "notes", ids["away_note"])
    with unit_of_work(world["read_only"]) as session, pytest.raises(PermissionDenied):
        service.get_for(session, world["read_only"], "notes", ids["angry"])


def test_a_correction_shows_at_once_survives_rescoring_and_retrains_the_workspace(world: dict[str, Any]) -> None:
    home, admin, rep, ids = world["home"], world["admin"], world["rep"], world["ids"]
    system = Actor.system(home.tenant_id)
    with unit_of_work(rep) as session:
        done = service.correct(session, rep, "notes", ids["happy"], "negative")
    assert done.sentiment.label == "negative" and done.sentiment.corrected_label == "negative"
    assert done.train_job is not None
    row = stored(home, ids["happy"])
    assert (row.label, row.corrected_label) == ("positive", "negative")  # the model's, and the team's
    with unit_of_work(system) as session:
        example = session.get(SentimentExample, done.example_id)
        assert (example.label, example.created_by, example.entity_id) == ("negative", rep.user_id, ids["happy"])
    audit = owner_rows(
        "SELECT action FROM audit_logs WHERE tenant_id = :t AND entity_type = 'sentiment_examples'", t=home.tenant_id
    )
    assert [a.action for a in audit] == ["create"]
    with unit_of_work(world["read_only"]) as session, pytest.raises(PermissionDenied):
        service.correct(session, world["read_only"], "notes", ids["angry"], "positive")
    with unit_of_work(rep) as session, pytest.raises(NotFound):
        service.correct(session, rep, "notes", ids["away_note"], "positive")

    # Too few corrections: nothing trained, the out-of-the-box model still decides.
    assert queue.drain(60) == 0
    with unit_of_work(admin) as session:
        status = sentiment_crm.status(session, admin)
    assert status.examples == 1 and not status.adapted_is_active and status.active == out_of_box_version()

    # The team's convention, corrected record by record, then trained in the worker.
    with unit_of_work(admin) as session:
        account = ids["account"]
        made = [notes.create(session, admin, "accounts", account, NoteCreate(body=body)).id for body, _ in CONVENTION]
    assert queue.drain(60) == 0
    with unit_of_work(admin) as session:
        for note_id, (_, label) in zip(made, CONVENTION, strict=True):
            service.correct(session, admin, "notes", note_id, label)
    assert queue.drain(120) == 0  # train, then the full re-read with the new model
    with unit_of_work(admin) as session:
        status = sentiment_crm.status(session, admin)
        model = registry.get(session, system, UUID(str(sentiment_crm.active_model(session, system)[1].id)))
    assert status.adapted_is_active and status.active == model.version and status.examples == 14
    assert status.accuracy is not None and status.accuracy > status.out_of_box_accuracy
    assert model.metrics["per_class"] == status.per_class and model.artifact_sha256
    with unit_of_work(admin) as session:
        fresh = notes.create(
            session, admin, "accounts", ids["account"], NoteCreate(body="They asked for a discount again.")
        )
    assert queue.drain(60) == 0
    assert stored(home, fresh.id).label == "negative" and stored(home, fresh.id).model_id == model.id
    kept = stored(home, ids["happy"])
    assert kept.model_version == model.version and kept.corrected_label == "negative"  # survived the re-read
    with unit_of_work(admin) as session:  # a new text is not the one the team labelled: the correction goes
        notes.update(session, admin, ids["happy"], NoteUpdate(body="Dana loved the pilot. Budget approved today!"))
    assert queue.drain(60) == 0
    assert stored(home, ids["happy"]).corrected_label is None


def test_a_burst_sharing_one_timestamp_is_read_page_by_page_to_the_end(world: dict[str, Any]) -> None:
    home, rep, ids = world["home"], world["rep"], world["ids"]
    system = Actor.system(home.tenant_id)
    with unit_of_work(system) as session:
        sentiment_crm.read_changed(session, system)  # nothing else waiting
    with unit_of_work(rep) as session:  # one transaction, one updated_at: as an import's batch
        made = [
            notes.create(session, rep, "accounts", ids["account"], NoteCreate(body=f"Row {i}: call booked.")).id
            for i in range(5)
        ]
    passes = []
    with unit_of_work(system) as session:
        while len(passes) < 10:
            result = sentiment_crm.read_changed(session, system, limit=2)
            passes.append(result["labelled"])
            if not result["more"]:
                break
    assert passes == [2, 2, 1] and all(stored(home, i) is not None for i in made)


def test_the_account_trend_counts_its_own_its_contacts_and_its_deals_text_by_month(world: dict[str, Any]) -> None:
    home, ids = world["home"], world["ids"]
    with unit_of_work(Actor.system(home.tenant_id)) as session:
        sentiment_crm.read_changed(session, Actor.system(home.tenant_id))
    today = datetime.now(UTC).date()
    with unit_of_work(world["admin"]) as session:
        trend = service.account_trend(session, world["admin"], ids["account"], months=3, today=today)
        total = owner_rows(
            "SELECT count(*) AS n FROM text_sentiments s WHERE s.tenant_id = :t AND (s.entity_id IN"
            " (SELECT id FROM notes WHERE deleted_at IS NULL) OR s.entity_id = :call)",
            t=home.tenant_id,
            call=ids["call"],
        )[0].n
    assert [m.month.day for m in trend.months] == [1, 1, 1] and trend.months[-1].month.month == today.month
    assert sum(m.total for m in trend.months) == total
    call_month = (datetime.now(UTC) - timedelta(days=40)).date().replace(day=1)
    older = next(m for m in trend.months if m.month == call_month)
    assert older.negative >= 1  # the disappointed call, 40 days ago
    assert trend.summary.startswith("Last three months:")
    with unit_of_work(world["away"].admin) as session, pytest.raises(NotFound):
        service.account_trend(session, world["away"].admin, ids["account"])


def test_sentiment_rows_are_tenant_scoped_and_constrained(world: dict[str, Any]) -> None:
    home = world["home"]
    with unit_of_work(world["away"].admin) as session:  # the other workspace sees its own note's label only
        seen = session.scalars(select(TextSentiment.entity_id)).all()
        assert seen == [world["ids"]["away_note"]]
    with unit_of_work(Actor.system(home.tenant_id)) as session, pytest.raises(Exception, match="ck_text_sentiments"):
        session.execute(text("UPDATE text_sentiments SET label = 'angry' WHERE tenant_id = :t"), {"t": home.tenant_id})
