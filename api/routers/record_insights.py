"""`GET /api/v1/insights?entity=…&id=…`: every insight about one record in one answer (or, without `id`, the
workspace's most pressing ones of that record type): its anomalies, its churn risk (accounts), its next best
actions (deals, contacts), its field suggestions (contacts, accounts) and its customer sentiment (accounts: by
month). Each part comes from its own service, with the same permissions and record scope as its own endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import error_responses, ok
from core.actions import service as actions
from core.churn import service as churn
from core.insights import service as anomalies
from core.sentiment import service as sentiment
from core.suggestions import service as suggestions

router = APIRouter(tags=["insights"])


def _json(items: Any) -> Any:
    if isinstance(items, list):
        return [_json(item) for item in items]
    return items.model_dump(mode="json", by_alias=True) if hasattr(items, "model_dump") else items


@router.get("/insights", dependencies=[requires("insights", "read")], responses=error_responses(400, 401, 403, 404))
def record_insights(
    actor: CurrentActor,
    session: SessionDep,
    entity: Annotated[Literal["deals", "accounts", "contacts"], Query(description="The record type")],
    id: Annotated[UUID | None, Query(description="One record; without it, the type's most pressing insights")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """Anomalies (deals, accounts), churn risk (accounts), next best actions (deals, contacts), suggestions
    (contacts, accounts) and sentiment by month (accounts), as their own endpoints return them. A record you
    cannot read is a 404."""
    found: dict[str, Any] = {"entity": entity, "id": str(id) if id else None}
    if entity in ("deals", "accounts"):
        found["anomalies"] = _json(
            anomalies.list_anomalies(session, actor, entity_type=entity, entity_id=id, limit=limit)
        )
    if entity == "accounts":
        if id is not None:
            risk = churn.account_risk(session, actor, id)
            found["churnRisk"] = _json(risk) if risk is not None else None
            found["sentiment"] = _json(sentiment.account_trend(session, actor, id))
        else:
            found["churnRisks"] = _json(churn.list_risks(session, actor, limit=limit))
    if entity in ("deals", "contacts"):
        rows = actions.list_actions(session, actor, entity_type=entity, entity_id=id, limit=limit)
        found["nextActions"] = [_json(actions.to_read(row)) for row in rows]
    if entity in ("contacts", "accounts") and id is not None:
        found["suggestions"] = _json(suggestions.list_for_record(session, actor, entity, id))
    return ok(found)
