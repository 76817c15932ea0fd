"""Search: `/api/v1/search` across contacts, accounts, deals, notes and activities: by words, by meaning, or both
fused (ai/nlp/search.py); ranked and permission-filtered."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from ai.nlp import search as hybrid
from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.jobs.schemas import JobRead
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
    mode: Annotated[
        Literal["hybrid", "text", "semantic"],
        Query(
            description='`text`: words and prefixes, typo-tolerant names. `semantic`: by meaning ("notes about'
            ' pricing complaints", "companies like Acme"). `hybrid` (default): both, fused by reciprocal rank.'
        ),
    ] = "hybrid",
    types: Annotated[
        str | None, Query(description="Comma-separated: contacts,accounts,deals,notes (and activities, not in text)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> dict:
    """Best first. Only the types you may read are searched (403 when none of those asked for); notes only on
    records you can read. `matched` says how each hit was found: `fulltext`, `fuzzy`, `semantic`."""
    hits = hybrid.search(session, actor, q, mode=mode, types=types.split(",") if types else None, limit=limit)
    return ok([hit.model_dump(mode="json", by_alias=True) for hit in hits])


@router.post(
    "/search/embeddings/rebuild",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("settings", "manage")],
    responses=error_responses(401, 403),
)
def rebuild_embeddings(actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Embed every record of the workspace again (the worker keeps them current by itself; this is for an
    upgrade of the model or a restore). Follow the job at /jobs/{id}."""
    job = search_service.queue_embedding_rebuild(session, actor)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))
