"""Churn risk where people see it: a badge with its reasons on the account page (`risk_badge`) and the accounts by
churn risk on the manager's Insights page (`top_risks`), with a refresh button for who may manage insights.

Everything reads through core/churn as the signed-in actor (`find`, `attempt`): a rep sees the accounts they own.
"""

from __future__ import annotations

from uuid import UUID

import pandas as pd
import streamlit as st

from app.ui import widgets as ui
from app.ui.calls import attempt, find
from core.actor import Actor
from core.churn import service as churn
from core.churn.schemas import ChurnReason, ChurnRiskRead

MINUS = "\u2212"
COLOURS = {"high": "red", "medium": "orange", "low": "green"}


def can_see(actor: Actor) -> bool:
    return actor.can("insights", "read") and actor.can("accounts", "read")


def signed(points: float) -> str:
    rounded = round(points) if abs(points) >= 1 else round(points, 1)
    text = f"{abs(rounded):g}"
    return f"+{text}" if rounded > 0 else f"{MINUS}{text}" if rounded < 0 else "±0"


def reason_text(reason: ChurnReason) -> str:
    """A factor as a rep reads it: "No activity in the last 90 days (12 in the 90 before): +18"."""
    return f"{reason.text}: {signed(reason.points)}"


def method_text(risk: ChurnRiskRead) -> str:
    """Which method gave the risk and how well it ranked the latest outcomes."""
    measured = risk.measured
    if risk.method == "model":
        figure = f" (AUC {measured.roc_auc:.2f} vs rules {measured.rules_roc_auc:.2f})" if measured.roc_auc else ""
        return f"Model trained on this workspace's churned accounts{figure}"
    figure = f" (AUC {measured.rules_roc_auc:.2f} on past outcomes)" if measured.rules_roc_auc else ""
    return f"Rules score: not enough churn history to learn from yet{figure}"


def badge(risk: ChurnRiskRead | None) -> str:
    if risk is None:
        return ":gray-badge[Churn risk: not scored]"
    return f":{COLOURS[risk.level]}-badge[Churn risk {risk.score} · {risk.level}]"


def risk_badge(actor: Actor, account_id: UUID | str) -> None:
    """On the account page: the churn-risk badge, the probability, its reasons with signed points and the method.
    Nothing for who may not read insights; a quiet line for an account that is not a customer (no won deal)."""
    if not can_see(actor):
        return
    risk = find(actor, churn.account_risk, UUID(str(account_id)))
    if risk is None:
        st.caption("Churn risk: given to customer accounts (with a won deal) by the nightly refresh.")
        return
    with st.container(border=True):
        head = st.columns([2, 3], vertical_alignment="center")
        head[0].markdown(f"**{badge(risk)}**")
        head[1].caption(
            f"{float(risk.probability):.0%} chance of no won deal and no activity in the next "
            f"{risk.measured.outcome_days or 180} days · {method_text(risk)} · as of {ui.when(risk.computed_at)}"
        )
        if risk.reasons:
            st.markdown("\n".join(f"- :{'red' if r.points > 0 else 'green'}[{reason_text(r)}]" for r in risk.reasons))
        else:
            st.caption("No single factor stands out.")


def rows(risks: list[ChurnRiskRead]) -> pd.DataFrame:
    """The table behind `top_risks` (one row per account; the account links to its page)."""
    return pd.DataFrame(
        {
            "Account": [ui.detail_url("account", r.account_id) for r in risks],
            "Name": [r.account_name for r in risks],
            "Risk": [r.score for r in risks],
            "Level": [r.level for r in risks],
            "Why": [reason_text(r.reasons[0]) if r.reasons else "" for r in risks],
            "Method": [r.method for r in risks],
        }
    )


def top_risks(actor: Actor, limit: int = 10) -> None:
    """On the manager's Insights page: the readable customer accounts by churn risk, with the top reason and the
    method; a refresh button for `insights:manage`."""
    if not can_see(actor):
        return
    risks = find(actor, churn.list_risks, limit=limit) or []
    if not risks:
        ui.empty("No churn risk computed yet: the worker refreshes it nightly.", icon=":material/trending_down:")
    else:
        st.caption(method_text(risks[0]))
        st.dataframe(
            rows(risks),
            hide_index=True,
            key="churn_top_risks",
            column_config={
                "Account": st.column_config.LinkColumn("Account", display_text="Open", width="small"),
                "Risk": st.column_config.ProgressColumn("Risk", min_value=0, max_value=100, format="%d"),
            },
        )
    if actor.can("insights", "manage") and st.button(
        "Refresh churn risk", key="churn_refresh", icon=":material/refresh:", type="tertiary"
    ):
        attempt(actor, churn.queue_refresh, done="Churn risk refresh queued: the worker retrains and rescores now.")
