"""Revenue forecasts as people read them, quotas as managers set them, and the run that recomputes forecasts.

Who sees what (`forecasts:read`): record scope applies as for deals. A role scoped to `all` (admin, analyst,
read-only) sees every forecast and quota; `team` (manager) sees their team's and its reps'; `own` (rep) sees
only their own rep forecasts and quotas. What one may not see answers 404, as if it did not exist.
Quotas and runs take `forecasts:manage`, within the same scope (a manager sets their team's and its reps'
quotas). The forecasts themselves are computed by ai/forecasting (the job `forecasts.revenue`); this module
only reads them. Services never commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.deals.models import Deal
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.events.service import emit
from core.forecasts.models import DEAL_CATEGORIES, ForecastBreakdown, Quota, SalesForecast
from core.forecasts.periods import PERIOD_MONTHS, Period, period_of
from core.forecasts.schemas import DealCategoryUpdate, ForecastRunRequest, QuotaCreate, QuotaUpdate
from core.ids import new_id
from core.jobs import service as jobs
from core.jobs.models import Job
from core.pipelines.models import Stage
from core.tenants import calendar
from core.tenants.models import Tenant
from core.users.models import Team, User
from core.versioning import check_version

FORECASTS = "forecasts"
RUN_JOB = "forecasts.revenue"  # handled by ai/forecasting/tasks.py
DEFAULT_CURRENCY = "USD"


def _field_error(field: str, message: str, text: str | None = None) -> ValidationFailed:
    return ValidationFailed(text or f"Invalid {field}: {message}", details=[{"field": field, "message": message}])


def _count(session: Session, statement: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


# The workspace's forecasting settings -------------------------------------------------------------------------


def _tenant(session: Session, actor: Actor) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.id == actor.tenant_id))
    if tenant is None:  # pragma: no cover - an actor's own tenant is always visible
        raise NotFound("Workspace not found")
    return tenant


def tenant_currency(session: Session, actor: Actor) -> str:
    """The workspace currency (settings `currency`, USD by default): forecasts and quotas are in it."""
    return str((_tenant(session, actor).settings or {}).get("currency") or DEFAULT_CURRENCY)


def fiscal_start_month(session: Session, actor: Actor) -> int:
    """The month the fiscal year starts in (1 = January): quarters and years follow it."""
    return int((_tenant(session, actor).settings or {}).get("fiscal_year_start_month") or 1)


# Scope ---------------------------------------------------------------------------------------------------------


def _team_members(actor: Actor) -> Select[Any]:
    return select(User.id).where(User.tenant_id == actor.tenant_id, User.team_id == actor.team_id)


def _subject_scope(actor: Actor, level_column: Any, user_column: Any, team_column: Any) -> Any:
    """The condition a forecast (level, user, team) or a quota (user, team) must meet to be seen by `actor`."""
    if actor.scope == "all":
        return None
    own = user_column == actor.user_id if actor.user_id is not None else false()
    if actor.scope == "team" and actor.team_id is not None:
        team_rows = team_column == actor.team_id
        if level_column is not None:
            team_rows = and_(level_column == "team", team_rows)
        return or_(team_rows, user_column.in_(_team_members(actor)), own)
    return own


def _readable_forecasts(actor: Actor) -> Select[Any]:
    actor.require(FORECASTS, "read")
    statement = select(SalesForecast).where(SalesForecast.tenant_id == actor.tenant_id)
    condition = _subject_scope(actor, SalesForecast.level, SalesForecast.user_id, SalesForecast.team_id)
    if condition is not None:
        statement = statement.where(SalesForecast.level != "company", condition)
    return statement


def _readable_quotas(actor: Actor) -> Select[Any]:
    actor.require(FORECASTS, "read")
    statement = select(Quota).where(Quota.tenant_id == actor.tenant_id)
    condition = _subject_scope(actor, None, Quota.user_id, Quota.team_id)
    return statement if condition is None else statement.where(condition)


def _require_manage_subject(session: Session, actor: Actor, *, user_id: UUID | None, team_id: UUID | None) -> None:
    """A quota's rep or team must exist in the workspace and be within the actor's scope to be managed."""
    actor.require(FORECASTS, "manage")
    if user_id is not None:
        user = session.scalar(
            select(User).where(User.tenant_id == actor.tenant_id, User.id == user_id, User.deleted_at.is_(None))
        )
        if user is None:
            raise _field_error("userId", "no such user in this workspace")
        allowed = (
            actor.scope == "all"
            or (actor.scope == "team" and actor.team_id is not None and user.team_id == actor.team_id)
            or user.id == actor.user_id
        )
    else:
        team = session.scalar(
            select(Team).where(Team.tenant_id == actor.tenant_id, Team.id == team_id, Team.deleted_at.is_(None))
        )
        if team is None:
            raise _field_error("teamId", "no such team in this workspace")
        allowed = actor.scope == "all" or (actor.scope == "team" and team.id == actor.team_id)
    if not allowed:
        raise PermissionDenied(
            "You may set quotas only for your own team and its reps",
            details={"required": "record scope of this rep or team", "role": actor.role},
        )


# Quotas --------------------------------------------------------------------------------------------------------


def _check_period_start(session: Session, actor: Actor, kind: str, start: date) -> Period:
    fiscal = fiscal_start_month(session, actor)
    period = period_of(kind, start, fiscal)
    if period.start != start:
        what = {"month": "a month", "quarter": "a fiscal quarter", "year": "a fiscal year"}[kind]
        raise _field_error(
            "periodStart",
            f"must be the first day of {what} (e.g. {period.start.isoformat()})",
            f"Invalid periodStart: {start.isoformat()} is not the first day of {what}; "
            f"the {kind} containing it starts on {period.start.isoformat()}",
        )
    return period


def _check_currency(session: Session, actor: Actor, currency: str | None) -> str:
    workspace = tenant_currency(session, actor)
    if currency is not None and currency != workspace:
        raise _field_error(
            "currency",
            f"quotas are in the workspace currency ({workspace})",
            f"Invalid currency: {currency}; quotas and forecasts are in the workspace currency {workspace}",
        )
    return workspace


def create_quota(session: Session, actor: Actor, data: QuotaCreate) -> Quota:
    """A rep's or team's quota for one period (one per rep or team and period: 409 for a second)."""
    _require_manage_subject(session, actor, user_id=data.user_id, team_id=data.team_id)
    period = _check_period_start(session, actor, data.period, data.period_start)
    currency = _check_currency(session, actor, data.currency)
    subject = Quota.user_id == data.user_id if data.user_id is not None else Quota.team_id == data.team_id
    existing = session.scalar(
        select(Quota.id).where(
            Quota.tenant_id == actor.tenant_id,
            subject,
            Quota.period == data.period,
            Quota.period_start_date == period.start,
        )
    )
    if existing is not None:
        raise Conflict(
            f"A quota for this {'rep' if data.user_id else 'team'} and {data.period} exists already; change it instead",
            details={"quotaId": str(existing)},
        )
    quota = Quota(
        id=new_id(),
        tenant_id=actor.tenant_id,
        user_id=data.user_id,
        team_id=data.team_id,
        period=data.period,
        period_start_date=period.start,
        period_end_date=period.end,
        amount=data.amount,
        currency=currency,
        created_by=actor.user_id,
    )
    session.add(quota)
    session.flush()
    return quota


def get_quota(session: Session, actor: Actor, quota_id: UUID) -> Quota:
    quota = session.scalar(_readable_quotas(actor).where(Quota.id == quota_id))
    if quota is None:
        raise NotFound("Quota not found")
    return quota


def list_quotas(
    session: Session,
    actor: Actor,
    *,
    user_id: UUID | None = None,
    team_id: UUID | None = None,
    period: str | None = None,
    start_from: date | None = None,
    start_to: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Quota], int]:
    """The quotas the actor may see, newest period first, then team quotas before reps'."""
    statement = _readable_quotas(actor)
    if user_id is not None:
        statement = statement.where(Quota.user_id == user_id)
    if team_id is not None:
        statement = statement.where(Quota.team_id == team_id)
    if period is not None:
        statement = statement.where(Quota.period == period)
    if start_from is not None:
        statement = statement.where(Quota.period_start_date >= start_from)
    if start_to is not None:
        statement = statement.where(Quota.period_start_date <= start_to)
    total = _count(session, statement)
    rows = session.scalars(
        statement.order_by(Quota.period_start_date.desc(), Quota.period, Quota.user_id.nulls_first(), Quota.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def update_quota(session: Session, actor: Actor, quota_id: UUID, data: QuotaUpdate) -> Quota:
    quota = get_quota(session, actor, quota_id)
    _require_manage_subject(session, actor, user_id=quota.user_id, team_id=quota.team_id)
    check_version(quota, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("amount", "currency"):
        if key in changes and changes[key] is None:
            raise _field_error(key, "must not be null")
    if "currency" in changes:
        _check_currency(session, actor, changes["currency"])
    if "amount" in changes:
        quota.amount = changes["amount"]
    session.flush()
    return quota


def delete_quota(session: Session, actor: Actor, quota_id: UUID) -> None:
    quota = get_quota(session, actor, quota_id)
    _require_manage_subject(session, actor, user_id=quota.user_id, team_id=quota.team_id)
    session.delete(quota)
    session.flush()


def quota_amount(
    session: Session,
    actor: Actor,
    *,
    level: str,
    user_id: UUID | None,
    team_id: UUID | None,
    period: str,
    period_start: date,
) -> Decimal | None:
    """The quota of a rep or team for a period; for the company, the sum of its teams' quotas (None: none set).
    (Not scoped: the caller has already shown the actor may see the forecast it stands beside.)"""
    base = select(func.sum(Quota.amount)).where(
        Quota.tenant_id == actor.tenant_id, Quota.period == period, Quota.period_start_date == period_start
    )
    if level == "rep":
        statement = base.where(Quota.user_id == user_id)
    elif level == "team":
        statement = base.where(Quota.team_id == team_id)
    else:
        statement = base.where(Quota.team_id.is_not(None))
    value = session.scalar(statement)
    return None if value is None else Decimal(value)


def attainment(session: Session, actor: Actor, forecast: SalesForecast) -> dict[str, Any]:
    """Quota, attainment so far (booked / quota), forecast attainment and the gap to quota beside a forecast."""
    quota = quota_amount(
        session,
        actor,
        level=forecast.level,
        user_id=forecast.user_id,
        team_id=forecast.team_id,
        period=forecast.forecast_period,
        period_start=forecast.period_start_date,
    )
    booked = Decimal(forecast.actual_revenue if forecast.actual_revenue is not None else forecast.booked_revenue)
    predicted = Decimal(forecast.forecasted_revenue)
    positive = quota is not None and quota > 0
    return {
        "quota": quota,
        "booked": booked,
        "forecast": predicted,
        "attainment": round(float(booked / quota), 4) if positive and quota else None,
        "forecastAttainment": round(float(predicted / quota), 4) if positive and quota else None,
        "gap": None if quota is None else quota - predicted,
    }


# Stored forecasts ----------------------------------------------------------------------------------------------


def _one_per_period(statement: Select[Any], *, first: bool) -> Select[Any]:
    """Of each (kind, level, team, rep, period), the forecast made on the latest day (or the earliest)."""
    day = SalesForecast.forecast_date.asc() if first else SalesForecast.forecast_date.desc()
    ranked = statement.add_columns(
        func.row_number()
        .over(
            partition_by=(
                SalesForecast.kind,
                SalesForecast.level,
                SalesForecast.team_id,
                SalesForecast.user_id,
                SalesForecast.forecast_period,
                SalesForecast.period_start_date,
            ),
            order_by=(day, SalesForecast.generated_at.desc()),
        )
        .label("rank")
    ).subquery()
    return select(SalesForecast).join(ranked, and_(ranked.c.id == SalesForecast.id, ranked.c.rank == 1))


def list_forecasts(
    session: Session,
    actor: Actor,
    *,
    level: str | None = None,
    period: str | None = None,
    team_id: UUID | None = None,
    user_id: UUID | None = None,
    kind: str = "live",
    period_start: date | None = None,
    pick: str = "latest",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SalesForecast], int]:
    """Stored forecasts the actor may see, the newest period first. `pick`: `latest`, the latest forecast of each
    level, subject and period; `first`, the earliest (made as the period began: what forecast-vs-actual tracking
    compares); `all`, one per day each was made. `team_id` keeps the team's forecast and its reps'."""
    statement = _readable_forecasts(actor).where(SalesForecast.kind == kind)
    if level is not None:
        statement = statement.where(SalesForecast.level == level)
    if period is not None:
        statement = statement.where(SalesForecast.forecast_period == period)
    if team_id is not None:
        statement = statement.where(SalesForecast.team_id == team_id)
    if user_id is not None:
        statement = statement.where(SalesForecast.user_id == user_id)
    if period_start is not None:
        statement = statement.where(SalesForecast.period_start_date == period_start)
    if pick not in ("latest", "first", "all"):
        raise _field_error("pick", "one of latest, first, all")
    if pick != "all":
        statement = _one_per_period(statement, first=pick == "first")
    total = _count(session, statement)
    level_order = case({"company": 0, "team": 1, "rep": 2}, value=SalesForecast.level, else_=3)
    period_order = case({"month": 0, "quarter": 1, "year": 2}, value=SalesForecast.forecast_period, else_=3)
    rows = session.scalars(
        statement.order_by(
            SalesForecast.period_start_date.desc(),
            period_order,
            level_order,
            SalesForecast.team_id,
            SalesForecast.user_id,
            SalesForecast.forecast_date.desc(),
            SalesForecast.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def get_forecast(session: Session, actor: Actor, forecast_id: UUID) -> SalesForecast:
    forecast = session.scalar(_readable_forecasts(actor).where(SalesForecast.id == forecast_id))
    if forecast is None:
        raise NotFound("Forecast not found")
    return forecast


def breakdown(session: Session, actor: Actor, forecast: SalesForecast) -> list[dict[str, Any]]:
    """Each deal's part in a forecast (the caller got the forecast through `get_forecast`), largest first, with
    the deal's name, owner and stage. Deals the actor may not read keep their figures but not their name."""
    rows = session.execute(
        select(ForecastBreakdown, Deal.name, Deal.owner_id, Stage.name.label("stage_name"))
        .outerjoin(Deal, and_(Deal.id == ForecastBreakdown.deal_id, Deal.tenant_id == actor.tenant_id))
        .outerjoin(Stage, Stage.id == ForecastBreakdown.stage_id)
        .where(ForecastBreakdown.tenant_id == actor.tenant_id, ForecastBreakdown.forecast_id == forecast.id)
        .order_by(ForecastBreakdown.forecasted_amount.desc().nulls_last(), ForecastBreakdown.id)
    ).all()
    ids = [row[0].deal_id for row in rows if row[0].deal_id is not None]
    readable = set(
        session.scalars(actor.readable(Deal).with_only_columns(Deal.id).where(Deal.id.in_(ids))).all() if ids else ()
    )
    out = []
    for item, name, owner_id, stage_name in rows:
        may_read = item.deal_id in readable
        out.append(
            {
                "deal_id": item.deal_id,
                "deal_name": name if may_read else None,
                "owner_id": owner_id,
                "stage_id": item.stage_id,
                "stage_name": stage_name,
                "amount": item.amount,
                "expected_close_date": item.expected_close_date,
                "forecasted_amount": item.forecasted_amount,
                "confidence_percentage": item.confidence_percentage,
                "category": item.category,
                "category_source": item.category_source,
                "age_days": item.age_days,
            }
        )
    return out


def backtest_history(session: Session, actor: Actor, forecast: SalesForecast) -> list[SalesForecast]:
    """The back-test behind a forecast: for each past period of its kind, what the method said at the period's
    start against what happened, oldest first."""
    statement = _readable_forecasts(actor).where(
        SalesForecast.kind == "backtest",
        SalesForecast.level == forecast.level,
        SalesForecast.forecast_period == forecast.forecast_period,
        SalesForecast.period_start_date < forecast.period_start_date,
    )
    statement = statement.where(
        SalesForecast.user_id == forecast.user_id if forecast.user_id is not None else SalesForecast.user_id.is_(None)
    )
    if forecast.level == "team":
        statement = statement.where(SalesForecast.team_id == forecast.team_id)
    return list(session.scalars(statement.order_by(SalesForecast.period_start_date)).all())


def queue_run(session: Session, actor: Actor, data: ForecastRunRequest | None = None) -> Job:
    """Queue a recomputation of the workspace's forecasts (`forecasts:manage`); follow it at /jobs/{id}.
    Asking again with the same request while it is queued returns the same job."""
    actor.require(FORECASTS, "manage")
    data = data or ForecastRunRequest()
    today = calendar.today(session, actor)
    if data.as_of is not None and data.as_of > today:
        raise _field_error("asOf", f"must not be after today ({today.isoformat()}): a forecast is made as of a day")
    params: dict[str, Any] = {"trigger": "api"}
    if data.as_of is not None:
        params["as_of"] = data.as_of.isoformat()
    if data.levels:
        params["levels"] = sorted(set(data.levels), key=["company", "team", "rep"].index)
    if data.periods:
        params["periods"] = sorted(set(data.periods), key=list(PERIOD_MONTHS).index)
    if data.backtest_periods is not None:
        params["backtest_periods"] = data.backtest_periods
    key = "|".join(f"{k}={params[k]}" for k in sorted(params))
    minute = int(datetime.now(UTC).timestamp()) // 60
    return jobs.enqueue(session, actor, RUN_JOB, params, dedupe_key=f"{RUN_JOB}:api:{minute}:{key}"[:200])


# Deals' forecast categories ------------------------------------------------------------------------------------


def set_deal_category(session: Session, actor: Actor, deal_id: UUID, data: DealCategoryUpdate) -> Deal:
    """Set (or clear, with None) an open deal's forecast category: commit, best_case, pipeline or omitted. Its
    owner does (or whoever may update the deal in their scope); cleared, it is derived from the learned
    probability again."""
    deal = session.scalar(actor.readable(Deal, "deals").where(Deal.id == deal_id))
    if deal is None:
        raise NotFound("Deal not found")
    actor.require("deals", "update")
    if data.category is not None and data.category not in DEAL_CATEGORIES:  # pragma: no cover - schema checks
        raise _field_error("category", f"one of {', '.join(DEAL_CATEGORIES)}")
    if deal.is_closed:
        raise _field_error("category", "a closed deal has no forecast category")
    if deal.forecast_category != data.category:
        deal.forecast_category = data.category
        emit(
            session,
            actor,
            "deal.updated",
            entity_type="deals",
            entity_id=deal.id,
            payload={"fields": ["forecastCategory"]},
        )
    session.flush()
    return deal


def owner_categories(session: Session, actor: Actor) -> dict[str, str]:
    """deal id (text) -> the category its owner set, for the open deals the actor may read (the forecasting job
    reads them as the system: every deal)."""
    rows = session.execute(
        actor.readable(Deal, "deals")
        .with_only_columns(Deal.id, Deal.forecast_category)
        .where(Deal.forecast_category.is_not(None), Deal.is_closed.is_(False))
    ).all()
    return {str(deal_id): str(category) for deal_id, category in rows}
