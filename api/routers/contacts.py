from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListParams, list_doc, list_response, partial_of
from core.contacts import service as contacts
from core.contacts.models import Contact
from core.contacts.schemas import (
    BulkCreated,
    BulkDeleted,
    BulkUpdated,
    ContactBulkCreate,
    ContactBulkDelete,
    ContactBulkUpdate,
    ContactConvert,
    ContactCreate,
    ContactRead,
    ContactReplace,
    ContactUpdate,
    ConversionRead,
)
from core.records import export

router = APIRouter(prefix="/contacts", tags=["contacts"])

ERRORS = error_responses(400, 401, 403, 404, 409)
ContactItem = partial_of(ContactRead, "ContactListItem")
EXPORT = export.RecordExport(
    entity_type="contacts",
    event="contact.exported",
    model=Contact,
    statement=contacts.readable,
    specs=export.with_custom_field_specs(contacts.SPECS, "contacts", Contact.id),
    columns=export.columns_of(ContactRead),
    serialize=export.each_with_custom_fields(contacts.serialize, "contacts"),
    search_column=Contact.search,
)


def _read(session: SessionDep, actor: CurrentActor, contact) -> dict:  # noqa: ANN001
    return contacts.to_read(session, actor, contact).model_dump(mode="json", by_alias=True)


@router.get(
    "",
    response_model=None,
    dependencies=[requires("contacts", "read")],
    responses={**ERRORS, **list_doc(ContactItem, "A page of contacts")},
)
def list_contacts(actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    """Filter by any field (`leadStatus=new,qualified`, `leadScore[gte]=50`, `lifecycleStage=mql`, `ownerId=...`,
    `tags=vip`, `lastContactedAt[lt]=2026-01-01`, `cf.<field>=...`), sort (`sort=-leadScore,lastName`), select
    `fields=`, `search=`; offset pages (`page`, `limit`) or cursor pages (`cursor=`, stable under inserts)."""
    return list_response(contacts.list_contacts(session, actor, params, json_ready=False))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ContactRead],
    dependencies=[requires("contacts", "create")],
    responses=ERRORS,
)
def create_contact(body: ContactCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    contact = contacts.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/contacts/{contact.id}"
    return ok(_read(session, actor, contact))


# Bulk routes come before /{contact_id}, which would otherwise claim the path "bulk".


@router.post(
    "/bulk",
    response_model=Envelope[BulkCreated],
    dependencies=[requires("contacts", "create")],
    responses=ERRORS,
)
def bulk_create_contacts(body: ContactBulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Create up to 100 contacts; each is validated and created on its own (a bad one never stops the others)
    and has its own result: `{index, success, id}` or `{index, success: false, error{code, message, details}}`."""
    return ok(contacts.bulk_create(session, actor, body.contacts).summary("created"))


@router.patch(
    "/bulk",
    response_model=Envelope[BulkUpdated],
    dependencies=[requires("contacts", "update")],
    responses=ERRORS,
)
def bulk_update_contacts(body: ContactBulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Apply the same changes to up to 100 contacts, each with its own result (a contact you cannot see is 404)."""
    return ok(contacts.bulk_update(session, actor, body.ids, body.updates).summary("updated"))


@router.delete(
    "/bulk",
    response_model=Envelope[BulkDeleted],
    dependencies=[requires("contacts", "delete")],
    responses=ERRORS,
)
def bulk_delete_contacts(body: ContactBulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 contacts, each with its own result (a contact you cannot see is 404)."""
    return ok(contacts.bulk_delete(session, actor, body.ids).summary("deleted"))


@router.get("/export", **export_options("contacts"))
def export_contacts(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every contact the list would show for the same filters, `sort`, `search` and `fields=`, as a CSV or XLSX
    download (`format=csv|xlsx`): one column per field (`id, firstName, ...`) and per custom field (`cf.<name>`).
    """
    return export_response(actor, EXPORT, query)


@router.get(
    "/{contact_id}",
    response_model=Envelope[ContactRead],
    dependencies=[requires("contacts", "read")],
    responses=ERRORS,
)
def get_contact(contact_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_read(session, actor, contacts.get(session, actor, contact_id)))


@router.put(
    "/{contact_id}",
    response_model=Envelope[ContactRead],
    dependencies=[requires("contacts", "update")],
    responses=ERRORS,
)
def replace_contact(contact_id: UUID, body: ContactReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace the whole contact; send `version` to get a 409 instead of overwriting someone else's change."""
    return ok(_read(session, actor, contacts.replace(session, actor, contact_id, body)))


@router.patch(
    "/{contact_id}",
    response_model=Envelope[ContactRead],
    dependencies=[requires("contacts", "update")],
    responses=ERRORS,
)
def update_contact(contact_id: UUID, body: ContactUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change only the fields sent; send `version` to get a 409 instead of overwriting someone else's change."""
    return ok(_read(session, actor, contacts.update(session, actor, contact_id, body)))


@router.delete("/{contact_id}", status_code=204, dependencies=[requires("contacts", "delete")], responses=ERRORS)
def delete_contact(contact_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    contacts.delete(session, actor, contact_id)
    return Response(status_code=204)


@router.post(
    "/{contact_id}/convert",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ConversionRead],
    dependencies=[requires("contacts", "update"), requires("deals", "create")],
    responses=ERRORS,
)
def convert_contact(
    contact_id: UUID, body: ContactConvert, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    """Convert the lead into a deal in one transaction: its account is linked (by email domain) or created
    when it has none, its lifecycle stage becomes "opportunity", and the deal is created (Location)."""
    result = contacts.convert(session, actor, contact_id, body)
    response.headers["Location"] = f"/api/v1/deals/{result.deal.id}"
    return ok(contacts.conversion_read(session, actor, result).model_dump(mode="json", by_alias=True))
