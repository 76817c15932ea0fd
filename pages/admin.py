"""Admin: users, teams, roles and permissions, pipelines and stages, custom fields, API keys, webhooks and the
workspace's settings. Each tab shows only for a role holding its permission (see `app.ui.admin.TABS`)."""

import streamlit as st

from app.ui import admin
from app.ui import widgets as ui

actor = ui.page("admin.py", caption="Who works here, what they may do, and how the workspace is set up.")
allowed = admin.tabs_for(actor)
if not allowed:
    ui.empty("Your role opens no admin section.", icon=":material/block:")
    st.stop()
for tab, container in zip(allowed, st.tabs([t.title for t in allowed]), strict=True):
    with container:
        tab.render(actor)
