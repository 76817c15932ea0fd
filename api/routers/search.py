"""Search: `/api/v1/search` across contacts, accounts, deals and notes, ranked and permission-filtered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentActor, SessionDep
from api.envelope import Envelope, error_responses, ok
from core.search import service as search_service
from core.search.schemas import MAX_LIMIT, MAX_QUERY_LENGTH, SearchHit

router = APIRouter(tags=["search"])


@router.get("/search", response_model=Envelope[list[SearchHit]], responses=error_responses(400, 401, 403))
def search(
    actor: CurrentActor,
    session: SessionDep,
    q: Annotated[
        str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="Words; the last ones may be partial")
    ],
    types: Annotated[str | None, Query(description="Comma-separated: contacts,accounts,deals,notes")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> dict:
    """Full text (every word, prefixes too) and typo-tolerant names, best first. Only the types you may read
    are searched (403 when none of those asked for); notes only on records you can read."""
    wanted = search_service.parse_types(types)
    hits = search_service.search(session, actor, q, types=wanted, limit=limit)
    return ok([hit.model_dump(mode="json", by_alias=True) for hit in hits])
