"""Home: what ClientForge is and where to go next (placeholder until the workspace pages land)."""

import streamlit as st

from core.config import get_settings

settings = get_settings()
host = "localhost" if settings.api_host in ("0.0.0.0", "127.0.0.1", "") else settings.api_host
docs_url = f"http://{host}:{settings.api_port}/api/v1/docs"

st.title("ClientForge")
st.markdown(
    "ClientForge is a CRM built around analytics and AI: contacts, companies, deals and tasks in PostgreSQL, "
    "dashboards and forecasts for sales managers, a workspace and the **Albedo** assistant for sales reps, "
    "notebooks for analysts, and a REST API for other systems."
)
st.info("The sales workspace and dashboards are on their way. Meanwhile, everything is in the API.")
st.link_button("Open the API docs", docs_url, icon=":material/api:")
st.caption(f"API documentation: {docs_url}")
