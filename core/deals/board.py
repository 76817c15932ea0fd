"""The pipeline board: per-stage totals and the top cards of each open stage, in a fixed number of queries.

A board must stay quick with thousands of open deals, so it never loads them all: one grouped query gives
every open stage's count, amount, weighted amount and rotting count over ALL the matching deals, and one
windowed query gives at most `cards_per_stage` cards per stage, with account and owner names resolved in SQL.
The table view (`board_rows`) is one query too, capped. Everything starts from `actor.readable(Deal)`, so the
actor's record scope (own/team/all) applies; account names come only from accounts the actor may read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Integer, Select, String, func, literal, select
from sqlalchemy.orm import Session

from core.accounts.models import Account
from core.actor import Actor
from core.contacts.models import Contact
from core.deals.models import Deal
from core.deals.service import rotting_condition
from core.errors import NotFound, ValidationFailed
from core.pipelines import service as pipelines
from core.pipelines.models import Pipeline, Stage
from core.users.models import User

CardOrder = Literal["amount", "age", "score"]
MAX_CARDS_PER_STAGE = 200
MAX_TABLE_ROWS = 10_000
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BoardFilters:
    """What narrows a board: owners, owners' teams, expected close date range, amount range (all optional,
    combined with AND; a deal without an amount or close date drops out once its range is set)."""

    owner_ids: tuple[UUID, ...] = ()
    team_ids: tuple[UUID, ...] = ()
    close_from: date | None = None
    close_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    min_score: int | None = None  # the lead score of the deal's contact (deals without a scored contact drop out)

    def problems(self) -> list[dict[str, Any]]:
        found = []
        if self.close_from and self.close_to and self.close_from > self.close_to:
            found.append({"field": "closeDate", "message": "the range ends before it starts"})
        if self.amount_min is not None and self.amount_min < 0:
            found.append({"field": "amountMin", "message": "must not be negative"})
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            found.append({"field": "amount", "message": "the minimum is above the maximum"})
        if self.min_score is not None and not 0 <= self.min_score <= 100:
            found.append({"field": "minScore", "message": "must be between 0 and 100"})
        return found


@dataclass(frozen=True)
class BoardCard:
    id: UUID
    name: str
    stage_id: UUID
    stage_name: str
    account_id: UUID | None
    account_name: str | None
    amount: Decimal | None
    currency: str
    probability: int
    weighted_amount: Decimal | None
    owner_id: UUID
    owner_name: str
    expected_close_date: date | None
    days_in_stage: int
    is_rotting: bool
    version: int
    lead_score: int | None = None  # of the deal's contact (None: no contact, not readable, or no scores:read)


@dataclass
class StageColumn:
    stage_id: UUID
    name: str
    position: int
    probability: int
    rotting_days: int | None
    count: int = 0
    amount: Decimal = _ZERO
    weighted_amount: Decimal = _ZERO
    rotting: int = 0
    currencies: tuple[str, ...] = ()
    cards: list[BoardCard] = field(default_factory=list)

    @property
    def more(self) -> int:
        """How many matching deals of the stage are not among its cards."""
        return max(self.count - len(self.cards), 0)


@dataclass
class Board:
    pipeline_id: UUID
    pipeline_name: str
    currency: str
    columns: list[StageColumn]
    has_won_stage: bool
    has_lost_stage: bool

    @property
    def count(self) -> int:
        return sum(c.count for c in self.columns)

    @property
    def amount(self) -> Decimal:
        return sum((c.amount for c in self.columns), _ZERO)

    @property
    def weighted_amount(self) -> Decimal:
        return sum((c.weighted_amount for c in self.columns), _ZERO)

    @property
    def foreign_currencies(self) -> list[str]:
        """Currencies other than the pipeline's among the matching deals: their amounts are summed as they
        are (no conversion), which the board should say."""
        return sorted({code for c in self.columns for code in c.currencies} - {self.currency})


def _pipeline(session: Session, actor: Actor, pipeline_id: UUID | None) -> Pipeline:
    found = (
        pipelines.live_pipeline(session, actor, pipeline_id)
        if pipeline_id is not None
        else pipelines.default_pipeline(session, actor)
    )
    if found is None:
        raise NotFound("Pipeline not found")
    return found


def _lead_score(actor: Actor) -> Any:
    """The lead score of the deal's contact, read only from contacts the actor may read (None without
    `scores:read`): a correlated subquery, so no join changes the board's row counts."""
    if not actor.can("scores", "read"):
        return literal(None, Integer)
    return (
        actor.readable(Contact)
        .with_only_columns(Contact.lead_score)
        .where(Contact.id == Deal.contact_id)
        .limit(1)
        .scalar_subquery()
    )


def _matching(actor: Actor, pipeline_id: UUID, filters: BoardFilters) -> Select[Any]:
    """The open deals of the pipeline that the actor may read and the filters keep."""
    problems = filters.problems()
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise ValidationFailed(f"Invalid board filters: check {names}", details=problems)
    if filters.min_score is not None:
        actor.require("scores", "read")
    statement = actor.readable(Deal).where(Deal.pipeline_id == pipeline_id, Deal.is_closed.is_(False))
    if filters.owner_ids:
        statement = statement.where(Deal.owner_id.in_(filters.owner_ids))
    if filters.team_ids:
        members = select(User.id).where(User.tenant_id == actor.tenant_id, User.team_id.in_(filters.team_ids))
        statement = statement.where(Deal.owner_id.in_(members))
    if filters.close_from is not None:
        statement = statement.where(Deal.expected_close_date >= filters.close_from)
    if filters.close_to is not None:
        statement = statement.where(Deal.expected_close_date <= filters.close_to)
    if filters.amount_min is not None:
        statement = statement.where(Deal.amount >= filters.amount_min)
    if filters.amount_max is not None:
        statement = statement.where(Deal.amount <= filters.amount_max)
    if filters.min_score is not None:
        statement = statement.where(_lead_score(actor) >= filters.min_score)
    return statement


def _weighted() -> Any:
    return func.round(Deal.amount * Deal.probability / 100, 2)


def _cards(session: Session, actor: Actor, inner: Any, stage_names: dict[UUID, str]) -> list[BoardCard]:
    """Cards from a subquery of deal columns: owner and (readable) account names joined, derived fields."""
    statement = (
        select(
            inner,
            (User.first_name + " " + User.last_name).label("owner_name"),
            Stage.rotting_days,
        )
        .join(User, User.id == inner.c.owner_id)
        .join(Stage, Stage.id == inner.c.stage_id)
    )
    if actor.can("accounts", "read"):
        accounts = actor.readable(Account).with_only_columns(Account.id, Account.name).subquery()
        statement = statement.add_columns(accounts.c.name.label("account_name")).outerjoin(
            accounts, accounts.c.id == inner.c.account_id
        )
    else:
        statement = statement.add_columns(literal(None, String(255)).label("account_name"))
    statement = statement.order_by(Stage.display_order, inner.c.rank)
    now = datetime.now(UTC)
    cards = []
    for row in session.execute(statement):
        days = max((now - row.stage_entered_at).days, 0)
        cards.append(
            BoardCard(
                id=row.id,
                name=row.name,
                stage_id=row.stage_id,
                stage_name=stage_names.get(row.stage_id, ""),
                account_id=row.account_id if row.account_name is not None else None,
                account_name=row.account_name,
                amount=row.amount,
                currency=row.currency,
                probability=row.probability,
                weighted_amount=row.weighted,
                owner_id=row.owner_id,
                owner_name=row.owner_name,
                expected_close_date=row.expected_close_date,
                days_in_stage=days,
                is_rotting=row.rotting_days is not None and days > row.rotting_days,
                version=row.version,
                lead_score=row.lead_score,
            )
        )
    return cards


def _card_columns(actor: Actor, order: CardOrder) -> tuple[Any, ...]:
    score = _lead_score(actor)
    by = {
        "amount": (Deal.amount.desc().nulls_last(), Deal.stage_entered_at, Deal.id),
        "age": (Deal.stage_entered_at, Deal.amount.desc().nulls_last(), Deal.id),
        "score": (score.desc().nulls_last(), Deal.amount.desc().nulls_last(), Deal.id),
    }[order]
    if order == "score":
        actor.require("scores", "read")
    return (
        Deal.id,
        Deal.name,
        Deal.stage_id,
        Deal.account_id,
        Deal.amount,
        Deal.currency,
        Deal.probability,
        _weighted().label("weighted"),
        Deal.owner_id,
        Deal.expected_close_date,
        Deal.stage_entered_at,
        Deal.version,
        score.label("lead_score"),
        func.row_number().over(partition_by=Deal.stage_id, order_by=by).label("rank"),
    )


def pipeline_board(
    session: Session,
    actor: Actor,
    pipeline_id: UUID | None = None,
    filters: BoardFilters | None = None,
    *,
    cards_per_stage: int = 25,
    order: CardOrder = "amount",
) -> Board:
    """The board of a pipeline (the default one when None): one column per open stage, in order, with totals
    over every matching open deal and its first `cards_per_stage` cards (largest amount first, or longest
    in stage first with `order="age"`, hottest contact first with `order="score"`). Three queries whatever the
    number of deals."""
    actor.require("deals", "read")
    filters = filters or BoardFilters()
    cards_per_stage = max(0, min(cards_per_stage, MAX_CARDS_PER_STAGE))
    pipeline = _pipeline(session, actor, pipeline_id)
    stages = pipelines.stages_by_pipeline(session, actor, [pipeline.id]).get(pipeline.id, [])
    open_stages = [s for s in stages if not s.is_closed_stage]
    columns = {s.id: StageColumn(s.id, s.name, s.display_order, s.probability, s.rotting_days) for s in open_stages}
    matching = _matching(actor, pipeline.id, filters)
    totals = (
        matching.join(Stage, Stage.id == Deal.stage_id)
        .with_only_columns(
            Deal.stage_id,
            func.count(),
            func.coalesce(func.sum(Deal.amount), 0),
            func.coalesce(func.sum(_weighted()), 0),
            func.count().filter(rotting_condition()),
            func.array_agg(func.distinct(Deal.currency)),
        )
        .group_by(Deal.stage_id)
    )
    for stage_id, count, amount, weighted, rotting, currencies in session.execute(totals):
        column = columns.get(stage_id)
        if column is not None:
            column.count, column.rotting, column.currencies = count, rotting, tuple(currencies)
            column.amount, column.weighted_amount = Decimal(amount), Decimal(weighted)
    if cards_per_stage and columns:
        inner = matching.with_only_columns(*_card_columns(actor, order)).subquery()
        limited = select(inner).where(inner.c.rank <= cards_per_stage).subquery()
        names = {s.id: s.name for s in open_stages}
        for card in _cards(session, actor, limited, names):
            if card.stage_id in columns:
                columns[card.stage_id].cards.append(card)
    return Board(
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        currency=pipeline.currency,
        columns=list(columns.values()),
        has_won_stage=any(s.is_closed_stage and s.is_won_stage for s in stages),
        has_lost_stage=any(s.is_closed_stage and not s.is_won_stage for s in stages),
    )


def board_rows(
    session: Session,
    actor: Actor,
    pipeline_id: UUID | None = None,
    filters: BoardFilters | None = None,
    *,
    limit: int = 5_000,
    order: CardOrder = "amount",
) -> list[BoardCard]:
    """The matching open deals of a pipeline as table rows (stage order, then as the board orders cards),
    at most `limit` of them: the table view of the board."""
    actor.require("deals", "read")
    filters = filters or BoardFilters()
    limit = max(1, min(limit, MAX_TABLE_ROWS))
    pipeline = _pipeline(session, actor, pipeline_id)
    stages = pipelines.stages_by_pipeline(session, actor, [pipeline.id]).get(pipeline.id, [])
    names = {s.id: s.name for s in stages if not s.is_closed_stage}
    inner = _matching(actor, pipeline.id, filters).with_only_columns(*_card_columns(actor, order)).subquery()
    ordered = (
        select(inner)
        .join(Stage, Stage.id == inner.c.stage_id)
        .order_by(Stage.display_order, inner.c.rank)
        .limit(limit)
        .subquery()
    )
    return _cards(session, actor, ordered, names)
