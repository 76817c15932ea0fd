"""Page helpers of the analytics pages (dashboards, report builder): the warehouse's state and its empty state,
report runs cached per tenant, viewer, spec and warehouse version, the dashboard filters, KPI tiles, a report's
chart (with a point to drill into), its table, and export buttons.

Runs are cached with `st.cache_data` keyed by the warehouse's current version (a new load shows new numbers at
once) and by who looks (their record scope changes the numbers); writes clear the cache through `attempt`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import altair as alt
import polars as pl
import streamlit as st

from app.ui import widgets as ui
from app.ui.calls import changed, load, problem_text
from core.actor import Actor
from core.analytics.schemas import ReportOverrides
from core.analytics.spec import resolve_period
from core.db import unit_of_work
from core.errors import DomainError
from core.users import service as users
from etl import warehouse
from etl.reports import charts, drill, kpis
from etl.reports import service as reports

log = logging.getLogger("clientforge.ui")
TTL = 600

# The date each standard report is narrowed by on a dashboard: closed deals by their close date (so the won
# amount of a period is the same in every chart and tile), stage changes and activities by when they happened.
# None: a picture of now (open deals), not narrowed by dates.
DASHBOARD_DATE_FIELDS: dict[str, str | None] = {
    "pipeline_by_stage": None,
    "funnel_conversion": "actual_close_date",
    "win_rate_by_rep": "actual_close_date",
    "win_rate_by_team": "actual_close_date",
    "win_rate_by_lead_source": "actual_close_date",
    "win_rate_by_industry": "actual_close_date",
    "average_deal_size": "actual_close_date",
    "sales_cycle_length": "actual_close_date",
    "time_in_stage": "changed_date",
    "activities_per_rep": "occurred_date",
    "activities_by_outcome": "actual_close_date",
    "lost_reasons": "actual_close_date",
    "revenue_by_month": "actual_close_date",
    "stale_deals": None,
}
DATE_WORDS = {
    None: "as of the last load (not narrowed by dates)",
    "actual_close_date": "deals closed in the period",
    "changed_date": "stage changes in the period",
    "occurred_date": "activities in the period",
    "created_date": "records created in the period",
}

PERIODS: dict[str, str] = {
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "last_365_days": "Last 365 days",
    "mtd": "Month to date",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "last_month": "Last month",
    "last_quarter": "Last quarter",
    "last_year": "Last year",
    "custom": "Custom dates",
}
DEFAULT_PERIOD = "last_90_days"


# The warehouse -----------------------------------------------------------------------------------------------


def version(actor: Actor) -> int | None:
    """The tenant warehouse's current version (None: never loaded)."""
    current = warehouse.current(actor.tenant_id)
    return current.version if current else None


def may_load(actor: Actor) -> bool:
    """Who may load the warehouse now (as `POST /warehouse/runs`)."""
    return actor.can("warehouse", "read") or actor.can("settings", "manage")


def load_now(actor: Actor) -> None:
    """Load the tenant's warehouse in this process (a full build the first time)."""
    from etl import pipeline

    if not may_load(actor):
        st.error("Your role cannot load the warehouse.", icon=":material/block:")
        return
    with st.spinner("Loading the warehouse..."):
        try:
            pipeline.run(actor.tenant_id, full=warehouse.current(actor.tenant_id) is None, trigger="manual")
        except Exception:  # a failed load leaves the warehouse as it was; say so, log the cause
            log.exception("warehouse load from the UI failed (tenant %s)", actor.tenant_id)
            st.error("The load failed; the warehouse is unchanged. Try again in a minute.", icon=":material/error:")
            return
    changed()
    st.rerun()


def warehouse_state(actor: Actor, *, key: str) -> warehouse.Current | None:
    """Say when the warehouse was last loaded; when it never was, show the empty state (with "Load now" for
    users who may) and return None."""
    current = warehouse.current(actor.tenant_id)
    if current is None:
        ui.empty(
            "The analytics warehouse of this workspace has not been loaded yet. Its first load runs within a few "
            "minutes (the worker loads it every 5 minutes and after changes); the reports appear then.",
            icon=":material/hourglass_top:",
        )
        if may_load(actor) and st.button("Load now", key=f"{key}_load_now", icon=":material/sync:", type="primary"):
            load_now(actor)
        return None
    minutes = int((datetime.now(UTC) - current.built_at).total_seconds() // 60)
    ago = "just now" if minutes < 1 else (f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(
            f"Warehouse loaded {ago} ({current.built_at:%Y-%m-%d %H:%M} UTC, version {current.version}); "
            "it reloads every 5 minutes and after changes."
        )
        if may_load(actor) and st.button("Reload", key=f"{key}_reload", icon=":material/sync:", type="tertiary"):
            load_now(actor)
    return current


# Cached runs -------------------------------------------------------------------------------------------------


def _viewer(actor: Actor) -> str:
    """What of the actor changes a report's numbers: who they are, their role and record scope."""
    return f"{actor.tenant_id}:{actor.user_id or actor.api_key_id}:{actor.role}:{actor.scope}:{actor.team_id}"


def overrides_json(overrides: ReportOverrides | None) -> str:
    return overrides.model_dump_json(exclude_none=True) if overrides is not None else "{}"


def _overrides(text: str) -> ReportOverrides | None:
    data = json.loads(text)
    return ReportOverrides.model_validate(data) if data else None


def _execute(actor: Actor, what: str, ref: str, overrides: str, extra: str) -> Any:
    with unit_of_work(actor) as session:
        given = _overrides(overrides)
        if what == "standard":
            return reports.run_standard(session, actor, ref, given)
        if what == "saved":
            return reports.run_saved(session, actor, UUID(ref), given)
        if what == "spec":
            return reports.run_ad_hoc(session, actor, json.loads(ref), given)
        if what == "widget":
            dashboard_id, widget_id = ref.split(":")
            return reports.run_widget(session, actor, UUID(dashboard_id), UUID(widget_id), given)
        if what == "drill_standard":
            return drill.drill_standard(session, actor, ref, json.loads(extra), given)
        if what == "drill_saved":
            return drill.drill_saved(session, actor, UUID(ref), json.loads(extra), given)
        if what == "kpis":
            args = json.loads(extra)
            return kpis.period_kpis(
                session,
                actor,
                start=date.fromisoformat(args["start"]),
                end=date.fromisoformat(args["end"]),
                team_id=given.team_id if given else None,
                owner_ids=given.owner_ids if given else None,
                last_load=datetime.fromisoformat(args["lastLoad"]) if args.get("lastLoad") else None,
            )
        raise ValueError(what)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=500)
def _cached(
    what: str, ref: str, overrides: str, extra: str, viewer: str, warehouse_version: int | None, _actor: Actor
) -> Any:
    return _execute(_actor, what, ref, overrides, extra)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=100)
def _cached_file(
    what: str,
    ref: str,
    overrides: str,
    extra: str,
    file_format: str,
    viewer: str,
    warehouse_version: int | None,
    _actor: Actor,
) -> reports.ReportFile:
    _actor.require(reports.REPORTS, "export")
    run = _cached(what, ref, overrides, extra, viewer, warehouse_version, _actor)
    return reports.to_file(run, file_format)


@dataclass(frozen=True)
class Query:
    """A report run the page shows: what (standard key, saved id, spec JSON, widget, drill), its overrides."""

    what: str
    ref: str
    overrides: ReportOverrides | None = None
    extra: Any = None

    def args(self) -> tuple[str, str, str, str]:
        return self.what, self.ref, overrides_json(self.overrides), json.dumps(self.extra, default=str, sort_keys=True)


def run(actor: Actor, query: Query, *, where: Any = None, stop: bool = False) -> Any:
    """The query's result (a `ReportRun`, or a `KpiSet`) from the cache or the warehouse; on a domain error the
    message is shown (in `where`) and None returned, or the page stops (`stop`)."""
    try:
        return _cached(*query.args(), _viewer(actor), version(actor), actor)
    except DomainError as exc:
        (where or st).error(problem_text(exc), icon=":material/error:")
        if stop:
            st.stop()
        return None


# Filters -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: a period (first and last day), a team and reps."""

    start: date
    end: date
    label: str
    team_id: UUID | None = None
    owner_ids: tuple[UUID, ...] = field(default_factory=tuple)

    def overrides(self, date_field: str | None = None, *, dated: bool = True) -> ReportOverrides | None:
        """The filters as a run's overrides; `dated=False` leaves the period out (reports of now)."""
        values: dict[str, Any] = {"team_id": self.team_id, "owner_ids": list(self.owner_ids) or None}
        if dated:
            values |= {"date_from": self.start, "date_to": self.end, "date_field": date_field}
        result = ReportOverrides.model_validate(values)
        return None if result.is_empty() else result

    def for_standard(self, key: str) -> ReportOverrides | None:
        date_field = DASHBOARD_DATE_FIELDS.get(key, "created_date")
        return self.overrides(date_field, dated=date_field is not None)


def _people(actor: Actor) -> tuple[list[tuple[str, str]], list[tuple[str, str, str | None]]]:
    def read(session: Any, a: Actor) -> Any:
        teams = [(str(t.id), t.name) for t in users.list_teams(session, a)]
        people, _ = users.list_users(session, a, limit=1000, include_inactive=False)
        return teams, [
            (str(u.id), f"{u.first_name} {u.last_name}", str(u.team_id) if u.team_id else None) for u in people
        ]

    return load(actor, read)


def dashboard_filters(actor: Actor, today: date, *, key: str = "dash") -> Filters:
    """The period, team and rep pickers in one row; a manager (team scope) picks within their team."""
    teams, people = _people(actor)
    if actor.scope == "team" and actor.team_id is not None:
        teams = [t for t in teams if t[0] == str(actor.team_id)]
    elif actor.scope == "own":
        teams, people = [], [p for p in people if p[0] == str(actor.user_id)]
    cols = st.columns([2, 2, 2, 3])
    period = cols[0].selectbox(
        "Period", list(PERIODS), index=list(PERIODS).index(DEFAULT_PERIOD), format_func=PERIODS.get, key=f"{key}_period"
    )
    if period == "custom":
        picked = cols[1].date_input(
            "Dates", value=(resolve_period("last_90_days", today)), max_value=today, key=f"{key}_dates"
        )
        start, end = (picked[0], picked[-1]) if isinstance(picked, tuple | list) and picked else (today, today)
        label = f"{start} to {end}"
    else:
        start, end = resolve_period(period, today)
        cols[1].text_input("Dates", f"{start} to {end}", disabled=True, key=f"{key}_dates_shown")
        label = PERIODS[period]
    team_names = dict(teams)
    team = cols[2].selectbox(
        "Team",
        [None, *team_names],
        format_func=lambda t: "All teams" if t is None else team_names[t],
        key=f"{key}_team",
        disabled=not teams,
    )
    pool = [p for p in people if team is None or p[2] == team]
    names = {p[0]: p[1] for p in pool}
    reps = cols[3].multiselect("Reps", list(names), format_func=names.get, key=f"{key}_reps", placeholder="Everyone")
    return Filters(start, end, label, UUID(team) if team else None, tuple(UUID(r) for r in reps))


# KPI tiles ---------------------------------------------------------------------------------------------------


def kpi_text(kind: str, value: Decimal | float | int | None) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return ui.money(value)
    if kind == "rate":
        return f"{float(value):.1%}"
    if kind == "days":
        return f"{float(value):,.0f} days"
    return f"{value:,}"


def kpi_change(kind: str, change: Decimal | float | int | None) -> str | None:
    if change is None:
        return None
    if kind == "rate":
        return f"{float(change) * 100:+.1f} pts"
    if kind == "days":
        return f"{float(change):+,.0f} days"
    if kind == "money":
        sign = "-" if change < 0 else "+"
        return f"{sign}{ui.money(abs(change))}"
    return f"{change:+,}"


def kpi_tiles(result: kpis.KpiSet) -> None:
    st.caption(
        f"{result.start} to {result.end}, change against {result.previous_start} to {result.previous_end}"
        + (f" · {'; '.join(result.scope)}" if result.scope else "")
    )
    # Rows of at most three: six tiles in one row clip their labels ("Weighted pip…") on a laptop screen.
    per_row = 3 if len(result.tiles) > 4 else max(1, len(result.tiles))
    cols = [col for start in range(0, len(result.tiles), per_row) for col in st.columns(per_row)]
    for col, tile in zip(cols, result.tiles, strict=False):
        unchanged = tile.change is not None and tile.change == 0  # no green "up" arrow for "+$0"
        col.metric(
            tile.label,
            kpi_text(tile.kind, tile.value),
            delta="no change" if unchanged else kpi_change(tile.kind, tile.change),
            delta_color="off" if unchanged else "inverse" if tile.key == "cycle_days" else "normal",
            delta_arrow="off" if unchanged else "auto",
            help=tile.help,
            border=True,
        )


# A report on the page ----------------------------------------------------------------------------------------

SELECTION = "pick"


def _selectable(figure: Any, x: str) -> Any:
    """The chart with a point selection on its x field (None when this chart does not take one)."""
    try:
        return figure.add_params(alt.selection_point(name=SELECTION, fields=[x]))
    except Exception:  # layered or composite charts that refuse a parameter: no clicking, the chooser remains
        return None


def chart(result: reports.ReportRun, *, key: str, selectable: bool = False) -> Any:
    """Draw the report's chart (nothing for a table report); with `selectable`, the x value clicked (or None)."""
    spec = result.result.spec.chart
    figure = charts.chart(result.result, height=300)
    if figure is None:
        return None
    picked = None
    if selectable and spec.x and spec.type in ("bar", "line", "pie"):
        clickable = _selectable(figure, spec.x)
        if clickable is not None:
            event = st.altair_chart(clickable, key=key, on_select="rerun", selection_mode=SELECTION, width="stretch")
            points = ((event or {}).get("selection") or {}).get(SELECTION) or []
            if points and isinstance(points[0], dict):
                picked = points[0].get(spec.x)
            return picked
    st.altair_chart(figure, key=key, width="stretch")
    return None


def column_config(result: reports.ReportRun, *, links: bool = False) -> dict[str, Any]:
    """Labels and formats of a result's columns; with `links`, record ids become links to their detail page."""
    config: dict[str, Any] = {}
    for column in result.result.columns:
        if links and column.name in drill.LINKS:
            config[column.name] = st.column_config.LinkColumn(
                " ", display_text="Open", width="small", help=f"Open the {drill.LINKS[column.name]}"
            )
        elif column.type == "money":
            config[column.name] = st.column_config.NumberColumn(column.label, format="localized")
        elif column.type == "rate":
            config[column.name] = st.column_config.NumberColumn(column.label, format="percent")
        elif column.type == "date":
            config[column.name] = st.column_config.DateColumn(column.label, format="YYYY-MM-DD")
        elif column.type == "timestamp":
            config[column.name] = st.column_config.DatetimeColumn(column.label, format="YYYY-MM-DD HH:mm")
        elif column.type == "number":
            config[column.name] = st.column_config.NumberColumn(column.label, format="localized")
        else:
            config[column.name] = st.column_config.Column(column.label)
    return config


def table_frame(result: reports.ReportRun, *, links: bool = False) -> pl.DataFrame:
    frame = result.result.frame
    if links:
        for name, kind in drill.LINKS.items():
            if name in frame.columns:
                frame = frame.with_columns(
                    pl.col(name).map_elements(
                        lambda v, k=kind: ui.detail_url(k, v) if v else None, return_dtype=pl.String
                    )
                )
    money = [c.name for c in result.result.columns if c.type in ("money", "number") and c.name in frame.columns]
    return frame.with_columns([pl.col(name).cast(pl.Float64) for name in money])


def table(result: reports.ReportRun, *, key: str, links: bool = False) -> None:
    if result.result.frame.is_empty():
        ui.empty("No rows match these filters.")
        return
    st.dataframe(
        table_frame(result, links=links),
        column_config=column_config(result, links=links),
        hide_index=True,
        key=key,
    )
    if result.result.truncated:
        st.caption(f"The first {result.result.spec.limit:,} rows; more matched.")


def describe(result: reports.ReportRun) -> None:
    """The report's filters in words (overrides and record scope included)."""
    if result.filters:
        st.caption("Filters: " + "; ".join(result.filters))


def points(result: reports.ReportRun) -> list[dict[str, Any]]:
    """The result's rows as drill points (their group values), in the report's order."""
    spec = result.result.spec
    if spec.is_listing:
        return []
    names = [g.output() for g in spec.group_by]
    return [{n: row[n] for n in names} for row in result.result.frame.select(names).iter_rows(named=True)]


def point_label(result: reports.ReportRun, point: dict[str, Any]) -> str:
    return drill.describe_point(result.result.spec, point)


def drill_chooser(result: reports.ReportRun, clicked: Any, *, key: str) -> dict[str, Any] | None:
    """A chooser beside the chart of the bar to drill into; a click on the chart picks the same."""
    options = points(result)
    if not options:
        return None
    x = result.result.spec.chart.x
    labels = [point_label(result, p) for p in options]
    if clicked is not None and x:
        if isinstance(clicked, int | float) and not isinstance(clicked, bool):
            kinds = {c.name: c.type for c in result.result.columns}
            if kinds.get(x) in ("date", "timestamp"):  # Vega-Lite reports a time as epoch milliseconds
                clicked = datetime.fromtimestamp(clicked / 1000, UTC).date().isoformat()
        for label, row in zip(labels, result.result.frame.iter_rows(named=True), strict=True):
            value = charts.json_value(row.get(x))
            if value == clicked or str(value)[:10] == str(clicked)[:10]:
                st.session_state[key] = label
                break
    choice = st.selectbox(
        "Show the records behind", [None, *labels], format_func=lambda v: v or "(choose a bar)", key=key
    )
    return None if choice is None else options[labels.index(choice)]


EXPORTS = (("csv", ":material/csv:"), ("xlsx", ":material/table_view:"), ("pdf", ":material/picture_as_pdf:"))


def export_buttons(actor: Actor, query: Query, result: reports.ReportRun, *, key: str) -> None:
    """CSV, XLSX and PDF of the report as shown (same filters), for roles that may export."""
    if not actor.can(reports.REPORTS, "export"):
        return
    with st.container(horizontal=True):
        for fmt, icon in (
            ("csv", ":material/csv:"),
            ("xlsx", ":material/table_view:"),
            ("pdf", ":material/picture_as_pdf:"),
        ):
            try:
                file = _cached_file(*query.args(), fmt, _viewer(actor), version(actor), actor)
            except DomainError as exc:
                st.error(problem_text(exc), icon=":material/error:")
                return
            st.download_button(
                fmt.upper(),
                data=file.content,
                file_name=file.filename,
                mime=file.media_type,
                key=f"{key}_{fmt}",
                icon=icon,
                on_click="ignore",
            )


def report_block(
    actor: Actor,
    query: Query,
    *,
    key: str,
    drill_query: Callable[[dict[str, Any]], Query] | None = None,
    show_table: bool = True,
) -> reports.ReportRun | None:
    """A report as the pages show it: description and filters, chart (clicking a bar drills), the chooser and
    the records behind the chosen bar, the table and the export buttons."""
    result = run(actor, query)
    if result is None:
        return None
    if result.description:
        st.caption(result.description)
    describe(result)
    if result.result.frame.is_empty():
        ui.empty("No rows match these filters.")
        return result
    clicked = chart(result, key=f"{key}_chart", selectable=drill_query is not None)
    if drill_query is not None:
        point = drill_chooser(result, clicked, key=f"{key}_drill")
        if point is not None:
            behind = run(actor, drill_query(point))
            if behind is not None:
                st.markdown(f"**{behind.name}** · {behind.result.frame.height:,} records")
                table(behind, key=f"{key}_drill_table", links=True)
    if show_table:
        with st.expander("Table", expanded=result.result.spec.chart.type == "table"):
            table(result, key=f"{key}_table", links=result.result.spec.is_listing)
    export_buttons(actor, query, result, key=f"{key}_export")
    return result
