"""Insights (managers): deals at risk (open deals with anomalies or rotting), anomalies found this week, customer
accounts by churn risk, and next best actions taken vs ignored."""

import streamlit as st

from app.ui import actions as actions_view
from app.ui import churn as churn_view
from app.ui import insights as view
from app.ui import widgets as ui

actor = ui.page("insights.py", "What needs a look: unusual deals and activity, churn risk, and actions taken.")
view.deals_at_risk(actor)
view.this_week(actor)
view.thresholds(actor)
st.subheader("Accounts by churn risk")
churn_view.top_risks(actor, limit=10)
actions_view.stats(actor)
