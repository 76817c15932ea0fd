"""Pipelines and their stages: /api/v1/pipelines and /api/v1/pipelines/{id}/stages."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.pipelines import service as pipelines
from core.pipelines.models import Pipeline, Stage
from core.pipelines.schemas import PipelineCreate, PipelineRead, PipelineUpdate, StageCreate, StageOrder, StageRead
from core.pipelines.schemas import StageUpdate as StageChanges

router = APIRouter(prefix="/pipelines", tags=["pipelines"])

ERRORS = error_responses(400, 401, 403, 404, 409)


def _pipeline(session: SessionDep, actor: CurrentActor, pipeline: Pipeline) -> dict:
    return pipelines.to_read(session, actor, pipeline).model_dump(mode="json", by_alias=True)


def _stage(stage: Stage) -> dict:
    return pipelines.stage_read(stage).model_dump(mode="json", by_alias=True)


@router.get(
    "", response_model=Envelope[list[PipelineRead]], dependencies=[requires("pipelines", "read")], responses=ERRORS
)
def list_pipelines(actor: CurrentActor, session: SessionDep) -> dict:
    """Every pipeline of the workspace with its stages in order; the default pipeline first."""
    found = pipelines.list_pipelines(session, actor)
    return ok([p.model_dump(mode="json", by_alias=True) for p in pipelines.to_reads(session, actor, found)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[PipelineRead],
    dependencies=[requires("pipelines", "create")],
    responses=ERRORS,
)
def create_pipeline(body: PipelineCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A pipeline with its stages in order (default: the standard six sales stages)."""
    pipeline = pipelines.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/pipelines/{pipeline.id}"
    return ok(_pipeline(session, actor, pipeline))


@router.get(
    "/{pipeline_id}",
    response_model=Envelope[PipelineRead],
    dependencies=[requires("pipelines", "read")],
    responses=ERRORS,
)
def get_pipeline(pipeline_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_pipeline(session, actor, pipelines.get(session, actor, pipeline_id)))


@router.patch(
    "/{pipeline_id}",
    response_model=Envelope[PipelineRead],
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def update_pipeline(pipeline_id: UUID, body: PipelineUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Rename, or change the currency new deals default to; send `version` to guard against lost updates."""
    return ok(_pipeline(session, actor, pipelines.update(session, actor, pipeline_id, body)))


@router.post(
    "/{pipeline_id}/default",
    response_model=Envelope[PipelineRead],
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def set_default_pipeline(pipeline_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Make this the default pipeline (the previous default stops being one)."""
    return ok(_pipeline(session, actor, pipelines.set_default(session, actor, pipeline_id)))


@router.delete("/{pipeline_id}", status_code=204, dependencies=[requires("pipelines", "delete")], responses=ERRORS)
def delete_pipeline(pipeline_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Soft delete; 409 for the default pipeline or while it has open deals."""
    pipelines.delete(session, actor, pipeline_id)
    return Response(status_code=204)


@router.get(
    "/{pipeline_id}/stages",
    response_model=Envelope[list[StageRead]],
    dependencies=[requires("pipelines", "read")],
    responses=ERRORS,
)
def list_stages(pipeline_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    pipeline = pipelines.get(session, actor, pipeline_id)
    return ok(_pipeline(session, actor, pipeline)["stages"])


@router.post(
    "/{pipeline_id}/stages",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[StageRead],
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def add_stage(
    pipeline_id: UUID, body: StageCreate, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    """A new stage at `position` (default: last)."""
    stage = pipelines.add_stage(session, actor, pipeline_id, body)
    response.headers["Location"] = f"/api/v1/pipelines/{pipeline_id}/stages/{stage.id}"
    return ok(_stage(stage))


@router.put(
    "/{pipeline_id}/stages/order",
    response_model=Envelope[list[StageRead]],
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def reorder_stages(pipeline_id: UUID, body: StageOrder, actor: CurrentActor, session: SessionDep) -> dict:
    """Every stage id of the pipeline, in the new order."""
    return ok([_stage(s) for s in pipelines.reorder_stages(session, actor, pipeline_id, body.stage_ids)])


@router.get(
    "/{pipeline_id}/stages/{stage_id}",
    response_model=Envelope[StageRead],
    dependencies=[requires("pipelines", "read")],
    responses=ERRORS,
)
def get_stage(pipeline_id: UUID, stage_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_stage(pipelines.get_stage(session, actor, pipeline_id, stage_id)))


@router.patch(
    "/{pipeline_id}/stages/{stage_id}",
    response_model=Envelope[StageRead],
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def update_stage(
    pipeline_id: UUID, stage_id: UUID, body: StageChanges, actor: CurrentActor, session: SessionDep
) -> dict:
    """Name, probability (0-100), rottingDays, isClosed/isWon (won implies closed; not while deals sit in it)."""
    return ok(_stage(pipelines.update_stage(session, actor, pipeline_id, stage_id, body)))


@router.delete(
    "/{pipeline_id}/stages/{stage_id}",
    status_code=204,
    dependencies=[requires("pipelines", "update")],
    responses=ERRORS,
)
def delete_stage(pipeline_id: UUID, stage_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Soft delete; 409 while deals sit in the stage."""
    pipelines.delete_stage(session, actor, pipeline_id, stage_id)
    return Response(status_code=204)
