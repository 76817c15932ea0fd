"""Sign in: workspace, email and password; the lockout and the reason a session ended are shown here."""

import streamlit as st

from app.ui import session
from core.errors import DomainError

st.title("Sign in to ClientForge")
ended = st.session_state.get(session.ENDED)
if ended:
    st.warning(ended, icon=":material/logout:")

with st.form("login"):
    tenant = st.text_input(
        "Workspace", value=st.query_params.get("workspace", ""), placeholder="acme-demo", key="login_workspace"
    )
    email = st.text_input("Email", autocomplete="username", key="login_email")
    password = st.text_input("Password", type="password", autocomplete="current-password", key="login_password")
    submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")

if submitted:
    if not (tenant.strip() and email.strip() and password):
        st.error("Enter your workspace, email and password.")
    else:
        try:
            session.sign_in(email=email, password=password, tenant_slug=tenant)
        except DomainError as exc:
            st.error(exc.message, icon=":material/error:")
        else:
            st.rerun()
