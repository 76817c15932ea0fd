"""Deals: /api/v1/deals (list, CRUD, bulk), stage moves, won/lost and stage history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response, status
from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListEnvelope, ListParams, list_response, partial_of
from core.actor import Actor
from core.deals import service as deals
from core.deals.models import Deal
from core.deals.schemas import (
    BulkCreate,
    BulkDelete,
    BulkResult,
    BulkUpdate,
    DealCreate,
    DealPatch,
    DealRead,
    DealReplace,
    MarkLost,
    MarkWon,
    StageHistoryRead,
    StageMove,
)
from core.pipelines.models import Pipeline, Stage
from core.records import export

router = APIRouter(prefix="/deals", tags=["deals"])

ERRORS = error_responses(400, 401, 403, 404, 409)
DealItem = partial_of(DealRead, "DealListItem")
LIST_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": ListEnvelope[DealItem], "description": "A page of deals"}  # type: ignore[valid-type]
}


def _readable(actor: Actor) -> Select[Any]:
    """What the deals list reads: the actor's deals with their stage and pipeline (for names and rotting)."""
    return actor.readable(Deal).join(Stage, Stage.id == Deal.stage_id).join(Pipeline, Pipeline.id == Deal.pipeline_id)


def _rows(session: Session, actor: Actor, records: list[Deal]) -> list[dict[str, Any]]:
    return [read.model_dump(mode="json", by_alias=True) for read in deals.to_reads(session, actor, records)]


EXPORT = export.RecordExport(
    entity_type="deals",
    event="deal.exported",
    model=Deal,
    statement=_readable,
    specs=deals.field_specs,
    columns=export.columns_of(DealRead),
    serialize=_rows,
    search_column=Deal.search,
)


def _read(session: SessionDep, actor: CurrentActor, deal: Deal) -> dict:
    return ok(deals.to_read(session, actor, deal).model_dump(mode="json", by_alias=True))


@router.get("", response_model=None, dependencies=[requires("deals", "read")], responses={**ERRORS, **LIST_DOC})
def list_deals(actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    """Filter by any field: `stageId`, `pipelineId`, `ownerId`, `accountId`, `contactId` (lists: `a,b`),
    `name[contains]=acme`, `amount[gte]=1000`, `currency=EUR`, `expectedCloseDate[lte]=2026-12-31`,
    `isClosed`, `isWon`, `isRotting=true`, `leadSource`, `tags=vip`, `createdAt[gte]=...`, `cf.<field>=...`;
    sort (`sort=-amount,name`), select `fields=`, `search=`; offset pages, or cursor pages with `cursor=`."""
    return list_response(deals.list_deals(session, actor, params))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "create")],
    responses=ERRORS,
)
def create_deal(body: DealCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A deal on the default (or given) pipeline, in its first open (or given) stage."""
    deal = deals.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/deals/{deal.id}"
    return _read(session, actor, deal)


@router.post(
    "/bulk",
    response_model=Envelope[BulkResult],
    dependencies=[requires("deals", "create")],
    responses=ERRORS,
)
def bulk_create_deals(body: BulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Up to 100 deals, each on its own: `{created, failed, results[{index, success, id | error}]}`. The good
    ones are created even when others fail."""
    return ok(deals.bulk_create(session, actor, body.deals))


@router.patch(
    "/bulk",
    response_model=Envelope[BulkResult],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def bulk_update_deals(body: BulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """The same changes on up to 100 deals: `{updated, failed, results[...]}`."""
    return ok(deals.bulk_update(session, actor, body.ids, body.updates))


@router.delete(
    "/bulk",
    response_model=Envelope[BulkResult],
    dependencies=[requires("deals", "delete")],
    responses=ERRORS,
)
def bulk_delete_deals(body: BulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 deals: `{deleted, failed, results[...]}`."""
    return ok(deals.bulk_delete(session, actor, body.ids))


@router.get("/export", **export_options("deals"))
def export_deals(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every deal the list would show for the same filters, `sort`, `search` and `fields=`, as a CSV or XLSX
    download (`format=csv|xlsx`): one column per field (`id, name, amount, ...`) and per custom field
    (`cf.<name>`)."""
    return export_response(actor, EXPORT, query)


@router.get(
    "/{deal_id}",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "read")],
    responses=ERRORS,
)
def get_deal(deal_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return _read(session, actor, deals.get(session, actor, deal_id))


@router.put(
    "/{deal_id}",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def replace_deal(deal_id: UUID, body: DealReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace every editable field (omitted ones are cleared or reset); `version` -> 409 when stale."""
    return _read(session, actor, deals.replace(session, actor, deal_id, body))


@router.patch(
    "/{deal_id}",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def update_deal(deal_id: UUID, body: DealPatch, actor: CurrentActor, session: SessionDep) -> dict:
    """Change only the fields given; `version` -> 409 when stale."""
    return _read(session, actor, deals.update(session, actor, deal_id, body))


@router.delete("/{deal_id}", status_code=204, dependencies=[requires("deals", "delete")], responses=ERRORS)
def delete_deal(
    deal_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    version: int | None = Query(None, description="Current version; 409 when stale."),
) -> Response:
    """Soft delete."""
    deals.delete(session, actor, deal_id, version=version)
    return Response(status_code=204)


@router.post(
    "/{deal_id}/stage",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def move_deal_stage(deal_id: UUID, body: StageMove, actor: CurrentActor, session: SessionDep) -> dict:
    """Move to a stage; a closed stage closes the deal (a lost one needs `lostReason`), an open one reopens it."""
    deal = deals.move_stage(
        session,
        actor,
        deal_id,
        body.stage_id,
        version=body.version,
        lost_reason=body.lost_reason,
        close_date=body.actual_close_date,
    )
    return _read(session, actor, deal)


@router.post(
    "/{deal_id}/won",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def mark_deal_won(deal_id: UUID, actor: CurrentActor, session: SessionDep, body: MarkWon | None = Body(None)) -> dict:
    """Move to the pipeline's won stage."""
    body = body or MarkWon()
    deal = deals.mark_won(session, actor, deal_id, version=body.version, close_date=body.actual_close_date)
    return _read(session, actor, deal)


@router.post(
    "/{deal_id}/lost",
    response_model=Envelope[DealRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def mark_deal_lost(deal_id: UUID, body: MarkLost, actor: CurrentActor, session: SessionDep) -> dict:
    """Move to the pipeline's lost stage with the reason."""
    deal = deals.mark_lost(
        session, actor, deal_id, body.reason, version=body.version, close_date=body.actual_close_date
    )
    return _read(session, actor, deal)


@router.get(
    "/{deal_id}/stage-history",
    response_model=Envelope[list[StageHistoryRead]],
    dependencies=[requires("deals", "read")],
    responses=ERRORS,
)
def deal_stage_history(deal_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Every stage the deal has been in, oldest first, with who moved it and the time spent in each."""
    return ok([h.model_dump(mode="json", by_alias=True) for h in deals.stage_history(session, actor, deal_id)])
