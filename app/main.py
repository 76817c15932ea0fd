"""Streamlit entry: the router (`streamlit run app/main.py`, or `clientforge ui` / `clientforge up`).

Signed out, the only page is the login. Signed in, the menu holds the pages the user's role may open (see
`app.ui.pages`); the sidebar shows who is signed in and the sign-out button. A page that fails unexpectedly shows
a message with a reference (the traceback goes to the log, never to the screen).
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading

import streamlit as st

from app.ui import calls, session
from app.ui.pages import PAGES_DIR, permitted
from app.ui.widgets import ACTOR

log = logging.getLogger("clientforge.ui")

st.set_page_config(page_title="ClientForge", page_icon="🤝", layout="wide")  # an emoji: no icon font to fetch


@st.cache_resource
def _warm_imports() -> threading.Thread:
    """Import the analytics pages' code (DuckDB, Polars, Altair: ~2 s) once per server, in the background, so a
    manager's first Dashboards visit does not pay for it."""
    thread = threading.Thread(target=importlib.import_module, args=("app.ui.analytics",), daemon=True)
    thread.start()
    return thread


_warm_imports()

actor = session.actor()
if actor is None:
    st.session_state.pop(ACTOR, None)
    page = st.navigation([st.Page(PAGES_DIR / "login.py", title="Sign in", icon=":material/login:")], position="hidden")
else:
    st.session_state[ACTOR] = actor
    sections: dict[str, list[st.Page]] = {}
    for definition in permitted(actor):
        sections.setdefault(definition.section, []).append(
            st.Page(
                definition.path,
                title=definition.title,
                icon=definition.icon,
                url_path=definition.url_path,
                default=definition.default,
                visibility="hidden" if definition.hidden else "visible",
            )
        )
    page = st.navigation(sections)
    who = session.current()
    with st.sidebar:
        st.markdown(f"**{who.name if who else actor.email}**")
        st.caption(f"{actor.role.title()} · {who.tenant_slug if who else ''}")
        with st.form("cf_search", border=False, enter_to_submit=True):
            asked = st.text_input(
                "Search", key="cf_search_q", placeholder="Search records…", label_visibility="collapsed"
            )
            if st.form_submit_button("Search", icon=":material/search:", key="cf_search_go") and asked.strip():
                st.switch_page(PAGES_DIR / "search.py", query_params={"q": asked.strip()})
        if st.button("Sign out", icon=":material/logout:", key="cf_sign_out"):
            session.sign_out(actor)
            st.rerun()
    calls.show_pending_toast()
session.write_cookie()

try:
    page.run()
except Exception:
    reference = secrets.token_hex(4)
    log.exception("UI page %s failed (reference %s)", page.title, reference)
    st.error(
        f"Something went wrong on this page; nothing you did was lost. Reload to try again, and quote reference "
        f"{reference} if it keeps happening.",
        icon=":material/error:",
    )
