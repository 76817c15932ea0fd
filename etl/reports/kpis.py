"""Managers' headline figures for a period, each with its value in the period just before, for the dashboard's
tiles: open and weighted pipeline (as they stood at the end of the period, from the daily pipeline snapshot),
won amount, win rate, average won deal and sales cycle length (deals closed in the period, by close date).

Every figure is a report spec run through `etl.reports.service.run_spec`, so it is computed exactly as the
standard reports are (same builder, same record scope, same team and owner overrides): the won amount of a
period equals the revenue-by-month report over the same close dates, the open pipeline at today equals the
pipeline-by-stage report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.orm import Session

from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.schemas import ReportOverrides
from core.analytics.spec import today_in, zone
from core.errors import ValidationFailed
from etl.reports import service as reports

KpiKind = Literal["money", "rate", "days", "count"]
CLOSE_DATE = "actual_close_date"

_CLOSED_BY_STATUS: dict[str, Any] = {
    "entity": "deals",
    "filters": [{"field": "is_closed", "value": True}],
    "groupBy": [{"field": "status"}],
    "aggregations": [
        {"fn": "count", "name": "deals"},
        {"fn": "sum", "field": "amount", "name": "amount"},
        {"fn": "count", "field": "cycle_days", "name": "timed"},
        {"fn": "sum", "field": "cycle_days", "name": "cycle_days"},
    ],
}


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    kind: KpiKind
    value: Decimal | float | int | None
    previous: Decimal | float | int | None
    help: str

    @property
    def change(self) -> Decimal | float | int | None:
        """Value minus previous (None when either is unknown)."""
        if self.value is None or self.previous is None:
            return None
        if isinstance(self.value, Decimal) or isinstance(self.previous, Decimal):
            return Decimal(str(self.value)) - Decimal(str(self.previous))
        return self.value - self.previous


@dataclass(frozen=True)
class KpiSet:
    start: date
    end: date
    previous_start: date
    previous_end: date
    pipeline_as_of: date  # the snapshot day the pipeline figures are read at (the period's end, or the last load)
    previous_pipeline_as_of: date
    tiles: list[Kpi]
    scope: list[str]  # the record scope in words ("Records of your team only"), empty for scope all

    def get(self, key: str) -> Kpi:
        return next(k for k in self.tiles if k.key == key)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same number of days that ends the day before `start`."""
    if end < start:
        raise ValidationFailed(
            "The period ends before it starts", details=[{"field": "dateTo", "message": "must be on or after dateFrom"}]
        )
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def _overrides(
    date_field: str | None,
    start: date | None,
    end: date | None,
    team_id: UUID | None,
    owner_ids: list[UUID] | None,
) -> ReportOverrides:
    return ReportOverrides(
        date_from=start,
        date_to=end,
        date_field=date_field if start or end else None,
        team_id=team_id,
        owner_ids=owner_ids or None,
    )


def _closed(
    session: Session, actor: Actor, start: date, end: date, team_id: UUID | None, owner_ids: list[UUID] | None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    run = reports.run_spec(session, actor, _CLOSED_BY_STATUS, _overrides(CLOSE_DATE, start, end, team_id, owner_ids))
    return {row["status"]: row for row in run.result.frame.iter_rows(named=True)}, run.scope


def _closed_figures(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    won, lost = rows.get("won", {}), rows.get("lost", {})
    won_n, lost_n = int(won.get("deals") or 0), int(lost.get("deals") or 0)
    won_amount = Decimal(won.get("amount") or 0)
    timed = int(won.get("timed") or 0)
    return {
        "won_amount": won_amount,
        "win_rate": (won_n / (won_n + lost_n)) if won_n + lost_n else None,
        "average_deal": (won_amount / won_n).quantize(Decimal("0.01")) if won_n else None,
        "cycle_days": (int(won.get("cycle_days") or 0) / timed) if timed else None,
        "won_deals": won_n,
    }


def _pipeline(
    session: Session,
    actor: Actor,
    days: list[date],
    team_id: UUID | None,
    owner_ids: list[UUID] | None,
) -> dict[date, tuple[Decimal, Decimal, int]]:
    spec = {
        "entity": "pipeline_snapshot",
        "filters": [{"field": "snapshot_date", "op": "in", "value": [d.isoformat() for d in days]}],
        "groupBy": [{"field": "snapshot_date"}],
        "aggregations": [
            {"fn": "sum", "field": "amount", "name": "amount"},
            {"fn": "sum", "field": "weighted_amount", "name": "weighted"},
            {"fn": "count", "name": "deals"},
        ],
    }
    run = reports.run_spec(session, actor, spec, _overrides(None, None, None, team_id, owner_ids))
    return {
        row["snapshot_date"]: (Decimal(row["amount"] or 0), Decimal(row["weighted"] or 0), int(row["deals"]))
        for row in run.result.frame.iter_rows(named=True)
    }


def period_kpis(
    session: Session,
    actor: Actor,
    *,
    start: date,
    end: date,
    team_id: UUID | None = None,
    owner_ids: list[UUID] | None = None,
    last_load: datetime | None = None,
) -> KpiSet:
    """The dashboard's figures for the period `start`..`end` (both included) and for the period of the same
    length just before it, within the actor's record scope, narrowed to a team and owners like any report run.

    Pipeline figures are the open deals at the end of each period as the daily snapshot recorded them; a
    period that ends after the last load (`last_load`, the warehouse's `built_at`) is read at that load's
    day (in the tenant's timezone). `reports:read` is needed."""
    actor.require(reports.REPORTS, "read")
    previous_start, previous_end = previous_period(start, end)
    tz = analytics.tenant_timezone(session, actor)
    today = today_in(tz)
    newest = min(today, last_load.astimezone(zone(tz)).date()) if last_load else today
    as_of, previous_as_of = min(end, newest), min(previous_end, newest)
    rows, scope = _closed(session, actor, start, end, team_id, owner_ids)
    current = _closed_figures(rows)
    before = _closed_figures(_closed(session, actor, previous_start, previous_end, team_id, owner_ids)[0])
    snapshot = _pipeline(session, actor, sorted({as_of, previous_as_of}), team_id, owner_ids)
    zero = (Decimal(0), Decimal(0), 0)
    now_open, then_open = snapshot.get(as_of, zero), snapshot.get(previous_as_of, zero)
    closed_help = f"Deals closed from {start} to {end} (by close date), against {previous_start} to {previous_end}"
    open_help = f"Open deals at the end of {as_of}, against {previous_as_of}"
    weighted_help = f"{open_help}, weighted by probability"
    tiles = [
        Kpi("open_pipeline", "Open pipeline", "money", now_open[0], then_open[0], f"{open_help} ({now_open[2]} deals)"),
        Kpi("weighted_pipeline", "Weighted pipeline", "money", now_open[1], then_open[1], weighted_help),
        Kpi("won", "Won this period", "money", current["won_amount"], before["won_amount"], closed_help),
        Kpi("win_rate", "Win rate", "rate", current["win_rate"], before["win_rate"], f"Won of closed. {closed_help}"),
        Kpi(
            "average_deal",
            "Average deal size",
            "money",
            current["average_deal"],
            before["average_deal"],
            f"Average won amount. {closed_help}",
        ),
        Kpi(
            "cycle_days",
            "Sales cycle",
            "days",
            current["cycle_days"],
            before["cycle_days"],
            f"Average days from creation to win. {closed_help}",
        ),
    ]
    return KpiSet(start, end, previous_start, previous_end, as_of, previous_as_of, tiles, scope)
