"""Dashboards: the KPI tiles and the standard reports from the warehouse under one set of filters (period, team,
reps), a chart's bar drilled into the deals behind it, exports; and the saved dashboards (open, create, add and
remove widgets)."""

from typing import Any
from uuid import UUID

import streamlit as st

from app.ui import analytics as view
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.analytics import service as analytics
from core.analytics.schemas import DashboardCreate, WidgetCreate
from core.tenants import calendar
from etl.reports import service as reports
from etl.reports import standard

actor = ui.page("dashboards.py", "Pipeline, wins and activity from the analytics warehouse.")
current = view.warehouse_state(actor, key="dash")
if current is None:
    st.stop()

today = load(actor, calendar.today)
filters = view.dashboard_filters(actor, today)
figures = view.run(
    actor,
    view.Query(
        "kpis",
        "",
        filters.overrides(dated=False),
        {"start": filters.start, "end": filters.end, "lastLoad": current.built_at.isoformat()},
    ),
)
if figures is not None:
    view.kpi_tiles(figures)

STANDARD = {key: report.name for key, report in standard.STANDARD_REPORTS.items()}
HEADLINES = ("pipeline_by_stage", "revenue_by_month", "win_rate_by_rep", "lost_reasons")


def _boards(session: Any, a: Any) -> list[dict[str, Any]]:
    items, _ = analytics.list_dashboards(session, a, limit=100)
    return [
        {"id": str(d.id), "name": d.name, "public": d.is_public, "default": d.is_default, "owner": d.created_by}
        for d in items
    ]


def _saved_reports(session: Any, a: Any) -> dict[str, str]:
    items, _ = reports.list_reports(session, a, kind="saved", limit=200)
    return {str(r["id"]): r["name"] for r in items}


boards = load(actor, _boards) if actor.can("dashboards", "read") else []
names = {b["id"]: b["name"] + ("" if b["public"] else " (private)") for b in boards}
if "dash_board_next" in st.session_state:  # a dashboard just created opens (set before its chooser exists)
    st.session_state["dash_board"] = st.session_state.pop("dash_board_next")
top = st.columns([4, 1], vertical_alignment="bottom")
board_id = top[0].selectbox(
    "Dashboard",
    [None, *names],
    format_func=lambda b: "Standard reports" if b is None else names[b],
    key="dash_board",
)

if actor.can("dashboards", "create"):
    with top[1].popover("New dashboard", icon=":material/add:", width="stretch"):
        box = st.container()
        with st.form("dash_new", clear_on_submit=False):
            new_name = st.text_input("Name", key="dash_new_name")
            new_description = st.text_area("Description", key="dash_new_description")
            new_reports = st.multiselect(
                "Standard reports on it", list(STANDARD), format_func=STANDARD.get, key="dash_new_reports"
            )
            new_public = st.checkbox("Everyone in the workspace may see it", key="dash_new_public")
            if st.form_submit_button("Create dashboard", type="primary"):
                made = attempt(
                    actor,
                    lambda s, a: (
                        analytics.create_dashboard(
                            s,
                            a,
                            DashboardCreate(
                                name=new_name,
                                description=new_description or None,
                                is_public=new_public,
                                widgets=[
                                    WidgetCreate(widget_type="chart", title=STANDARD[k], config={"standardKey": k})
                                    for k in new_reports
                                ],
                            ),
                        )[0].id
                    ),
                    done=f"Dashboard {new_name} created",
                    where=box,
                    clear=("dash_new_name", "dash_new_description", "dash_new_reports", "dash_new_public"),
                )
                if made is not None:
                    st.session_state["dash_board_next"] = str(made)
                    st.rerun()

if board_id is None:
    grid = st.columns(2)
    for i, key in enumerate(HEADLINES):
        with grid[i % 2], st.container(border=True):
            st.markdown(f"**{STANDARD[key]}**")
            result = view.run(actor, view.Query("standard", key, filters.for_standard(key)))
            if result is None:
                continue
            if result.result.frame.is_empty():
                ui.empty("No rows match these filters.")
            else:
                view.chart(result, key=f"dash_head_{key}")

    st.subheader("Explore a report")
    key = st.selectbox("Report", list(STANDARD), format_func=STANDARD.get, key="dash_report")
    st.caption(f"{STANDARD[key]}: {view.DATE_WORDS[view.DASHBOARD_DATE_FIELDS.get(key)]}.")
    overrides = filters.for_standard(key)
    view.report_block(
        actor,
        view.Query("standard", key, overrides),
        key=f"dash_std_{key}",
        drill_query=lambda point: view.Query("drill_standard", key, overrides, point),
    )
else:
    board = next(b for b in boards if b["id"] == board_id)
    editable = actor.can("dashboards", "update") and (analytics.is_admin(actor) or board["owner"] == actor.user_id)
    widgets = load(
        actor,
        lambda s, a: [
            {
                "id": str(w.id),
                "title": w.title,
                "report_id": str(w.report_id) if w.report_id else None,
                "standard": (w.config or {}).get("standardKey"),
            }
            for w in analytics.list_widgets(s, a, UUID(board_id))
        ],
    )
    if not widgets:
        ui.empty("This dashboard has no widgets yet." + (" Add one below." if editable else ""))
    grid = st.columns(2)
    for i, widget in enumerate(widgets):
        overrides = filters.for_standard(widget["standard"]) if widget["standard"] else filters.overrides(None)
        with grid[i % 2], st.container(border=True):
            head = st.columns([5, 1], vertical_alignment="center")
            head[0].markdown(f"**{widget['title'] or STANDARD.get(widget['standard'] or '', 'Report')}**")
            if editable and head[1].button(
                "", key=f"dash_remove_{widget['id']}", icon=":material/delete:", help="Remove from the dashboard"
            ):
                removed = attempt(
                    actor,
                    lambda s, a, w=widget: analytics.remove_widget(s, a, UUID(board_id), UUID(w["id"])) or True,
                    done="Widget removed",
                )
                if removed:
                    st.rerun()
            query = view.Query("widget", f"{board_id}:{widget['id']}", overrides)
            result = view.run(actor, query)
            if result is None:
                continue
            view.describe(result)
            if result.result.frame.is_empty():
                ui.empty("No rows match these filters.")
            elif view.chart(result, key=f"dash_w_{widget['id']}") is None and result.result.spec.chart.type == "table":
                view.table(result, key=f"dash_wt_{widget['id']}", links=result.result.spec.is_listing)
            with st.popover("Export", icon=":material/download:"):
                view.export_buttons(actor, query, result, key=f"dash_wx_{widget['id']}")

    if editable:
        with st.expander("Add a widget", icon=":material/add_chart:"):
            saved = load(actor, _saved_reports)
            choices = {f"standard:{k}": name for k, name in STANDARD.items()} | {
                f"saved:{rid}": f"{name} (saved)" for rid, name in saved.items()
            }
            box = st.container()
            with st.form("dash_add_widget", clear_on_submit=False):
                source = st.selectbox("Report", list(choices), format_func=choices.get, key="dash_add_source")
                title = st.text_input("Title (optional)", key="dash_add_title")
                if st.form_submit_button("Add widget", type="primary"):
                    kind, ref = source.split(":", 1)
                    attempt(
                        actor,
                        lambda s, a: analytics.add_widget(
                            s,
                            a,
                            UUID(board_id),
                            WidgetCreate(
                                widget_type="chart",
                                title=title or choices[source].removesuffix(" (saved)"),
                                report_id=UUID(ref) if kind == "saved" else None,
                                config={"standardKey": ref} if kind == "standard" else None,
                            ),
                        ),
                        done="Widget added",
                        where=box,
                        clear=("dash_add_title",),
                        rerun=True,
                    )
