"""The signed-in user of a Streamlit session.

The UI signs in through the same `core.auth` login as the API (lockout, audit, Redis session). The browser keeps
only a "stay signed in" cookie holding a secret handle of that login session (`core.auth.remember_browser`), so a
reload or a record opened in a new tab resumes the session instead of asking to sign in again; the server-side
session state holds a short-lived access token. Every script run turns that token back into an `Actor`, so a
revoked session, a deactivated user or a changed role takes effect on the next click, as it does for the API; an
expired token is replaced from the handle while the login session lives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

import streamlit as st

from core.actor import Actor
from core.auth import service as auth
from core.auth import sessions
from core.config import get_settings
from core.db import RequestContext, reset_context, set_context, unit_of_work
from core.errors import AuthenticationFailed
from core.users import service as users

KEY = "cf_signed_in"
ENDED = "cf_session_ended"
COOKIE = "cf_ui"
_COOKIE_WRITE = "cf_cookie_write"  # the cookie script to send on this run (set after sign-in, clear after sign-out)
_COOKIE_SEEN = "cf_cookie_seen"  # the handle this browser session already tried (a stale cookie is tried once)


@dataclass
class SignedIn:
    access_token: str
    handle: str
    tenant_id: UUID
    user_id: UUID
    name: str
    tenant_slug: str


def request_context() -> RequestContext:
    """Where UI writes come from, for the audit trail."""
    ip, agent = st.context.ip_address, (st.context.headers or {}).get("User-Agent")
    return RequestContext(
        via="ui", ip=ip if isinstance(ip, str) else None, user_agent=agent if isinstance(agent, str) else None
    )


def _signed_in(access_token: str, handle: str, actor: Actor) -> SignedIn:
    with unit_of_work(actor) as session:
        name = users.me(session, actor).full_name
        slug = auth.tenant_of(session, actor).slug
    assert actor.user_id is not None
    who = SignedIn(access_token, handle, actor.tenant_id, actor.user_id, name, slug)
    st.session_state[KEY] = who
    st.session_state[_COOKIE_SEEN] = handle
    st.session_state.pop(ENDED, None)
    return who


def sign_in(*, email: str, password: str, tenant_slug: str) -> SignedIn:
    """Log in (raises `AuthenticationFailed` / `AccountLocked` with the message to show) and remember who, here
    and in the browser's cookie."""
    token = set_context(request_context())
    try:
        pair = auth.login_committing_failures(email=email, password=password, tenant_slug=tenant_slug)
        with unit_of_work(tenant_id=pair.tenant_id) as session:
            actor = auth.authenticate_access_token(session, pair.access_token)
        handle = auth.remember_browser(actor)
    finally:
        reset_context(token)
    st.session_state[_COOKIE_WRITE] = handle
    return _signed_in(pair.access_token, handle, actor)


def current() -> SignedIn | None:
    value = st.session_state.get(KEY)
    return value if isinstance(value, SignedIn) else None


def _cookie_handle() -> str | None:
    value = (st.context.cookies or {}).get(COOKIE)
    return value if isinstance(value, str) and value else None


def _resume(handle: str) -> Actor:
    with unit_of_work() as session:
        access, actor = auth.resume_browser(session, handle)
    _signed_in(access, handle, actor)
    return actor


def actor() -> Actor | None:
    """The signed-in user's actor as of now, or None (signed out; the reason is kept for the login page)."""
    who = current()
    if who is None:
        handle = _cookie_handle()
        if handle is None or st.session_state.get(_COOKIE_SEEN) == handle:
            return None
        st.session_state[_COOKIE_SEEN] = handle
        try:
            return _resume(handle)
        except AuthenticationFailed:
            st.session_state[_COOKIE_WRITE] = ""  # a stale cookie: drop it quietly
            return None
    try:
        with unit_of_work(tenant_id=who.tenant_id) as session:
            try:
                return auth.authenticate_access_token(session, who.access_token)
            except AuthenticationFailed as exc:
                if exc.code not in ("TOKEN_EXPIRED", "TOKEN_STALE"):
                    raise
        return _resume(who.handle)
    except AuthenticationFailed as exc:
        st.session_state.pop(KEY, None)
        st.session_state[_COOKIE_WRITE] = ""
        st.session_state[ENDED] = f"You were signed out: {exc.message}"
        return None


def sign_out(current_actor: Actor) -> None:
    """End the login session everywhere it is checked (Redis), forget it here and clear the browser's cookie."""
    who = current()
    token = set_context(request_context())
    try:
        with unit_of_work(current_actor) as session:
            auth.logout(session, current_actor)
    finally:
        reset_context(token)
    if who is not None:
        sessions.forget(who.handle)
    seen = st.session_state.get(_COOKIE_SEEN)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[_COOKIE_SEEN] = seen
    st.session_state[_COOKIE_WRITE] = ""


def write_cookie() -> None:
    """Send the pending cookie change to the browser (a zero-size script element): the handle after sign-in,
    an expired cookie after sign-out or when the handle no longer resumes anything."""
    handle = st.session_state.pop(_COOKIE_WRITE, None)
    if handle is None:
        return
    max_age = get_settings().refresh_token_days * 86400 if handle else 0
    cookie = json.dumps(f"{COOKIE}={handle}; Path=/; Max-Age={max_age}; SameSite=Strict")
    st.html(
        f"<script>document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )
