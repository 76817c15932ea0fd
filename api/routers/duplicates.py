"""Duplicates and merges: `/contacts|accounts/duplicates`, `/contacts|accounts/{id}/duplicates`,
`/contacts|accounts/{id}/merge` and `/unmerge`.

Registered before the contacts and accounts routers: `/contacts/{contact_id}` would otherwise claim the path
`/contacts/duplicates` (and answer 400 for a malformed id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.duplicates import service as duplicates
from core.duplicates.schemas import DuplicateMatch, DuplicatePair, MergeRequest, MergeResult, UnmergeResult

router = APIRouter(tags=["duplicates"])

ERRORS = error_responses(400, 401, 403, 404)
MERGE_ERRORS = error_responses(400, 401, 403, 404, 409)
Limit = Annotated[int, Query(ge=1, le=100)]


def _dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True) for item in items]


@router.get(
    "/contacts/duplicates",
    response_model=Envelope[list[DuplicatePair]],
    dependencies=[requires("contacts", "read")],
    responses=ERRORS,
)
def contact_duplicates(actor: CurrentActor, session: SessionDep, limit: Limit = 50) -> dict:
    """Pairs of contacts you can see that are probably one person: the same email, or a similar name at the
    same account or with the same phone. Each pair says why (`reasons`) and how sure (`score`, 0-1)."""
    return ok(_dump(duplicates.find_contact_duplicates(session, actor, limit=limit)))


@router.get(
    "/accounts/duplicates",
    response_model=Envelope[list[DuplicatePair]],
    dependencies=[requires("accounts", "read")],
    responses=ERRORS,
)
def account_duplicates(actor: CurrentActor, session: SessionDep, limit: Limit = 50) -> dict:
    """Pairs of accounts you can see that are probably one company: the same domain or a similar name."""
    return ok(_dump(duplicates.find_account_duplicates(session, actor, limit=limit)))


@router.get(
    "/contacts/{contact_id}/duplicates",
    response_model=Envelope[list[DuplicateMatch]],
    dependencies=[requires("contacts", "read")],
    responses=ERRORS,
)
def duplicates_of_contact(contact_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_dump(duplicates.contact_duplicates_of(session, actor, contact_id)))


@router.get(
    "/accounts/{account_id}/duplicates",
    response_model=Envelope[list[DuplicateMatch]],
    dependencies=[requires("accounts", "read")],
    responses=ERRORS,
)
def duplicates_of_account(account_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_dump(duplicates.account_duplicates_of(session, actor, account_id)))


@router.post(
    "/contacts/{contact_id}/merge",
    response_model=Envelope[MergeResult],
    dependencies=[requires("contacts", "merge")],
    responses=MERGE_ERRORS,
)
def merge_contact(contact_id: UUID, body: MergeRequest, actor: CurrentActor, session: SessionDep) -> dict:
    """Merge `otherId` into this contact in one transaction: empty fields are filled, tags joined, activities,
    notes, tasks, deals and custom field values moved; the other is soft-deleted. Undo with `/unmerge`."""
    result = duplicates.merge_contacts(session, actor, contact_id, body.other_id)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post(
    "/accounts/{account_id}/merge",
    response_model=Envelope[MergeResult],
    dependencies=[requires("accounts", "merge")],
    responses=MERGE_ERRORS,
)
def merge_account(account_id: UUID, body: MergeRequest, actor: CurrentActor, session: SessionDep) -> dict:
    """Merge `otherId` into this account: as for contacts, and its contacts and child accounts move too."""
    result = duplicates.merge_accounts(session, actor, account_id, body.other_id)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post(
    "/contacts/{contact_id}/unmerge",
    response_model=Envelope[UnmergeResult],
    dependencies=[requires("contacts", "merge")],
    responses=MERGE_ERRORS,
)
def unmerge_contact(contact_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Restore a contact that was merged away (its id) and move back what the merge moved."""
    return ok(duplicates.unmerge(session, actor, "contacts", contact_id).model_dump(mode="json", by_alias=True))


@router.post(
    "/accounts/{account_id}/unmerge",
    response_model=Envelope[UnmergeResult],
    dependencies=[requires("accounts", "merge")],
    responses=MERGE_ERRORS,
)
def unmerge_account(account_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Restore an account that was merged away (its id) and move back what the merge moved."""
    return ok(duplicates.unmerge(session, actor, "accounts", account_id).model_dump(mode="json", by_alias=True))
