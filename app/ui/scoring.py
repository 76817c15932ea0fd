"""Lead scoring in the workspace: the score panel of the Contact page, the hottest leads of My day, and the
Models page (champion, models, metrics, calibration, feature importance, drift, A/B test, points rules and
settings). Reads and writes go through core/scoring and ai/scoring with `load` / `attempt`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import altair as alt
import pandas as pd
import streamlit as st

from ai.models import registry
from ai.scoring import crm
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.actor import Actor
from core.audit import service as audit
from core.contacts.models import LIFECYCLE_STAGES
from core.jobs import service as jobs
from core.scoring import service as scoring
from core.scoring.fields import FIELDS, label
from core.scoring.schemas import ContactScore, RuleCreate, RuleUpdate, SettingsUpdate, TrainRequest

HOT = 70  # a score at or above: hot
WARM = 40  # at or above: warm; below: cold
MINUS = "−"
OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "contains": "contains",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "is_set": "is set",
    "is_not_set": "is not set",
}
RUNNING = "sm_job"  # (job id, what it does) of a training or rescoring run the Models page follows


# Pieces ------------------------------------------------------------------------------------------------------


def temperature(score: int | None) -> tuple[str, str]:
    """(word, badge colour) of a score: hot, warm or cold."""
    if score is None:
        return "not scored", "gray"
    if score >= HOT:
        return "hot", "red"
    if score >= WARM:
        return "warm", "orange"
    return "cold", "blue"


def badge(score: int | None) -> str:
    word, colour = temperature(score)
    return f":{colour}-badge[{'—' if score is None else score} · {word}]"


def signed(points: float) -> str:
    rounded = round(points) if abs(points) >= 1 else round(points, 1)
    text = f"{abs(rounded):g}"
    return f"+{text}" if rounded > 0 else f"{MINUS}{text}" if rounded < 0 else "±0"


def reason(factor: dict[str, Any] | Any) -> str:
    """A factor as a rep reads it: "Lead source is Webinar: +12"."""
    data = factor if isinstance(factor, dict) else factor.model_dump()
    return f"{data['text']}: {signed(float(data['points']))}"


def top_reason(factors: list[dict[str, Any]]) -> str | None:
    """The strongest reason that pushes the score up (else the strongest one)."""
    positive = [f for f in factors if float(f.get("points") or 0) > 0]
    chosen = positive[0] if positive else factors[0] if factors else None
    return reason(chosen) if chosen else None


def method_text(score: ContactScore) -> str:
    if score.current is None:
        return "Not scored yet"
    if score.method == "model":
        return f"Predictive model v{score.model_version} ({score.algorithm})"
    return "Points rules"


def percent(value: Decimal | float | None) -> str:
    return "—" if value is None else f"{float(value):.0%}"


# Contact page ------------------------------------------------------------------------------------------------


def score_panel(actor: Actor, contact_id: UUID, currency: str = "USD") -> None:
    """The contact's score: badge, method, predicted conversion and revenue, trend and signed reasons."""
    if not actor.can("scores", "read"):
        return
    found = load(actor, scoring.contact_score, contact_id)
    current = found.current
    with st.container(border=True):
        head = st.columns([2, 3, 2, 2], vertical_alignment="center")
        head[0].markdown(f"**Lead score** {badge(found.score)}")
        head[1].markdown(f"**Method:** {method_text(found)}")
        head[2].metric(
            "Conversion probability",
            percent(current.predicted_conversion_probability if current else None),
            help="The model's estimate that this lead converts (the points rules give none)",
        )
        head[3].metric(
            "Predicted revenue",
            ui.money(current.predicted_revenue if current else None, currency),
            help="Conversion probability × the average won deal of the last year",
        )
        if current is None:
            st.caption("No score has been computed for this lead yet (closed or idle leads are not scored).")
            return
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Why this score**")
            if current.factors:
                st.markdown("\n".join(f"- :{'green' if f.points > 0 else 'red'}[{reason(f)}]" for f in current.factors))
            else:
                st.caption("No single field stands out: the score is the lead's overall profile.")
        with right:
            st.markdown("**Trend**")
            history = pd.DataFrame(
                {"Scored": [h.scored_at for h in found.history], "Score": [h.score for h in found.history]}
            ).sort_values("Scored")
            if len(history) > 1:
                st.line_chart(history, x="Scored", y="Score", height=140, y_label="", x_label="")
            else:
                st.caption(f"One score so far, given {ui.when(current.scored_at)}.")
            st.caption(f"Last scored {ui.when(current.scored_at)}")


# My day ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotLead:
    id: UUID
    name: str
    company: str | None
    score: int
    reason: str | None


def hottest(session: Any, actor: Actor, *, limit: int = 10) -> list[HotLead]:
    """The actor's own open leads, highest score first, each with its top reason (read in one unit of work)."""
    return [
        HotLead(c.id, f"{c.first_name} {c.last_name}", c.company, c.lead_score, top_reason(factors))
        for c, factors in scoring.hottest_leads(session, actor, mine=True, limit=limit)
    ]


def hottest_section(actor: Actor, *, limit: int = 10) -> None:
    if not (actor.can("scores", "read") and actor.can("contacts", "read")):
        return
    st.subheader("Hottest leads")
    leads = load(actor, hottest, limit=limit)
    if not leads:
        ui.empty("No open lead of yours has a score yet.", icon=":material/local_fire_department:")
        return
    for lead in leads:
        parts = [badge(lead.score), lead.name]
        if lead.company:
            parts.append(lead.company)
        if lead.reason:
            parts.append(lead.reason)
        ui.detail_link("contact", lead.id, " · ".join(parts))


# Models page -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    id: UUID
    version: str
    algorithm: str
    is_active: bool
    trained_at: datetime | None
    created_at: datetime | None
    metrics: dict[str, Any]
    feature_importance: dict[str, float]

    @property
    def method(self) -> str:
        return "Points rules" if self.algorithm == scoring.RULES_ALGORITHM else f"Predictive model v{self.version}"


def models(session: Any, actor: Actor) -> list[ModelRow]:
    return [
        ModelRow(
            m.id,
            m.version,
            m.algorithm,
            bool(m.is_active),
            m.trained_at,
            m.created_at,
            dict(m.metrics or {}),
            {k: float(v) for k, v in (m.feature_importance or {}).items()},
        )
        for m in registry.list_models(session, actor, scoring.MODEL_TYPE)
    ]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def models_table(rows: list[ModelRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Version": [r.version for r in rows],
            "Algorithm": [r.algorithm for r in rows],
            "Trained": [r.trained_at for r in rows],
            "ROC AUC": [_number(r.metrics.get("roc_auc")) for r in rows],
            "Brier": [_number(r.metrics.get("brier")) for r in rows],
            "Baseline AUC": [_number(r.metrics.get("baseline_roc_auc")) for r in rows],
            "Active": [r.is_active for r in rows],
        }
    )


def calibration_chart(calibration: list[dict[str, Any]]) -> alt.LayerChart:
    """Predicted against observed conversion per bin, with the diagonal of perfect calibration."""
    bins = pd.DataFrame(calibration)
    diagonal = pd.DataFrame({"predicted": [0.0, 1.0], "observed": [0.0, 1.0]})
    line = alt.Chart(diagonal).mark_line(strokeDash=[4, 4], color="gray").encode(x="predicted", y="observed")
    points = (
        alt.Chart(bins)
        .mark_line(point=True)
        .encode(
            x=alt.X("predicted", title="Predicted conversion", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed", title="Observed conversion", scale=alt.Scale(domain=[0, 1])),
            tooltip=[c for c in ("bin", "leads", "predicted", "observed") if c in bins.columns],
        )
    )
    return line + points


def importance_chart(importance: dict[str, float], top: int = 15) -> alt.Chart:
    ranked = sorted(importance.items(), key=lambda kv: -abs(kv[1]))[:top]
    frame = pd.DataFrame({"Feature": [label(k) for k, _ in ranked], "Importance": [v for _, v in ranked]})
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(x="Importance", y=alt.Y("Feature", sort="-x", title=None), tooltip=["Feature", "Importance"])
    )


def champion_since(session: Any, actor: Actor, model_id: UUID) -> datetime | None:
    """When the model last became the active one (from the audit log; None when the reader may not read it)."""
    if not actor.can("audit_logs", "read"):
        return None
    entries, _ = audit.list_entries(session, actor, entity_type="ml_models", entity_id=model_id, limit=20)
    return next((e.created_at for e in entries if str((e.new_values or {}).get("is_active")).lower() == "true"), None)


def champion_summary(actor: Actor, rows: list[ModelRow]) -> None:
    active = next((r for r in rows if r.is_active), None)
    tiles = st.columns(3)
    if active is None:
        tiles[0].metric("Champion", "Points rules")
        tiles[1].metric("Version", "—")
        tiles[2].metric("Since", "—")
        return
    since = load(actor, champion_since, active.id) or active.trained_at or active.created_at
    tiles[0].metric("Champion", active.method)
    tiles[1].metric("Version", active.version)
    tiles[2].metric("Since", ui.when(since)[:16], help="When it became the champion")


def follow(actor: Actor) -> None:
    """Progress of the training or rescoring run the page queued (reruns itself; the page restarts when done)."""
    running = st.session_state.get(RUNNING)
    if not running:
        return
    job_id, what = running
    job = load(actor, jobs.get, UUID(job_id))
    if job.status in jobs.TERMINAL_STATUSES:
        st.session_state.pop(RUNNING, None)
        if job.status == "succeeded":
            st.session_state["sm_finished"] = f"{what} finished: {job.message or 'done'}"
        else:
            st.session_state["sm_failed"] = f"{what} failed: {job.error or job.status}"
        st.rerun()
    st.progress(job.progress / 100, text=f"{what}: {job.message or job.status} ({job.progress}%)")


def run_buttons(actor: Actor, selected: ModelRow | None) -> None:
    finished = st.session_state.pop("sm_finished", None)
    if finished:
        st.success(finished, icon=":material/check_circle:")
    failed = st.session_state.pop("sm_failed", None)
    if failed:
        st.error(failed, icon=":material/error:")
    box = st.container()
    buttons = st.container(horizontal=True)
    activate = buttons.button(
        f"Activate {selected.version}" if selected else "Activate",
        key="sm_activate",
        icon=":material/check_circle:",
        disabled=selected is None or selected.is_active,
        type="primary",
    )
    rollback = buttons.button("Roll back", key="sm_rollback", icon=":material/undo:")
    retrain = buttons.button("Retrain now", key="sm_retrain", icon=":material/model_training:")
    rescore = buttons.button("Rescore all", key="sm_rescore", icon=":material/refresh:")
    if activate and selected is not None:
        attempt(
            actor,
            lambda s, a: crm.activate(s, a, selected.id),
            done=f"{selected.method} now scores the leads (rescore to apply it to every lead)",
            where=box,
            rerun=True,
        )
    if rollback:
        attempt(
            actor,
            lambda s, a: crm.rollback(s, a),
            done="Rolled back to the previous champion",
            where=box,
            rerun=True,
        )
    for pressed, what, queue in (
        (retrain, "Training", lambda s, a: scoring.queue_training(s, a, TrainRequest())),
        (rescore, "Rescoring", scoring.queue_rescore),
    ):
        if pressed:
            job = attempt(actor, queue, where=box)
            if job is not None:
                st.session_state[RUNNING] = (str(job.id), what)
                st.rerun()
    if st.session_state.get(RUNNING):
        st.fragment(run_every=1.5)(follow)(actor)


def model_details(actor: Actor, model: ModelRow, rows: list[ModelRow]) -> None:
    metrics = model.metrics
    if model.algorithm == scoring.RULES_ALGORITHM:
        st.info(
            metrics.get("method") or "Points per field value, set by an admin (no learning).",
            icon=":material/rule:",
        )
        return
    tiles = st.columns(5)
    tiles[0].metric("ROC AUC", f"{float(metrics['roc_auc']):.3f}" if "roc_auc" in metrics else "—")
    tiles[1].metric("Brier score", f"{float(metrics['brier']):.3f}" if "brier" in metrics else "—")
    tiles[2].metric(
        "Baseline AUC", f"{float(metrics['baseline_roc_auc']):.3f}" if "baseline_roc_auc" in metrics else "—"
    )
    tiles[3].metric("Outcomes", f"{int(metrics.get('outcomes') or 0):,}")
    tiles[4].metric("Conversions", f"{int(metrics.get('conversions') or 0):,}")
    comparison = metrics.get("comparison") or {}
    if comparison:
        against = "the points rules" if comparison.get("against_method") == "rules" else comparison.get("against")
        verdict = "beat" if comparison.get("beats") else "did not beat"
        window = comparison.get("window") or ["?", "?"]
        st.markdown(
            f"**At training** it {verdict} {against}: ROC AUC {float(comparison.get('roc_auc') or 0):.3f} against "
            f"{float(comparison.get('against_roc_auc') or 0):.3f} on the latest {int(comparison.get('rows') or 0):,} "
            f"outcomes ({str(window[0])[:10]} to {str(window[-1])[:10]})."
        )
        if comparison.get("note"):
            st.caption(comparison["note"])
    candidates = metrics.get("candidates") or {}
    if candidates:
        st.caption("Candidates tried on the same validation window")
        st.dataframe(
            pd.DataFrame(
                {
                    "Candidate": list(candidates),
                    "ROC AUC": [_number(c.get("roc_auc")) for c in candidates.values()],
                    "Brier": [_number(c.get("brier")) for c in candidates.values()],
                }
            ),
            hide_index=True,
            key="sm_candidates",
        )
    left, right = st.columns(2)
    with left:
        st.markdown("**Calibration**")
        if metrics.get("calibration"):
            st.altair_chart(calibration_chart(metrics["calibration"]), width="stretch")
            st.caption("Each point: leads grouped by predicted conversion; on the dashed line, predictions are right.")
        else:
            st.caption("No calibration table was kept for this model.")
    with right:
        st.markdown("**Feature importance**")
        if model.feature_importance:
            st.altair_chart(importance_chart(model.feature_importance), width="stretch")
        else:
            st.caption("No feature importance was kept for this model.")
    st.markdown("**Drift since training**")
    report = load(actor, lambda s, a: crm.drift(s, a, registry.get(s, a, model.id)))
    if report is None:
        st.caption("No drift reference was kept for this model.")
    else:
        st.markdown(report.get("summary") or "")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Feature": f.get("label") or f.get("feature"),
                        "PSI": _number(f.get("psi")),
                        "Level": f.get("level"),
                    }
                    for f in [report.get("score") or {}, *(report.get("features") or [])]
                    if f
                ]
            ),
            hide_index=True,
            key="sm_drift",
            column_config={"PSI": st.column_config.NumberColumn(format="%.3f")},
        )
        st.caption("PSI below 0.1: stable; 0.1 to 0.25: moderate shift; above 0.25: significant shift.")


def ab_section(actor: Actor, rows: list[ModelRow]) -> None:
    st.subheader("A/B test")
    settings = load(actor, scoring.get_settings)
    report = load(actor, crm.ab_report)
    if report is None:
        st.caption("No challenger: choose a trained model below to score a share of the leads against the champion.")
    else:
        st.markdown(f"**Verdict:** {report.get('verdict') or '—'}")
        arms = report.get("arms") or {}
        if arms:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "Arm": name.title(),
                            "Resolved leads": arm.get("n"),
                            "Conversions": arm.get("conversions"),
                            "Conversion rate": _number(arm.get("conversion_rate")),
                            "ROC AUC": _number(arm.get("auc")),
                            "Top-tenth conversion": _number((arm.get("top_decile") or {}).get("rate")),
                            "Still needs": arm.get("missing") or "",
                        }
                        for name, arm in arms.items()
                    ]
                ),
                hide_index=True,
                key="sm_ab_arms",
                column_config={
                    "Conversion rate": st.column_config.NumberColumn(format="percent"),
                    "ROC AUC": st.column_config.NumberColumn(format="%.3f"),
                    "Top-tenth conversion": st.column_config.NumberColumn(format="percent"),
                },
            )
        st.caption(
            f"Champion {report['champion']['version']} against challenger {report['challenger']['version']}, "
            f"the challenger scoring {report['share']:.0%} of the leads."
        )
    candidates = [r for r in rows if not r.is_active and r.algorithm != scoring.RULES_ALGORITHM]
    choices: list[UUID | None] = [None, *[r.id for r in candidates]]
    names = {r.id: f"{r.version} ({r.algorithm})" for r in candidates}
    current = settings.challenger_model_id if settings.challenger_model_id in names else None
    box = st.container()
    with st.form("sm_ab", clear_on_submit=False):
        cols = st.columns([3, 2])
        chosen = cols[0].selectbox(
            "Challenger",
            choices,
            index=choices.index(current),
            format_func=lambda i: "None (no A/B test)" if i is None else names[i],
            key="sm_ab_model",
        )
        share = cols[1].slider(
            "Share of leads it scores", 0.05, 0.95, float(settings.challenger_share), 0.05, key="sm_ab_share"
        )
        if st.form_submit_button("Save the A/B test", icon=":material/save:"):
            attempt(
                actor,
                lambda s, a: scoring.update_settings(
                    s,
                    a,
                    SettingsUpdate(
                        challenger_model_id=chosen, challenger_share=Decimal(str(share)), version=settings.version
                    ),
                ),
                done="A/B test saved (it applies from the next rescoring)",
                where=box,
                rerun=True,
            )


# Rules and settings ------------------------------------------------------------------------------------------


def parse_value(field: str, operator: str, raw: str) -> Any:
    """A rule's value from what the admin typed, typed by the field's kind; what does not parse is passed on as
    typed, for the service to explain."""
    text = raw.strip()
    if operator in ("is_set", "is_not_set") or not text:
        return None
    kind = FIELDS[field][1] if field in FIELDS else "category"

    def one(item: str) -> Any:
        item = item.strip()
        if kind == "number":
            try:
                number = float(item)
            except ValueError:
                return item
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            lowered = item.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
        return item

    if operator == "in":
        return [one(i) for i in text.split(",") if i.strip()]
    return one(text)


def value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def rules_section(actor: Actor) -> None:
    st.subheader("Points rules")
    st.caption(
        "The rules score leads until a trained model beats them: the base score plus the points of every rule a "
        "lead matches (0 to 100). Rescore all to apply a change to every lead at once."
    )
    rules = load(actor, scoring.list_rules)
    picked = None
    if not rules:
        ui.empty("No rule yet: every lead gets the base score. Add the first rule below.", icon=":material/rule:")
    else:
        table = pd.DataFrame(
            {
                "Field": [label(r.field) for r in rules],
                "Condition": [OPERATORS.get(r.operator, r.operator) for r in rules],
                "Value": [value_text(r.value) for r in rules],
                "Points": [r.points for r in rules],
                "Label": [r.label or "" for r in rules],
                "Active": [r.is_active for r in rules],
            }
        )
        st.dataframe(table, hide_index=True, key="sm_rules_table")
        by_id = {str(r.id): r for r in rules}
        if st.session_state.get("sm_rule") not in (None, *by_id):
            st.session_state.pop("sm_rule", None)
        chosen = st.selectbox(
            "Rule",
            [None, *by_id],
            format_func=lambda i: (
                "A new rule"
                if i is None
                else f"{label(by_id[i].field)} {OPERATORS.get(by_id[i].operator, '')} {value_text(by_id[i].value)}: "
                f"{signed(by_id[i].points)}"
            ),
            key="sm_rule",
        )
        picked = by_id[chosen] if chosen is not None else None
    fields = list(FIELDS)
    operators = list(OPERATORS)
    editing = picked is not None
    prefix = f"sm_rule_{picked.id}" if picked is not None else "sm_rule_new"
    st.markdown(f"**Edit the rule on {label(picked.field)}**" if picked is not None else "**Add a rule**")
    box = st.container()
    with st.form(f"{prefix}_form", clear_on_submit=False):
        cols = st.columns([3, 2, 3, 1])
        field = cols[0].selectbox(
            "Field",
            fields,
            index=fields.index(picked.field) if picked is not None and picked.field in FIELDS else 0,
            format_func=label,
            key=f"{prefix}_field",
        )
        operator = cols[1].selectbox(
            "Condition",
            operators,
            index=operators.index(picked.operator) if picked is not None else 0,
            format_func=OPERATORS.__getitem__,
            key=f"{prefix}_operator",
        )
        raw = cols[2].text_input(
            "Value",
            value=value_text(picked.value) if picked is not None else "",
            placeholder="e.g. Webinar; a list for 'is one of': a, b",
            key=f"{prefix}_value",
        )
        points = cols[3].number_input(
            "Points",
            min_value=-100,
            max_value=100,
            value=picked.points if picked is not None else 10,
            step=1,
            key=f"{prefix}_points",
        )
        lower = st.columns([4, 1])
        rule_label = lower[0].text_input(
            "Label (optional)", value=(picked.label or "") if picked is not None else "", key=f"{prefix}_label"
        )
        active = lower[1].checkbox("Active", value=picked.is_active if picked is not None else True, key=f"{prefix}_on")
        buttons = st.container(horizontal=True)
        save = buttons.form_submit_button(
            "Save rule" if editing else "Add rule", type="primary", icon=":material/save:"
        )
        delete = buttons.form_submit_button("Delete rule", icon=":material/delete:", disabled=not editing)
    if save:
        value = parse_value(field, operator, raw)
        if picked is None:
            attempt(
                actor,
                lambda s, a: scoring.create_rule(
                    s,
                    a,
                    RuleCreate(
                        field=field,
                        operator=operator,
                        value=value,
                        points=int(points),
                        label=rule_label.strip() or None,
                        is_active=active,
                    ),
                ),
                done=f"Rule on {label(field)} added",
                where=box,
                clear=tuple(f"{prefix}_{k}" for k in ("field", "operator", "value", "points", "label", "on")),
                rerun=True,
            )
        else:
            attempt(
                actor,
                lambda s, a: scoring.update_rule(
                    s,
                    a,
                    picked.id,
                    RuleUpdate(
                        field=field,
                        operator=operator,
                        value=value,
                        points=int(points),
                        label=rule_label.strip() or None,
                        is_active=active,
                        version=picked.version,
                    ),
                ),
                done=f"Rule on {label(field)} saved",
                where=box,
                rerun=True,
            )
    if delete and picked is not None:
        attempt(
            actor,
            lambda s, a: scoring.delete_rule(s, a, picked.id),
            done=f"Rule on {label(picked.field)} deleted",
            where=box,
            clear=("sm_rule",),
            rerun=True,
        )


def settings_section(actor: Actor) -> None:
    st.subheader("Scoring settings")
    settings = load(actor, scoring.get_settings)
    box = st.container()
    with st.form("sm_settings", clear_on_submit=False):
        stages = st.multiselect(
            "Lifecycle stages that count as converted (a won deal always does)",
            list(LIFECYCLE_STAGES),
            default=[s for s in settings.converted_stages if s in LIFECYCLE_STAGES],
            key="sm_set_stages",
        )
        cols = st.columns(3)
        idle = cols[0].number_input(
            "Idle days (an untouched lead then counts as lost)",
            value=int(settings.idle_days),
            step=1,
            key="sm_set_idle",
        )
        outcomes = cols[1].number_input(
            "Outcomes needed before a model", value=int(settings.min_outcomes), step=10, key="sm_set_outcomes"
        )
        conversions = cols[2].number_input(
            "Conversions needed before a model", value=int(settings.min_conversions), step=5, key="sm_set_conversions"
        )
        base = cols[0].number_input("Rules base score", value=int(settings.rules_base), step=1, key="sm_set_base")
        every = cols[1].number_input(
            "Retrain every (days)", value=int(settings.retrain_every_days), step=1, key="sm_set_every"
        )
        if st.form_submit_button("Save settings", type="primary", icon=":material/save:"):
            attempt(
                actor,
                lambda s, a: scoring.update_settings(
                    s,
                    a,
                    SettingsUpdate(
                        converted_stages=stages,
                        idle_days=int(idle),
                        min_outcomes=int(outcomes),
                        min_conversions=int(conversions),
                        rules_base=int(base),
                        retrain_every_days=int(every),
                        version=settings.version,
                    ),
                ),
                done="Scoring settings saved",
                where=box,
                rerun=True,
            )


def models_page(actor: Actor) -> None:
    rows = load(actor, models)
    champion_summary(actor, rows)
    models_tab, ab_tab, rules_tab, settings_tab = st.tabs(["Models", "A/B test", "Points rules", "Settings"])
    with models_tab:
        if not rows:
            ui.empty("No model yet: the points rules score the leads. Retrain now to learn from your outcomes.")
        selected: ModelRow | None = None
        if rows:
            st.dataframe(
                models_table(rows),
                hide_index=True,
                key="sm_models",
                column_config={
                    "Trained": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                    "ROC AUC": st.column_config.NumberColumn(format="%.3f"),
                    "Brier": st.column_config.NumberColumn(format="%.3f"),
                    "Baseline AUC": st.column_config.NumberColumn(format="%.3f"),
                    "Active": st.column_config.CheckboxColumn(),
                },
            )
            by_version = {r.version: r for r in rows}
            versions = list(by_version)
            active = next((r.version for r in rows if r.is_active), versions[0])
            if st.session_state.get("sm_model") not in by_version:
                st.session_state.pop("sm_model", None)
            version = st.selectbox(
                "Model",
                versions,
                index=versions.index(active),
                format_func=lambda v: (
                    f"{by_version[v].method} ({by_version[v].algorithm})"
                    + (" · active" if by_version[v].is_active else "")
                ),
                key="sm_model",
            )
            selected = by_version[version]
        run_buttons(actor, selected)
        if selected is not None:
            st.subheader(f"{selected.method}" + (" · active" if selected.is_active else ""))
            model_details(actor, selected, rows)
    with ab_tab:
        ab_section(actor, rows)
    with rules_tab:
        rules_section(actor)
    with settings_tab:
        settings_section(actor)
