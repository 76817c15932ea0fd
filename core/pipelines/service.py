"""Pipelines and their stages: several pipelines per tenant, exactly one default, ordered stages with a default
probability, closed/won flags and a rotting threshold.

The rules that keep deals consistent live here: a pipeline keeps at least one open stage; a stage that holds
deals keeps its closed/won flags and cannot be deleted; a pipeline with open deals, or the default one, cannot
be deleted. Deleting is soft (stage history keeps its names). Stage order is `display_order` 1..n; a deleted
stage leaves the order with a negative `display_order`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.deals.models import Deal
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import new_id
from core.pipelines.models import Pipeline, Stage
from core.pipelines.schemas import (
    PipelineCreate,
    PipelineRead,
    PipelineUpdate,
    StageCreate,
    StageRead,
    StageUpdate,
)
from core.versioning import check_version

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


# Reads -------------------------------------------------------------------------------------------------


def stage_read(stage: Stage) -> StageRead:
    return StageRead(
        id=stage.id,
        pipeline_id=stage.pipeline_id,
        name=stage.name,
        position=stage.display_order,
        probability=stage.probability,
        rotting_days=stage.rotting_days,
        is_closed=stage.is_closed_stage,
        is_won=stage.is_won_stage,
        created_at=stage.created_at,
        updated_at=stage.updated_at,
        version=stage.version,
    )


def to_reads(session: Session, actor: Actor, pipelines: Sequence[Pipeline]) -> list[PipelineRead]:
    """Pipelines with their stages in order (one query for all the stages)."""
    stages = stages_by_pipeline(session, actor, [p.id for p in pipelines])
    return [
        PipelineRead(
            id=p.id,
            name=p.name,
            currency=p.currency,
            is_default=p.is_default,
            stages=[stage_read(s) for s in stages.get(p.id, [])],
            created_at=p.created_at,
            updated_at=p.updated_at,
            version=p.version,
        )
        for p in pipelines
    ]


def to_read(session: Session, actor: Actor, pipeline: Pipeline) -> PipelineRead:
    return to_reads(session, actor, [pipeline])[0]


def stages_by_pipeline(session: Session, actor: Actor, pipeline_ids: Iterable[UUID]) -> dict[UUID, list[Stage]]:
    """The live stages of these pipelines, in order. No permission check: callers checked theirs."""
    ids = set(pipeline_ids)
    found: dict[UUID, list[Stage]] = defaultdict(list)
    if not ids:
        return found
    statement = actor.readable(Stage).where(Stage.pipeline_id.in_(ids)).order_by(Stage.pipeline_id, Stage.display_order)
    for stage in session.scalars(statement):
        found[stage.pipeline_id].append(stage)
    return found


def get(session: Session, actor: Actor, pipeline_id: UUID, *, for_update: bool = False) -> Pipeline:
    actor.require("pipelines", "read")
    statement = actor.readable(Pipeline).where(Pipeline.id == pipeline_id)
    if for_update:
        statement = statement.with_for_update()
    pipeline = session.scalar(statement)
    if pipeline is None:
        raise NotFound("Pipeline not found")
    return pipeline


def list_pipelines(session: Session, actor: Actor) -> list[Pipeline]:
    """Every live pipeline of the tenant: the default first, then by name."""
    actor.require("pipelines", "read")
    return list(session.scalars(actor.readable(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.name)))


# Lookups for deals (no permission of their own: a deal's service checks deals:*) ---------------------------


def live_pipeline(session: Session, actor: Actor, pipeline_id: UUID) -> Pipeline | None:
    return session.scalar(actor.readable(Pipeline).where(Pipeline.id == pipeline_id))


def default_pipeline(session: Session, actor: Actor) -> Pipeline | None:
    return session.scalar(actor.readable(Pipeline).where(Pipeline.is_default.is_(True)))


def live_stage(session: Session, actor: Actor, stage_id: UUID) -> Stage | None:
    """A stage that deals may enter: not deleted, in a pipeline that is not deleted."""
    return session.scalar(
        actor.readable(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Stage.id == stage_id, Pipeline.deleted_at.is_(None))
    )


def first_open_stage(session: Session, actor: Actor, pipeline_id: UUID) -> Stage | None:
    """Where new deals start: the first open stage in the pipeline's order."""
    return session.scalar(
        actor.readable(Stage)
        .where(Stage.pipeline_id == pipeline_id, Stage.is_closed_stage.is_(False))
        .order_by(Stage.display_order)
        .limit(1)
    )


def outcome_stage(session: Session, actor: Actor, pipeline_id: UUID, *, won: bool) -> Stage | None:
    """The pipeline's (first) won stage, or its first closed stage that is not won (lost); None when the
    pipeline has none or was deleted."""
    return session.scalar(
        actor.readable(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Pipeline.deleted_at.is_(None))
        .where(Stage.pipeline_id == pipeline_id, Stage.is_closed_stage.is_(True), Stage.is_won_stage.is_(won))
        .order_by(Stage.display_order)
        .limit(1)
    )


# Pipelines ---------------------------------------------------------------------------------------------


def _check_pipeline_name(session: Session, actor: Actor, name: str, exclude: UUID | None = None) -> None:
    statement = actor.readable(Pipeline).where(Pipeline.name == name)
    if exclude is not None:
        statement = statement.where(Pipeline.id != exclude)
    if session.scalar(statement.with_only_columns(Pipeline.id)):
        raise Conflict(
            f"A pipeline named '{name}' already exists",
            details=[{"field": "name", "message": "already in use"}],
        )


def _make_default(session: Session, actor: Actor, pipeline: Pipeline) -> None:
    """Exactly one default: the previous one is cleared (and flushed) before this one is set."""
    for other in session.scalars(
        actor.readable(Pipeline).where(Pipeline.is_default.is_(True), Pipeline.id != pipeline.id).with_for_update()
    ):
        other.is_default = False
    session.flush()
    pipeline.is_default = True
    session.flush()


def _new_stage(actor: Actor, pipeline_id: UUID, data: StageCreate, order: int) -> Stage:
    probability = data.probability if data.probability is not None else (100 if data.is_won else 0)
    return Stage(
        id=new_id(),
        tenant_id=actor.tenant_id,
        pipeline_id=pipeline_id,
        name=data.name,
        display_order=order,
        probability=probability,
        is_closed_stage=data.is_closed or data.is_won,
        is_won_stage=data.is_won,
        rotting_days=None if data.is_closed or data.is_won else data.rotting_days,
    )


def create(session: Session, actor: Actor, data: PipelineCreate) -> Pipeline:
    """A pipeline with its stages (the standard six when none are given)."""
    actor.require("pipelines", "create")
    stages = data.stages
    if stages is None:
        stages = [
            StageCreate(name=n, probability=p, is_closed=c, is_won=w, rotting_days=r)
            for n, p, c, w, r in DEFAULT_STAGES
        ]
    names = [s.name for s in stages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationFailed(
            f"Stage names must be unique within a pipeline: {', '.join(duplicates)}",
            details=[{"field": "stages", "message": f"duplicate stage name {n!r}"} for n in duplicates],
        )
    if all(s.is_closed or s.is_won for s in stages):
        raise ValidationFailed(
            "A pipeline needs at least one open stage for deals to start in",
            details=[{"field": "stages", "message": "no open stage"}],
        )
    _check_pipeline_name(session, actor, data.name)
    pipeline = Pipeline(
        id=new_id(), tenant_id=actor.tenant_id, name=data.name, currency=data.currency, is_default=False
    )
    session.add(pipeline)
    session.flush()
    for order, stage in enumerate(stages, start=1):
        session.add(_new_stage(actor, pipeline.id, stage, order))
    session.flush()
    if data.is_default or default_pipeline(session, actor) is None:
        _make_default(session, actor, pipeline)
    return pipeline


def update(session: Session, actor: Actor, pipeline_id: UUID, data: PipelineUpdate) -> Pipeline:
    """Rename a pipeline or change the currency new deals default to."""
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id)
    check_version(pipeline, data.version)
    if data.name is not None and data.name != pipeline.name:
        _check_pipeline_name(session, actor, data.name, exclude=pipeline.id)
        pipeline.name = data.name
    if data.currency is not None:
        pipeline.currency = data.currency
    session.flush()
    return pipeline


def set_default(session: Session, actor: Actor, pipeline_id: UUID) -> Pipeline:
    """Make this the tenant's default pipeline (where deals go when none is named)."""
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    if not pipeline.is_default:
        _make_default(session, actor, pipeline)
    return pipeline


def delete(session: Session, actor: Actor, pipeline_id: UUID) -> None:
    """Soft delete. Refused for the default pipeline and while open deals are on it (move or close them first);
    closed deals keep pointing at it for reporting."""
    actor.require("pipelines", "delete")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    if pipeline.is_default:
        raise Conflict("The default pipeline cannot be deleted; make another pipeline the default first")
    open_deals = session.scalar(
        select(func.count())
        .select_from(Deal)
        .where(
            Deal.tenant_id == actor.tenant_id,
            Deal.pipeline_id == pipeline.id,
            Deal.deleted_at.is_(None),
            Deal.is_closed.is_(False),
        )
    )
    if open_deals:
        raise Conflict(
            f"This pipeline still has {open_deals} open deal(s); move or close them first",
            details={"openDeals": open_deals},
        )
    pipeline.deleted_at = datetime.now(UTC)
    session.flush()


# Stages ------------------------------------------------------------------------------------------------


def _live_stages(session: Session, actor: Actor, pipeline_id: UUID) -> list[Stage]:
    return list(
        session.scalars(actor.readable(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.display_order))
    )


def _stage_of(session: Session, actor: Actor, pipeline: Pipeline, stage_id: UUID) -> Stage:
    stage = session.scalar(actor.readable(Stage).where(Stage.id == stage_id, Stage.pipeline_id == pipeline.id))
    if stage is None:
        raise NotFound("Stage not found in this pipeline")
    return stage


def get_stage(session: Session, actor: Actor, pipeline_id: UUID, stage_id: UUID) -> Stage:
    """A live stage of a pipeline the actor may read."""
    return _stage_of(session, actor, get(session, actor, pipeline_id), stage_id)


def _deals_in_stage(session: Session, actor: Actor, stage_id: UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Deal)
            .where(Deal.tenant_id == actor.tenant_id, Deal.stage_id == stage_id, Deal.deleted_at.is_(None))
        )
        or 0
    )


def _check_stage_name(stages: Sequence[Stage], name: str, exclude: UUID | None = None) -> None:
    if any(s.name == name and s.id != exclude for s in stages):
        raise Conflict(
            f"This pipeline already has a stage named '{name}'",
            details=[{"field": "name", "message": "already in use in this pipeline"}],
        )


def _renumber(stages: Sequence[Stage]) -> None:
    """Positions 1..n in this order (the order constraint is checked at commit, so swaps are fine)."""
    for position, stage in enumerate(stages, start=1):
        if stage.display_order != position:
            stage.display_order = position


def add_stage(session: Session, actor: Actor, pipeline_id: UUID, data: StageCreate) -> Stage:
    """A new stage at `position` (default: last); the stages after it move down one place."""
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    stages = _live_stages(session, actor, pipeline.id)
    if len(stages) >= 50:
        raise ValidationFailed("A pipeline has at most 50 stages", details=[{"field": "stages", "message": "full"}])
    _check_stage_name(stages, data.name)
    position = min(data.position or len(stages) + 1, len(stages) + 1)
    stage = _new_stage(actor, pipeline.id, data, position)
    _renumber([*stages[: position - 1], stage, *stages[position - 1 :]])
    session.add(stage)
    session.flush()
    return stage


def update_stage(session: Session, actor: Actor, pipeline_id: UUID, stage_id: UUID, data: StageUpdate) -> Stage:
    """Rename a stage or change its probability, rotting threshold or closed/won flags.

    Deals already in the stage keep the probability they have. The closed/won flags cannot change while deals
    sit in the stage (they would no longer match it): move them first.
    """
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    stage = _stage_of(session, actor, pipeline, stage_id)
    check_version(stage, data.version)
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    for name in ("name", "probability", "is_closed", "is_won"):
        if name in fields and fields[name] is None:
            raise ValidationFailed(
                f"{name} cannot be null", details=[{"field": _camel(name), "message": "cannot be null"}]
            )
    stages = _live_stages(session, actor, pipeline.id)
    if "name" in fields and fields["name"] != stage.name:
        _check_stage_name(stages, fields["name"], exclude=stage.id)
        stage.name = fields["name"]
    if "probability" in fields:
        stage.probability = fields["probability"]
    closed, won = stage.is_closed_stage, stage.is_won_stage
    if fields.get("is_won") is True or fields.get("is_closed") is True:
        closed = True
    if "is_won" in fields:
        won = fields["is_won"]
    if fields.get("is_closed") is False:
        closed, won = False, False
    if (closed, won) != (stage.is_closed_stage, stage.is_won_stage):
        in_stage = _deals_in_stage(session, actor, stage.id)
        if in_stage:
            raise Conflict(
                f"{in_stage} deal(s) sit in this stage; move them before changing whether it is closed or won",
                details={"deals": in_stage},
            )
        if closed and not any(not s.is_closed_stage for s in stages if s.id != stage.id):
            raise ValidationFailed(
                "A pipeline needs at least one open stage",
                details=[{"field": "isClosed", "message": "this is the pipeline's last open stage"}],
            )
        stage.is_closed_stage, stage.is_won_stage = closed, won
    if "rotting_days" in fields:
        stage.rotting_days = fields["rotting_days"]
    if stage.is_closed_stage:
        stage.rotting_days = None  # closed deals never rot
    session.flush()
    return stage


def reorder_stages(session: Session, actor: Actor, pipeline_id: UUID, stage_ids: Sequence[UUID]) -> list[Stage]:
    """Put the pipeline's stages in this order; `stage_ids` must name every live stage exactly once."""
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    stages = {s.id: s for s in _live_stages(session, actor, pipeline.id)}
    if len(set(stage_ids)) != len(stage_ids) or set(stage_ids) != set(stages):
        missing = [str(i) for i in stages if i not in stage_ids]
        unknown = [str(i) for i in stage_ids if i not in stages]
        raise ValidationFailed(
            "stageIds must list every stage of the pipeline exactly once",
            details=[
                {
                    "field": "stageIds",
                    "message": "missing, unknown or repeated stages",
                    "missing": missing,
                    "unknown": unknown,
                }
            ],
        )
    ordered = [stages[i] for i in stage_ids]
    _renumber(ordered)
    session.flush()
    return ordered


def delete_stage(session: Session, actor: Actor, pipeline_id: UUID, stage_id: UUID) -> None:
    """Soft delete. Refused while deals sit in the stage, or when it is the pipeline's last open stage."""
    actor.require("pipelines", "update")
    pipeline = get(session, actor, pipeline_id, for_update=True)
    stage = _stage_of(session, actor, pipeline, stage_id)
    in_stage = _deals_in_stage(session, actor, stage.id)
    if in_stage:
        raise Conflict(
            f"{in_stage} deal(s) sit in this stage; move them to another stage first", details={"deals": in_stage}
        )
    stages = _live_stages(session, actor, pipeline.id)
    if not stage.is_closed_stage and not any(not s.is_closed_stage for s in stages if s.id != stage.id):
        raise Conflict("This is the pipeline's last open stage; a pipeline needs one for deals to start in")
    lowest = session.scalar(select(func.min(Stage.display_order)).where(Stage.pipeline_id == pipeline.id)) or 0
    stage.display_order = min(lowest, 0) - 1
    stage.deleted_at = datetime.now(UTC)
    _renumber([s for s in stages if s.id != stage.id])
    session.flush()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
