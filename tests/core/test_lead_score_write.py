"""`record_scores`: the history keeps the story of changes, the contact always shows the newest score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from ai.models import registry
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate, ContactUpdate
from core.db import unit_of_work
from core.scoring import service as scoring
from tests.core.conftest import owner_rows
from tests.factories import create_tenant


def test_history_rows_are_written_for_changes_only_and_the_contact_shows_the_newest_score() -> None:
    world = create_tenant()
    admin = world.admin
    with unit_of_work(admin) as session:
        lead = contacts.create(session, admin, ContactCreate(first_name="Grace", last_name="Hopper")).id
        first, second = (
            registry.record(session, admin, model_type=scoring.MODEL_TYPE, version=v, algorithm="lightgbm").id
            for v in ("v1", "v2")
        )
    start = datetime.now(UTC)

    def keep(model, score, minutes, contact=lead) -> int:
        new = scoring.NewScore(
            contact, model, score, score / 100, 0.8, None, [{"feature": "f", "text": "F", "points": 1}]
        )
        with unit_of_work(admin) as session:
            return scoring.record_scores(session, admin, [new], scored_at=start + timedelta(minutes=minutes))

    def state() -> tuple[int, list[tuple[str, int]]]:
        shown = owner_rows("SELECT lead_score FROM contacts WHERE id = :c", c=lead)[0].lead_score
        history = owner_rows(
            "SELECT m.version, s.score FROM lead_scores s JOIN ml_models m ON m.id = s.model_id"
            " WHERE s.contact_id = :c ORDER BY s.scored_at",
            c=lead,
        )
        return shown, [tuple(r) for r in history]

    assert keep(first, 40, 1) == 1
    assert keep(first, 40, 2) == 0  # nothing new: no row
    assert state() == (40, [("v1", 40)])
    assert keep(second, 40, 3) == 1  # same score from another model: a row
    assert keep(first, 55, 4) == 1
    assert state() == (55, [("v1", 40), ("v2", 40), ("v1", 55)])
    with unit_of_work(admin) as session:  # someone sets the score by hand
        contacts.update(session, admin, lead, ContactUpdate(lead_score=99))
    assert keep(first, 55, 5) == 1  # the contact showed 99: the return to 55 is a change it saw
    assert state() == (55, [("v1", 40), ("v2", 40), ("v1", 55), ("v1", 55)])
    assert keep(first, 70, 6, contact=uuid4()) == 0  # a contact that does not exist: left out, nothing written
    assert state()[0] == 55
