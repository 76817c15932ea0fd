"""Anomalies where people see them: badges with their reasons on a record's page (`badges`), and the manager's
Insights page pieces (deals at risk, anomalies this week, the thresholds).

Everything reads and writes through core/insights as the signed-in actor (`find`, `load`, `attempt`): a rep sees
the anomalies of the records they may see, and may dismiss one as a false alarm.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pandas as pd
import streamlit as st

from app.ui import widgets as ui
from app.ui.calls import attempt, find, load
from core.actor import Actor
from core.insights import service as insights
from core.insights.schemas import AnomalyRead, InsightSettingsUpdate

LABELS = {
    "amount_outlier": "Unusual amount",
    "close_date_pushed": "Close date pushed",
    "stage_backwards": "Moved back a stage",
    "stage_skipped": "Skipped stages",
    "late_discount": "Late discount",
    "rep_activity_drop": "Activity dropped",
    "rep_win_rate_drop": "Win rate dropped",
    "account_engagement_drop": "Engagement dropped",
}
COLOURS = {"high": "red", "medium": "orange", "low": "gray"}
VERSION_KEY = "insight_thresholds_version"
KINDS = {"deal": "deals", "account": "accounts", "user": "users", "deals": "deals", "accounts": "accounts"}


def can_see(actor: Actor) -> bool:
    return actor.can("insights", "read")


def badge(anomaly: AnomalyRead) -> str:
    """The kind as a badge coloured by severity: ":red-badge[:material/warning: Close date pushed]"."""
    return f":{COLOURS[anomaly.severity]}-badge[:material/warning: {LABELS[anomaly.code]}]"


def badges(actor: Actor, entity_type: str, entity_id: UUID | str) -> None:
    """On a deal's or account's page: one badge per open anomaly with its reason, and a Dismiss button (a false
    alarm stays dismissed). Nothing without `insights:read`, nothing when there is no anomaly."""
    if not can_see(actor):
        return
    kind = KINDS.get(entity_type, entity_type)
    found = find(actor, insights.list_anomalies, entity_type=kind, entity_id=UUID(str(entity_id))) or []
    for anomaly in found:
        line = st.columns([5, 1], vertical_alignment="center")
        line[0].markdown(f"{badge(anomaly)} {anomaly.reason}", help=f"Found {ui.when(anomaly.detected_at)}")
        if line[1].button(
            "Dismiss",
            key=f"anomaly_dismiss_{anomaly.id}",
            icon=":material/close:",
            type="tertiary",
            help="Not a problem: hide this anomaly (it stays dismissed).",
        ):
            attempt(actor, insights.dismiss, anomaly.id, done="Anomaly dismissed.", rerun=True)


def deals_at_risk(actor: Actor, limit: int = 25) -> None:
    """Open deals with open anomalies or rotting in their stage, most severe first, each with its reasons."""
    st.subheader("Deals at risk")
    risky = load(actor, insights.deals_at_risk, limit=limit)
    if not risky:
        ui.empty("No open deal has an anomaly or is rotting.", icon=":material/verified:")
        return
    table = pd.DataFrame(
        {
            "Deal": [ui.detail_url("deal", d.deal_id) for d in risky],
            "Name": [d.name for d in risky],
            "Amount": [ui.money(d.amount, d.currency) for d in risky],
            "Stage": [d.stage for d in risky],
            "Owner": [d.owner for d in risky],
            "Severity": [d.worst for d in risky],
            "Why": [" · ".join(d.reasons) for d in risky],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key="insights_deals_at_risk",
        column_config={"Deal": st.column_config.LinkColumn("Deal", display_text="Open", width="small")},
    )


def this_week(actor: Actor) -> None:
    """Anomalies found in the last 7 days (open), counted by kind and listed with their reasons."""
    st.subheader("Anomalies this week")
    since = datetime.now(UTC) - timedelta(days=7)
    found = load(actor, insights.list_anomalies, since=since, limit=200)
    if not found:
        ui.empty("No new anomaly in the last 7 days.", icon=":material/verified:")
    else:
        counts = load(actor, insights.count_anomalies, since=since)  # all of them; the table lists the newest 200
        tiles = st.columns(min(4, len(counts)))
        for i, (code, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1])):
            tiles[i % len(tiles)].metric(LABELS[code], n)
        links = {"deals": "deal", "accounts": "account"}
        table = pd.DataFrame(
            {
                "Kind": [LABELS[a.code] for a in found],
                "Record": [a.entity_name or "" for a in found],
                "Link": [
                    ui.detail_url(links[a.entity_type], a.entity_id) if a.entity_type in links else None for a in found
                ],
                "Severity": [a.severity for a in found],
                "Reason": [a.reason for a in found],
                "Found": [ui.when(a.detected_at) for a in found],
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            key="insights_this_week",
            column_config={"Link": st.column_config.LinkColumn("Link", display_text="Open", width="small")},
        )
    if actor.can("insights", "manage") and st.button(
        "Look for anomalies now", key="anomalies_refresh", icon=":material/refresh:", type="tertiary"
    ):
        attempt(actor, insights.queue_refresh, done="Anomaly pass queued: the worker runs every detector now.")


def thresholds(actor: Actor) -> None:
    """The main thresholds, editable by who may manage insights (applied from the next pass)."""
    if not actor.can("insights", "manage"):
        return
    settings = load(actor, insights.get_settings)
    # the version the form was opened with: saving over someone else's change since then is refused (409)
    st.session_state.setdefault(VERSION_KEY, settings.version)
    with st.expander("Anomaly thresholds", icon=":material/tune:"):
        with st.form("insight_thresholds"):
            cols = st.columns(3)
            amount_z = cols[0].number_input(
                "Unusual amount from (robust z)", 2.0, 20.0, float(settings.amount_z), 0.5, key="th_amount_z"
            )
            pushes = cols[1].number_input("Close-date pushes", 1, 20, int(settings.close_push_min), key="th_pushes")
            cut = cols[2].number_input("Late cut (%)", 5, 95, int(settings.late_cut_pct), key="th_cut")
            cols = st.columns(3)
            window = cols[0].number_input("Recent window (days)", 7, 180, int(settings.window_days), key="th_window")
            rep_drop = cols[1].number_input(
                "Rep activity drop (%)", 10, 100, int(settings.rep_activity_drop_pct), key="th_rep_drop"
            )
            engagement = cols[2].number_input(
                "Account engagement drop (%)", 10, 100, int(settings.engagement_drop_pct), key="th_engagement"
            )
            if st.form_submit_button("Save thresholds"):
                version = st.session_state[VERSION_KEY]
                saved = attempt(
                    actor,
                    lambda s, a: insights.update_settings(
                        s,
                        a,
                        InsightSettingsUpdate(
                            amount_z=amount_z,
                            close_push_min=pushes,
                            late_cut_pct=cut,
                            window_days=window,
                            rep_activity_drop_pct=rep_drop,
                            engagement_drop_pct=engagement,
                            version=version,
                        ),
                    ),
                    done="Thresholds saved: they apply from the next pass.",
                    clear=(VERSION_KEY,),
                    rerun=True,
                )
                if saved is None:  # refused: the next run reads the thresholds as they are now
                    st.session_state.pop(VERSION_KEY, None)
