"""Forecast: revenue forecast of the company, a team or a rep for the current month, quarter or year, with its
80/95% bands over past periods' actuals, how far to trust it (its back-test on this workspace's history), the
commit / best case / pipeline totals, the deals driving it, the reps against quota, forecast vs actual of past
periods, CSV/XLSX export, and a button to compute it again now (a worker job, with progress)."""

from typing import Any
from uuid import UUID

import streamlit as st

from app.ui import admin
from app.ui import forecast as view
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from app.ui.pages import by_file
from core.forecasts import service as forecasts
from core.forecasts.schemas import ForecastRunRequest
from core.jobs import service as jobs

actor = ui.page("forecast.py", "Revenue forecasts from booked deals, the learned pipeline and the run-rate.")
RUNNING = "fc_job"
may_run = actor.can("forecasts", "manage")


def follow(job_id: str) -> None:
    """The run's progress (this part reruns by itself); the whole page starts again when it ends."""
    job = load(actor, jobs.get, UUID(job_id))
    if job.status in jobs.TERMINAL_STATUSES:
        st.session_state.pop(RUNNING, None)
        if job.status == "succeeded":
            st.toast(f"Forecasts computed: {job.message or 'done'}", icon=":material/check_circle:")
        else:
            st.session_state["fc_failed"] = job.error or job.status
        st.rerun()
    st.progress(job.progress / 100, text=f"Computing the forecasts: {job.message or job.status} ({job.progress}%)")


def run_controls(where: Any) -> None:
    if not may_run:
        return
    failed = st.session_state.pop("fc_failed", None)
    if failed:
        where.error(f"The forecast run failed: {failed}", icon=":material/error:")
    running = st.session_state.get(RUNNING)
    if running:
        with where:
            st.fragment(run_every=1.5)(follow)(running)
        return
    if where.button("Run the forecast now", key="fc_run", icon=":material/refresh:", type="secondary"):
        job = attempt(actor, lambda s, a: forecasts.queue_run(s, a, ForecastRunRequest()), where=where)
        if job is not None:
            st.session_state[RUNNING] = str(job.id)
            st.rerun()


top = st.columns([1.7, 1, 1.6, 1.6], vertical_alignment="bottom")
kind = (
    top[0].segmented_control(
        "Period", list(view.PERIODS), format_func=lambda k: view.PERIODS[k], default="quarter", key="fc_period"
    )
    or "quarter"
)
info = load(actor, view.overview, kind)
runner = st.container()

if info.period is None:
    ui.empty(
        "No forecast has been computed yet for this workspace. The worker computes them every night"
        + (" — or run it now." if may_run else "; ask a manager to run it now."),
        icon=":material/hourglass_top:",
    )
    run_controls(runner)
    st.stop()

levels = info.levels()
level = top[1].selectbox("Level", levels, format_func=lambda k: view.LEVELS[k], key="fc_level")
team_id: UUID | None = None
user_id: UUID | None = None
if level in ("team", "rep"):
    teams = info.teams()
    if level == "rep" and len(info.reps(None)) > 1 and len(teams) > 1:
        team_choice = top[2].selectbox(
            "Team", [None, *teams], format_func=lambda t: "All teams" if t is None else info.team_name(t), key="fc_team"
        )
    elif level == "team":
        team_choice = top[2].selectbox("Team", teams, format_func=info.team_name, key="fc_team_only")
    else:
        team_choice = None
    team_id = team_choice
    if level == "rep":
        reps = info.reps(team_id)
        if not reps:
            ui.empty("No rep forecast in this team for this period.")
            st.stop()
        names = {s.user_id: s.name for s in reps}
        user_id = top[3].selectbox("Rep", list(names), format_func=lambda u: names[u], key="fc_rep")
subject = info.find(level, team_id, user_id)
if subject is None:
    ui.empty("No forecast for this choice yet.")
    run_controls(runner)
    st.stop()

detail = load(actor, view.detail, subject.forecast_id)
f = detail.forecast
money = lambda v: ui.money(v, info.currency)  # noqa: E731
st.caption(
    f"{subject.name} · {view.PERIODS[kind].lower()} {detail.label} ({view.day(f.period_start_date)} to "
    f"{view.day(f.period_end_date)}) · forecast made as of {view.day(f.forecast_date)}, computed "
    f"{ui.local_time(actor, f.generated_at)} · {info.currency}"
)
run_controls(runner)

head = st.columns(4)
head[0].metric(
    "Forecast",
    money(f.forecasted_revenue),
    help="Booked + open deals × learned win probability + run-rate of deals not created yet",
    border=True,
)
head[1].metric("80% interval", f"{money(f.confidence_interval_low)} – {money(f.confidence_interval_high)}", border=True)
head[2].metric(
    "95% interval", f"{money(f.confidence_interval_low_95)} – {money(f.confidence_interval_high_95)}", border=True
)
reach = detail.attainment
head[3].metric(
    "Quota",
    money(reach["quota"]),
    delta=None if reach["gap"] is None else f"gap {money(reach['gap'])}",
    delta_color="inverse",
    delta_arrow="off",
    help="Gap: quota − forecast (negative: the forecast is above quota)",
    border=True,
)

st.altair_chart(view.chart(detail, info.currency), key="fc_chart", width="stretch")
st.caption(
    "Red: actual revenue of past periods. Blue: the forecast (past periods: what it said as each began), "
    "with its 80% (darker) and 95% bands."
)
view.accuracy_card(detail)

st.subheader("Commit, best case, pipeline")
totals = st.columns(5)
totals[0].metric("Booked", money(f.booked_revenue), help="Won in the period so far")
totals[1].metric("Commit", money(f.commit_amount), help="Booked + deals in commit")
totals[2].metric("Best case", money(f.best_case_amount), help="Commit + deals in best case")
totals[3].metric("Pipeline", money(f.pipeline_amount), help="Best case + deals in pipeline (unweighted)")
totals[4].metric(
    "Run-rate", money(f.run_rate_revenue), help="Expected from deals not created yet (the forecasting engine)"
)

st.subheader("Deals driving the forecast")
deals = view.deals_frame(detail)
if deals.is_empty():
    ui.empty("No deal is behind this forecast.")
else:
    st.dataframe(deals, column_config=view.DEAL_COLUMNS, hide_index=True, key="fc_deals")

st.subheader("Reps and quota" if level != "rep" else "Quota")
if not detail.reps:
    ui.empty("No rep forecast for this period.")
else:
    st.dataframe(detail.reps, column_config=view.REP_COLUMNS, hide_index=True, key="fc_reps")
    if all(r["quota"] is None for r in detail.reps):
        st.caption("No quota is set for this period" + (" (Admin → Quotas)." if may_run else "."))

st.subheader("Forecast vs actual")
if not detail.history:
    ui.empty("No past period to compare yet: the first ones appear once a back-test or a period has closed.")
else:
    st.dataframe(detail.history, column_config=view.HISTORY_COLUMNS, hide_index=True, key="fc_history")

if may_run and not by_file("admin.py").allows(actor):  # a manager: their team's quotas here (Admin is not theirs)
    with st.expander("Quotas of your team", icon=":material/flag:"):
        admin.quotas_tab(actor)

stem = view.file_stem(subject.name, detail.label)
with st.container(horizontal=True):
    st.download_button(
        "CSV",
        data=view.to_csv(detail),
        file_name=f"{stem}-deals.csv",
        mime="text/csv",
        icon=":material/csv:",
        on_click="ignore",
        key="fc_csv",
    )
    st.download_button(
        "XLSX",
        data=view.to_xlsx(detail, subject.name, info.currency),
        file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/table_view:",
        on_click="ignore",
        key="fc_xlsx",
    )
