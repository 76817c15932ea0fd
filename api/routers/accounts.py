from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListParams, list_doc, list_response, partial_of
from api.routers.contacts import ContactItem
from core.accounts import service as accounts
from core.accounts.models import Account
from core.accounts.schemas import (
    AccountBulkCreate,
    AccountBulkDelete,
    AccountBulkUpdate,
    AccountCreate,
    AccountRead,
    AccountReplace,
    AccountUpdate,
)
from core.contacts import service as contacts
from core.contacts.schemas import BulkCreated, BulkDeleted, BulkUpdated
from core.deals.schemas import DealRead
from core.records import export

router = APIRouter(prefix="/accounts", tags=["accounts"])

ERRORS = error_responses(400, 401, 403, 404, 409)
AccountItem = partial_of(AccountRead, "AccountListItem")
LIST_DOC = list_doc(AccountItem, "A page of accounts")
EXPORT = export.RecordExport(
    entity_type="accounts",
    event="account.exported",
    model=Account,
    statement=accounts.readable,
    specs=export.with_custom_field_specs(accounts.SPECS, "accounts", Account.id),
    columns=export.columns_of(AccountRead),
    serialize=export.each_with_custom_fields(accounts.serialize, "accounts"),
    search_column=Account.search,
)


def _account(session: SessionDep, actor: CurrentActor, account_id: UUID) -> dict:
    account = accounts.get(session, actor, account_id)
    return accounts.to_read(session, actor, account).model_dump(mode="json", by_alias=True)


@router.get("", response_model=None, dependencies=[requires("accounts", "read")], responses={**ERRORS, **LIST_DOC})
def list_accounts(actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    """Filter by any field (`industry=SaaS,Fintech`, `annualRevenue[gte]=1000000`, `name[contains]=acme`,
    `tags=vip`, `parentId=...`, `cf.<field>=...`), sort, select `fields=`, `search=`; offset or cursor pages."""
    return list_response(accounts.list_accounts(session, actor, params))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[AccountRead],
    dependencies=[requires("accounts", "create")],
    responses=ERRORS,
)
def create_account(body: AccountCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    account = accounts.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/accounts/{account.id}"
    return ok(accounts.to_read(session, actor, account).model_dump(mode="json", by_alias=True))


# Bulk routes come before /{account_id}, which would otherwise claim the path "bulk".


@router.post(
    "/bulk",
    response_model=Envelope[BulkCreated],
    dependencies=[requires("accounts", "create")],
    responses=ERRORS,
)
def bulk_create_accounts(body: AccountBulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Create up to 100 accounts, each validated and created on its own with its own result."""
    return ok(accounts.bulk_create(session, actor, body.accounts).summary("created"))


@router.patch(
    "/bulk",
    response_model=Envelope[BulkUpdated],
    dependencies=[requires("accounts", "update")],
    responses=ERRORS,
)
def bulk_update_accounts(body: AccountBulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Apply the same changes to up to 100 accounts, each with its own result (one you cannot see is 404)."""
    return ok(accounts.bulk_update(session, actor, body.ids, body.updates).summary("updated"))


@router.delete(
    "/bulk",
    response_model=Envelope[BulkDeleted],
    dependencies=[requires("accounts", "delete")],
    responses=ERRORS,
)
def bulk_delete_accounts(body: AccountBulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 accounts, each with its own result (one you cannot see is 404)."""
    return ok(accounts.bulk_delete(session, actor, body.ids).summary("deleted"))


@router.get("/export", **export_options("accounts"))
def export_accounts(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every account the list would show for the same filters, `sort`, `search` and `fields=`, as a CSV or XLSX
    download (`format=csv|xlsx`): one column per field (`id, name, ...`) and per custom field (`cf.<name>`)."""
    return export_response(actor, EXPORT, query)


@router.get(
    "/{account_id}",
    response_model=Envelope[AccountRead],
    dependencies=[requires("accounts", "read")],
    responses=ERRORS,
)
def get_account(account_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_account(session, actor, account_id))


@router.put(
    "/{account_id}",
    response_model=Envelope[AccountRead],
    dependencies=[requires("accounts", "update")],
    responses=ERRORS,
)
def replace_account(account_id: UUID, body: AccountReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace the whole account; send `version` to get a 409 instead of overwriting someone else's change."""
    account = accounts.replace(session, actor, account_id, body)
    return ok(accounts.to_read(session, actor, account).model_dump(mode="json", by_alias=True))


@router.patch(
    "/{account_id}",
    response_model=Envelope[AccountRead],
    dependencies=[requires("accounts", "update")],
    responses=ERRORS,
)
def update_account(account_id: UUID, body: AccountUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change only the fields sent; send `version` to get a 409 instead of overwriting someone else's change."""
    account = accounts.update(session, actor, account_id, body)
    return ok(accounts.to_read(session, actor, account).model_dump(mode="json", by_alias=True))


@router.delete("/{account_id}", status_code=204, dependencies=[requires("accounts", "delete")], responses=ERRORS)
def delete_account(account_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    accounts.delete(session, actor, account_id)
    return Response(status_code=204)


@router.get(
    "/{account_id}/contacts",
    response_model=None,
    dependencies=[requires("accounts", "read"), requires("contacts", "read")],
    responses={**ERRORS, **list_doc(ContactItem, "A page of contacts")},
)
def list_account_contacts(account_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    """The account's contacts, with the contacts list's filters, sort, fields, search and pages."""
    return list_response(contacts.list_contacts(session, actor, params, account_id=account_id, json_ready=False))


@router.get(
    "/{account_id}/deals",
    response_model=PagedEnvelope[DealRead],
    dependencies=[requires("accounts", "read"), requires("deals", "read")],
    responses=ERRORS,
)
def list_account_deals(account_id: UUID, actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The account's deals, newest first."""
    rows, total = accounts.list_deals(session, actor, account_id, page=paging.page, limit=paging.limit)
    items = [d.model_dump(mode="json", by_alias=True) for d in rows]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.get(
    "/{account_id}/children",
    response_model=None,
    dependencies=[requires("accounts", "read")],
    responses={**ERRORS, **LIST_DOC},
)
def list_account_children(account_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    """The account's direct child accounts (the hierarchy), with the accounts list's query language."""
    return list_response(accounts.children(session, actor, account_id, params))
