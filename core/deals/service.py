"""Deals: create, read, list, update, stage moves (won, lost, reopen), soft delete and bulk work.

Every stage change goes through `_move`, which writes a `DealStageHistory` row (from, to, when, by whom,
amount and probability at the time), sets `stage_entered_at` and the stage's probability, and keeps the
closed/won/lost columns consistent with the stage. A history row is also written at creation (from NULL),
so the history always ends at the deal's current stage. Events are emitted in the caller's transaction.

Derived on read (never stored): days in stage, rotting (an open deal longer in its stage than the stage's
`rotting_days`), weighted amount (amount x probability / 100), stage and pipeline names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Integer, and_, cast, func, select
from sqlalchemy.orm import Session, aliased

from core.accounts.models import Account
from core.actor import Actor
from core.contacts.models import Contact
from core.custom_fields import service as custom_fields
from core.deals.models import Deal, DealStageHistory
from core.deals.schemas import (
    DealBulkChanges,
    DealCreate,
    DealPatch,
    DealRead,
    DealReplace,
    StageHistoryRead,
)
from core.errors import Conflict, NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.pipelines import service as pipelines
from core.pipelines.models import Pipeline, Stage
from core.records import bulk
from core.records import query as q
from core.records.listing import RecordPage
from core.records.owners import resolve_owner
from core.tenants import calendar
from core.users.models import User
from core.versioning import check_version

ENTITY = "deals"
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


def _now() -> datetime:
    return datetime.now(UTC)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _invalid(problems: list[dict[str, Any]]) -> None:
    if problems:
        names = ", ".join(dict.fromkeys(p["field"] for p in problems))
        raise ValidationFailed(f"Invalid deal: check {names}", details=problems)


# Reads -------------------------------------------------------------------------------------------------


def _visible(session: Session, actor: Actor, deal_id: UUID) -> Deal:
    """The deal if it is in the actor's tenant and record scope (and not deleted); 404 otherwise."""
    deal = session.scalar(actor.readable(Deal).where(Deal.id == deal_id))
    if deal is None:
        raise NotFound("Deal not found")
    return deal


def get(session: Session, actor: Actor, deal_id: UUID) -> Deal:
    actor.require("deals", "read")
    return _visible(session, actor, deal_id)


def derived(deal: Deal, rotting_days: int | None, now: datetime | None = None) -> tuple[int, bool, Decimal | None]:
    """(days in stage, rotting, weighted amount) of a deal whose stage rots after `rotting_days`."""
    now = now or _now()
    days = max((now - deal.stage_entered_at).days, 0)
    rotting = not deal.is_closed and rotting_days is not None and days > rotting_days
    weighted = None if deal.amount is None else (deal.amount * deal.probability / _HUNDRED).quantize(_CENT)
    return days, rotting, weighted


def to_reads(session: Session, actor: Actor, deals: Sequence[Deal]) -> list[DealRead]:
    """Deals as read by clients, with derived fields and custom field values (two queries for any number)."""
    if not deals:
        return []
    stage_info = {
        row.id: row
        for row in session.execute(
            select(Stage.id, Stage.name, Stage.rotting_days, Pipeline.name.label("pipeline_name"))
            .join(Pipeline, Pipeline.id == Stage.pipeline_id)
            .where(Stage.tenant_id == actor.tenant_id, Stage.id.in_({d.stage_id for d in deals}))
        )
    }
    values = custom_fields.values_for(session, actor, ENTITY, [d.id for d in deals])
    now = _now()
    reads = []
    for deal in deals:
        info = stage_info[deal.stage_id]
        days, rotting, weighted = derived(deal, info.rotting_days, now)
        reads.append(
            DealRead(
                id=deal.id,
                name=deal.name,
                amount=deal.amount,
                currency=deal.currency,
                probability=deal.probability,
                weighted_amount=weighted,
                pipeline_id=deal.pipeline_id,
                pipeline_name=info.pipeline_name,
                stage_id=deal.stage_id,
                stage_name=info.name,
                stage_entered_at=deal.stage_entered_at,
                days_in_stage=days,
                is_rotting=rotting,
                is_closed=deal.is_closed,
                is_won=deal.is_won,
                lost_reason=deal.lost_reason,
                expected_close_date=deal.expected_close_date,
                actual_close_date=deal.actual_close_date,
                owner_id=deal.owner_id,
                account_id=deal.account_id,
                contact_id=deal.contact_id,
                lead_source=deal.lead_source,
                next_step=deal.next_step,
                description=deal.description,
                tags=list(deal.tags or []),
                custom_fields=values.get(deal.id, {}),
                created_at=deal.created_at,
                updated_at=deal.updated_at,
                version=deal.version,
            )
        )
    return reads


def to_read(session: Session, actor: Actor, deal: Deal) -> DealRead:
    return to_reads(session, actor, [deal])[0]


# Lists -------------------------------------------------------------------------------------------------


def rotting_condition() -> ColumnElement[bool]:
    """SQL for `isRotting` (needs `deal_stages` joined on the deal's stage): open, the stage rots, and more
    than `rotting_days` whole days in it."""
    return and_(
        Deal.is_closed.is_(False),
        Stage.rotting_days.is_not(None),
        Deal.stage_entered_at <= func.now() - func.make_interval(0, 0, 0, 0, (Stage.rotting_days + 1) * 24),
    )


_LABELLED = {"stageName", "pipelineName", "weightedAmount"}


def field_specs(session: Session, actor: Actor) -> dict[str, q.FieldSpec]:
    """What a deal list may filter, sort and select by (with `cf.<name>` for the tenant's custom fields)."""
    spec = q.FieldSpec
    days = cast(func.floor(func.extract("epoch", func.now() - Deal.stage_entered_at) / 86400), Integer)
    specs = [
        spec("id", Deal.id, "uuid"),
        spec("name", Deal.name),
        spec("amount", Deal.amount, "decimal"),
        spec("currency", Deal.currency),
        spec("probability", Deal.probability, "int"),
        spec("weightedAmount", Deal.amount * Deal.probability / 100, "decimal"),
        spec("pipelineId", Deal.pipeline_id, "uuid"),
        spec("pipelineName", Pipeline.name),
        spec("stageId", Deal.stage_id, "uuid"),
        spec("stageName", Stage.name),
        spec("stageEnteredAt", Deal.stage_entered_at, "datetime"),
        spec("daysInStage", days, "int", sortable=False),
        spec("isRotting", rotting_condition(), "bool", sortable=False),
        spec("isClosed", Deal.is_closed, "bool"),
        spec("isWon", Deal.is_won, "bool"),
        spec("lostReason", Deal.lost_reason),
        spec("expectedCloseDate", Deal.expected_close_date, "date"),
        spec("actualCloseDate", Deal.actual_close_date, "date"),
        spec("ownerId", Deal.owner_id, "uuid"),
        spec("accountId", Deal.account_id, "uuid"),
        spec("contactId", Deal.contact_id, "uuid"),
        spec("leadSource", Deal.lead_source),
        spec("nextStep", Deal.next_step, sortable=False),
        spec("description", Deal.description, filterable=False, sortable=False),
        spec("tags", Deal.tags, "str_list", sortable=False),
        spec("customFields", None, filterable=False, sortable=False),
        spec("createdAt", Deal.created_at, "datetime"),
        spec("updatedAt", Deal.updated_at, "datetime"),
        spec("version", Deal.version, "int", filterable=False, sortable=False),
    ]
    found = {s.name: s for s in specs}
    found.update(custom_fields.field_specs(session, actor, ENTITY, Deal.id))
    return found


def list_deals(session: Session, actor: Actor, params: Mapping[str, Sequence[str]]) -> RecordPage:
    """One page of the deals the actor may see, as JSON-ready items, from the query language of
    core/records/query.py: filters, sort, `fields=`, `search=`, offset pages (with a total) or cursor pages."""
    actor.require("deals", "read")
    bad = [k for k, values in params.items() if "\x00" in k or any("\x00" in v for v in values)]
    if bad:
        raise ValidationFailed(
            f"Invalid list query: {', '.join(k.replace(chr(0), '') for k in bad)}",
            details=[{"field": k.replace("\x00", ""), "message": "contains a NUL character"} for k in bad],
        )
    specs = field_specs(session, actor)
    query = q.parse(params, specs, default_sort="-createdAt")
    statement = (
        actor.readable(Deal).join(Stage, Stage.id == Deal.stage_id).join(Pipeline, Pipeline.id == Deal.pipeline_id)
    )
    for sort_spec, _ in query.sort:  # cursor pages read sort keys that are not deal columns from labelled columns
        if sort_spec.name in _LABELLED or sort_spec.name.startswith("cf."):
            statement = statement.add_columns(sort_spec.expression.label(sort_spec.name))
    statement = q.apply(statement, query, id_column=Deal.id, search_column=Deal.search)
    found = q.page(session, statement, query, id_spec=specs["id"])
    reads = to_reads(session, actor, [row[0] for row in found.rows])
    return RecordPage(
        items=[select_fields(r.model_dump(mode="json", by_alias=True), query.fields) for r in reads],
        limit=query.limit,
        page=query.page,
        total=found.total,
        next_cursor=found.next_cursor,
        cursor=query.cursor is not None,
    )


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """`fields=` applied to one read item; `cf.<name>` selects that custom field inside `customFields`."""
    if fields is None:
        return item
    selected = q.select_fields(item, fields)
    wanted = {f[3:] for f in fields if f.startswith("cf.")}
    if wanted and "customFields" not in selected:
        selected["customFields"] = {k: v for k, v in item.get("customFields", {}).items() if k in wanted}
    return selected


# Checks ------------------------------------------------------------------------------------------------


def _check_account(session: Session, actor: Actor, account_id: UUID, problems: list[dict[str, Any]]) -> None:
    if not actor.can("accounts", "read") or not session.scalar(
        actor.readable(Account).where(Account.id == account_id).with_only_columns(Account.id)
    ):
        problems.append({"field": "accountId", "message": "no such account (or not one you can see)"})


def _check_contact(session: Session, actor: Actor, contact_id: UUID, problems: list[dict[str, Any]]) -> None:
    if not actor.can("contacts", "read") or not session.scalar(
        actor.readable(Contact).where(Contact.id == contact_id).with_only_columns(Contact.id)
    ):
        problems.append({"field": "contactId", "message": "no such contact (or not one you can see)"})


def _check_owner(session: Session, actor: Actor, owner_id: UUID | None, problems: list[dict[str, Any]]) -> UUID | None:
    """The owner (the actor when None): an active user within the actor's record scope (core/records/owners)."""
    try:
        return resolve_owner(session, actor, owner_id)
    except ValidationFailed as exc:
        problems.extend(exc.details or [])
        return None


def _placement(
    session: Session,
    actor: Actor,
    pipeline_id: UUID | None,
    stage_id: UUID | None,
    problems: list[dict[str, Any]],
) -> tuple[Pipeline, Stage] | None:
    """The (pipeline, stage) named by either or both ids, defaulting to the default pipeline and the
    pipeline's first open stage; None (with problems) when they do not name a live pair."""
    if stage_id is not None:
        stage = pipelines.live_stage(session, actor, stage_id)
        if stage is None:
            problems.append({"field": "stageId", "message": "no such stage"})
            return None
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            problems.append({"field": "stageId", "message": "not a stage of the given pipeline"})
            return None
        pipeline = pipelines.live_pipeline(session, actor, stage.pipeline_id)
        if pipeline is None:
            problems.append({"field": "stageId", "message": "no such stage"})
            return None
        return pipeline, stage
    found = (
        pipelines.live_pipeline(session, actor, pipeline_id)
        if pipeline_id is not None
        else pipelines.default_pipeline(session, actor)
    )
    if found is None:
        problems.append({"field": "pipelineId", "message": "no such pipeline"})
        return None
    first = pipelines.first_open_stage(session, actor, found.id)
    if first is None:
        problems.append({"field": "pipelineId", "message": "the pipeline has no open stage"})
        return None
    return found, first


def _check_outcome(
    stage: Stage, lost_reason: str | None, close_date: date | None, problems: list[dict[str, Any]]
) -> None:
    if stage.is_closed_stage and not stage.is_won_stage and not lost_reason:
        problems.append({"field": "lostReason", "message": "required when the deal is lost"})
    if lost_reason and (stage.is_won_stage or not stage.is_closed_stage):
        problems.append({"field": "lostReason", "message": "only for a move to a lost stage"})
    if close_date is not None and not stage.is_closed_stage:
        problems.append({"field": "actualCloseDate", "message": "only for a move to a closed stage"})


def _set_outcome(
    session: Session, actor: Actor, deal: Deal, stage: Stage, lost_reason: str | None, close_date: date | None
) -> None:
    """The closed/won/lost columns for a deal entering `stage` (checked by `_check_outcome` first)."""
    if stage.is_closed_stage:
        closed_on = close_date or calendar.today(session, actor)  # before any change: the query would autoflush
        deal.is_closed = True
        deal.is_won = stage.is_won_stage
        deal.actual_close_date = closed_on
        deal.lost_reason = None if stage.is_won_stage else lost_reason
    else:  # open, or reopened: nothing of an earlier outcome remains
        deal.is_closed = False
        deal.is_won = None
        deal.actual_close_date = None
        deal.lost_reason = None


def _history(session: Session, actor: Actor, deal: Deal, from_stage_id: UUID | None) -> None:
    session.add(
        DealStageHistory(
            id=new_id(),
            tenant_id=actor.tenant_id,
            deal_id=deal.id,
            from_stage_id=from_stage_id,
            to_stage_id=deal.stage_id,
            changed_at=deal.stage_entered_at,
            changed_by=actor.user_id,
            amount=deal.amount,
            probability=deal.probability,
        )
    )


def _outcome_event(session: Session, actor: Actor, deal: Deal, stage: Stage) -> None:
    if not stage.is_closed_stage:
        return
    payload: dict[str, Any] = {
        "name": deal.name,
        "amount": None if deal.amount is None else str(deal.amount),
        "currency": deal.currency,
        "stageId": str(stage.id),
        "actualCloseDate": deal.actual_close_date.isoformat() if deal.actual_close_date else None,
    }
    if not stage.is_won_stage:
        payload["lostReason"] = deal.lost_reason
    emit(
        session,
        actor,
        "deal.won" if stage.is_won_stage else "deal.lost",
        entity_type=ENTITY,
        entity_id=deal.id,
        payload=payload,
    )


# Writes ------------------------------------------------------------------------------------------------


def create(session: Session, actor: Actor, data: DealCreate) -> Deal:
    """Create a deal (and its first stage-history row) in the caller's transaction.

    Defaults: the tenant's default pipeline, the pipeline's first open stage, the pipeline's currency, the
    stage's probability, the actor as owner. Account and contact must be records the actor can see; the owner
    an active user within the actor's record scope. Creating straight into a lost stage needs `lost_reason`.
    """
    actor.require("deals", "create")
    problems: list[dict[str, Any]] = []
    placed = _placement(session, actor, data.pipeline_id, data.stage_id, problems)
    if data.account_id is not None:
        _check_account(session, actor, data.account_id, problems)
    if data.contact_id is not None:
        _check_contact(session, actor, data.contact_id, problems)
    owner_id = _check_owner(session, actor, data.owner_id, problems)
    if placed is not None:
        _check_outcome(placed[1], data.lost_reason, data.actual_close_date, problems)
    _invalid(problems)
    assert placed is not None and owner_id is not None
    pipeline, stage = placed
    deal = Deal(
        id=new_id(),
        tenant_id=actor.tenant_id,
        owner_id=owner_id,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        account_id=data.account_id,
        contact_id=data.contact_id,
        name=data.name,
        amount=data.amount,
        currency=data.currency or pipeline.currency,
        probability=data.probability if data.probability is not None else stage.probability,
        expected_close_date=data.expected_close_date,
        lead_source=data.lead_source,
        next_step=data.next_step,
        description=data.description,
        tags=data.tags,
        stage_entered_at=_now(),
    )
    _set_outcome(session, actor, deal, stage, data.lost_reason, data.actual_close_date)
    session.add(deal)
    session.flush()
    custom_fields.write_values(session, actor, ENTITY, deal.id, data.custom_fields, partial=False)
    _history(session, actor, deal, None)
    emit(
        session,
        actor,
        "deal.created",
        entity_type=ENTITY,
        entity_id=deal.id,
        payload={
            "name": deal.name,
            "amount": None if deal.amount is None else str(deal.amount),
            "currency": deal.currency,
            "pipelineId": str(deal.pipeline_id),
            "stageId": str(deal.stage_id),
            "ownerId": str(deal.owner_id),
            "accountId": str(deal.account_id) if deal.account_id else None,
            "contactId": str(deal.contact_id) if deal.contact_id else None,
        },
    )
    _outcome_event(session, actor, deal, stage)
    session.flush()
    return deal


def _move(
    session: Session,
    actor: Actor,
    deal: Deal,
    stage: Stage,
    *,
    lost_reason: str | None = None,
    close_date: date | None = None,
) -> None:
    """Move a deal to another stage (possibly of another pipeline): outcome columns, history, events."""
    problems: list[dict[str, Any]] = []
    _check_outcome(stage, lost_reason, close_date, problems)
    _invalid(problems)
    from_stage_id, from_pipeline_id = deal.stage_id, deal.pipeline_id
    was_closed = deal.is_closed
    _set_outcome(session, actor, deal, stage, lost_reason, close_date)
    deal.stage_id = stage.id
    deal.pipeline_id = stage.pipeline_id
    deal.stage_entered_at = _now()
    deal.probability = stage.probability
    _history(session, actor, deal, from_stage_id)
    emit(
        session,
        actor,
        "deal.stage_changed",
        entity_type=ENTITY,
        entity_id=deal.id,
        payload={
            "fromStageId": str(from_stage_id),
            "toStageId": str(stage.id),
            "fromPipelineId": str(from_pipeline_id),
            "pipelineId": str(stage.pipeline_id),
            "isClosed": deal.is_closed,
            "isWon": deal.is_won,
            "reopened": was_closed and not deal.is_closed,
        },
    )
    _outcome_event(session, actor, deal, stage)


def _same_stage(deal: Deal, lost_reason: str | None) -> None:
    """A move to the stage the deal is already in changes nothing, except a lost deal's reason."""
    if lost_reason:
        if deal.is_closed and deal.is_won is False:
            deal.lost_reason = lost_reason
        else:
            _invalid([{"field": "lostReason", "message": "only for a lost deal"}])


def move_stage(
    session: Session,
    actor: Actor,
    deal_id: UUID,
    stage_id: UUID,
    *,
    version: int | None = None,
    lost_reason: str | None = None,
    close_date: date | None = None,
) -> Deal:
    """Move a deal to a stage (of its pipeline, or of another one: the deal changes pipeline with it).

    A closed stage closes the deal (won or lost; `lost_reason` is required for a lost stage) with
    `close_date` or today in the tenant's time zone; an open stage reopens a closed deal and clears its
    outcome. Moving to the current stage is a no-op. `version` guards against lost updates (409).
    """
    actor.require("deals", "update")
    deal = _visible(session, actor, deal_id)
    check_version(deal, version)
    stage = pipelines.live_stage(session, actor, stage_id)
    if stage is None:
        _invalid([{"field": "stageId", "message": "no such stage"}])
    assert stage is not None
    if stage.id == deal.stage_id:
        _same_stage(deal, lost_reason)
    else:
        _move(session, actor, deal, stage, lost_reason=lost_reason, close_date=close_date)
    session.flush()
    return deal


def _mark(
    session: Session,
    actor: Actor,
    deal_id: UUID,
    *,
    won: bool,
    reason: str | None,
    version: int | None,
    close_date: date | None,
) -> Deal:
    actor.require("deals", "update")
    deal = _visible(session, actor, deal_id)
    check_version(deal, version)
    stage = pipelines.outcome_stage(session, actor, deal.pipeline_id, won=won)
    if stage is None:
        raise Conflict(
            f"This deal's pipeline has no {'won' if won else 'lost'} stage (or was deleted); add one or move the deal"
        )
    if stage.id == deal.stage_id:
        _same_stage(deal, reason)
    else:
        _move(session, actor, deal, stage, lost_reason=reason, close_date=close_date)
    session.flush()
    return deal


def mark_won(
    session: Session, actor: Actor, deal_id: UUID, *, version: int | None = None, close_date: date | None = None
) -> Deal:
    """Move the deal to its pipeline's won stage."""
    return _mark(session, actor, deal_id, won=True, reason=None, version=version, close_date=close_date)


def mark_lost(
    session: Session,
    actor: Actor,
    deal_id: UUID,
    reason: str,
    *,
    version: int | None = None,
    close_date: date | None = None,
) -> Deal:
    """Move the deal to its pipeline's lost stage, with the reason it was lost."""
    if not reason or not reason.strip():
        _invalid([{"field": "reason", "message": "required"}])
    return _mark(session, actor, deal_id, won=False, reason=reason.strip(), version=version, close_date=close_date)


def _apply(session: Session, actor: Actor, deal: Deal, fields: dict[str, Any], *, partial: bool) -> Deal:
    """Shared by PATCH (partial) and PUT: check references, set fields, move stage, write custom fields."""
    problems: list[dict[str, Any]] = []
    cf_values = fields.pop("custom_fields", None)
    lost_reason = fields.pop("lost_reason", None)
    target: Stage | None = None
    stage_id, pipeline_id = fields.pop("stage_id", None), fields.pop("pipeline_id", None)
    if stage_id is not None or (pipeline_id is not None and pipeline_id != deal.pipeline_id):
        placed = _placement(session, actor, pipeline_id, stage_id, problems)
        if placed is not None and placed[1].id != deal.stage_id:
            target = placed[1]
            _check_outcome(target, lost_reason, None, problems)
    if target is None and lost_reason and not (deal.is_closed and deal.is_won is False):
        problems.append({"field": "lostReason", "message": "only for a lost deal or a move to a lost stage"})
    if fields.get("account_id") is not None and fields["account_id"] != deal.account_id:
        _check_account(session, actor, fields["account_id"], problems)
    if fields.get("contact_id") is not None and fields["contact_id"] != deal.contact_id:
        _check_contact(session, actor, fields["contact_id"], problems)
    if fields.get("owner_id") is not None and fields["owner_id"] != deal.owner_id:
        fields["owner_id"] = _check_owner(session, actor, fields["owner_id"], problems)
    _invalid(problems)

    if not partial:  # PUT: defaults for what was left out
        if fields.get("currency") is None:
            pipeline = session.get(Pipeline, target.pipeline_id if target else deal.pipeline_id)
            fields["currency"] = pipeline.currency if pipeline else deal.currency
        if fields.get("probability") is None:
            current = target or session.get(Stage, deal.stage_id)
            fields["probability"] = current.probability if current is not None else deal.probability
    changed: list[str] = []
    if cf_values is not None or not partial:  # custom values first: writing them flushes the session
        if custom_fields.write_values(session, actor, ENTITY, deal.id, cf_values or {}, partial=partial):
            changed.append("custom_fields")
    with session.no_autoflush:  # one UPDATE (one version step) for the whole change
        probability = fields.pop("probability", None)
        before = {name: getattr(deal, name) for name in fields}
        for name, value in fields.items():
            setattr(deal, name, value)
        changed += [name for name in fields if before[name] != getattr(deal, name)]
        previous_probability = deal.probability
        if target is not None:
            _move(session, actor, deal, target, lost_reason=lost_reason)
        elif lost_reason and lost_reason != deal.lost_reason:
            changed.append("lost_reason")
            deal.lost_reason = lost_reason
        if probability is not None:
            if probability != previous_probability:
                changed.append("probability")
            deal.probability = probability
        if changed == ["custom_fields"]:
            deal.updated_at = _now()  # the deal's version moves with its custom fields
    if changed:
        emit(
            session,
            actor,
            "deal.updated",
            entity_type=ENTITY,
            entity_id=deal.id,
            payload={"fields": [_camel(name) for name in changed]},
        )
    session.flush()
    return deal


def update(session: Session, actor: Actor, deal_id: UUID, data: DealPatch | DealBulkChanges) -> Deal:
    """PATCH: change only the fields given. A `stageId` (or another `pipelineId`) moves the deal as
    `move_stage` does; `customFields` changes only the custom fields named."""
    actor.require("deals", "update")
    deal = _visible(session, actor, deal_id)
    check_version(deal, getattr(data, "version", None))
    return _apply(session, actor, deal, data.model_dump(exclude_unset=True, exclude={"version"}), partial=True)


def replace(session: Session, actor: Actor, deal_id: UUID, data: DealReplace) -> Deal:
    """PUT: every editable field from `data`; what it leaves out is cleared or reset to its default
    (currency: the pipeline's; probability: the stage's; custom fields: none). Owner, pipeline and stage stay
    unless given."""
    actor.require("deals", "update")
    deal = _visible(session, actor, deal_id)
    check_version(deal, data.version)
    fields = data.model_dump(exclude={"version"})
    for keep in ("owner_id", "pipeline_id", "stage_id"):
        if fields[keep] is None:
            del fields[keep]
    return _apply(session, actor, deal, fields, partial=False)


def delete(session: Session, actor: Actor, deal_id: UUID, *, version: int | None = None) -> None:
    """Soft delete: the deal disappears from lists and reads; its history and custom values stay."""
    actor.require("deals", "delete")
    deal = _visible(session, actor, deal_id)
    check_version(deal, version)
    deal.deleted_at = _now()
    emit(session, actor, "deal.deleted", entity_type=ENTITY, entity_id=deal.id, payload={"name": deal.name})
    session.flush()


# Stage history -----------------------------------------------------------------------------------------


def stage_history(session: Session, actor: Actor, deal_id: UUID) -> list[StageHistoryRead]:
    """Every stage the deal has been in, oldest first, with stage names, who moved it and the time spent
    in each stage (the current one: until now)."""
    deal = get(session, actor, deal_id)
    from_stage, to_stage = aliased(Stage), aliased(Stage)
    rows = session.execute(
        select(
            DealStageHistory,
            from_stage.name.label("from_name"),
            to_stage.name.label("to_name"),
            User.first_name,
            User.last_name,
        )
        .outerjoin(from_stage, from_stage.id == DealStageHistory.from_stage_id)
        .join(to_stage, to_stage.id == DealStageHistory.to_stage_id)
        .outerjoin(User, User.id == DealStageHistory.changed_by)
        .where(DealStageHistory.tenant_id == actor.tenant_id, DealStageHistory.deal_id == deal.id)
        .order_by(DealStageHistory.changed_at, DealStageHistory.id)
    ).all()
    now = _now()
    history = []
    for i, row in enumerate(rows):
        entry: DealStageHistory = row[0]
        until = rows[i + 1][0].changed_at if i + 1 < len(rows) else now
        seconds = max(int((until - entry.changed_at).total_seconds()), 0)
        history.append(
            StageHistoryRead(
                id=entry.id,
                from_stage_id=entry.from_stage_id,
                from_stage_name=row.from_name,
                to_stage_id=entry.to_stage_id,
                to_stage_name=row.to_name,
                changed_at=entry.changed_at,
                changed_by=entry.changed_by,
                changed_by_name=f"{row.first_name} {row.last_name}" if row.first_name else None,
                amount=entry.amount,
                probability=entry.probability,
                seconds_in_stage=seconds,
                days_in_stage=seconds // 86400,
                is_current=i + 1 == len(rows),
            )
        )
    return history


# Bulk --------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Create each deal on its own: a bad item is reported (index, error) and never aborts the good ones.
    Returns `{created, failed, results[{index, success, id | error}]}`."""
    actor.require("deals", "create")
    bulk.check_size(items, field="deals")
    outcome = bulk.run_each(session, items, lambda item: create(session, actor, DealCreate.model_validate(item)).id)
    return outcome.summary("created")


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], changes: DealBulkChanges) -> dict[str, Any]:
    """The same partial update on each deal; a deal that is not visible fails alone with NOT_FOUND.
    Returns `{updated, failed, results[...]}`."""
    actor.require("deals", "update")
    bulk.check_size(ids, field="ids")
    outcome = bulk.run_each(session, ids, lambda deal_id: update(session, actor, deal_id, changes).id, key=lambda i: i)
    return outcome.summary("updated")


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> dict[str, Any]:
    """Soft-delete each deal on its own. Returns `{deleted, failed, results[...]}`."""
    actor.require("deals", "delete")
    bulk.check_size(ids, field="ids")

    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id)).summary("deleted")
