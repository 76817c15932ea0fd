"""Pipelines and their stages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.actor import Actor
from core.ids import new_id
from core.pipelines.models import Pipeline, Stage

# name, default probability, closed, won, rotting after N days
DEFAULT_STAGES: tuple[tuple[str, int, bool, bool, int | None], ...] = (
    ("Prospecting", 10, False, False, 14),
    ("Qualification", 20, False, False, 14),
    ("Proposal", 50, False, False, 21),
    ("Negotiation", 75, False, False, 14),
    ("Closed Won", 100, True, True, None),
    ("Closed Lost", 0, True, False, None),
)


def create_default_pipeline(session: Session, actor: Actor) -> Pipeline:
    """The "Sales" pipeline every tenant starts with."""
    pipeline = Pipeline(id=new_id(), tenant_id=actor.tenant_id, name="Sales", is_default=True)
    session.add(pipeline)
    session.flush()
    for order, (name, probability, closed, won, rotting) in enumerate(DEFAULT_STAGES, start=1):
        session.add(
            Stage(
                id=new_id(),
                tenant_id=actor.tenant_id,
                pipeline_id=pipeline.id,
                name=name,
                display_order=order,
                probability=probability,
                is_closed_stage=closed,
                is_won_stage=won,
                rotting_days=rotting,
            )
        )
    session.flush()
    return pipeline
