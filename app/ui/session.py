"""The signed-in user of a Streamlit session.

The UI signs in through the same `core.auth` login as the API (lockout, audit, Redis session) and keeps the
token pair in the server-side session state; every script run turns the access token back into an `Actor`, so a
revoked session, a deactivated user or a changed role takes effect on the next click, as it does for the API.
An expired access token is refreshed with the refresh token (rotated); when that fails, the user signs in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import streamlit as st

from core.actor import Actor
from core.auth import service as auth
from core.db import RequestContext, reset_context, set_context, unit_of_work
from core.errors import AuthenticationFailed
from core.users import service as users

KEY = "cf_signed_in"
ENDED = "cf_session_ended"


@dataclass
class SignedIn:
    access_token: str
    refresh_token: str
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


def sign_in(*, email: str, password: str, tenant_slug: str) -> SignedIn:
    """Log in (raises `AuthenticationFailed` / `AccountLocked` with the message to show) and remember who."""
    token = set_context(request_context())
    try:
        pair = auth.login_committing_failures(email=email, password=password, tenant_slug=tenant_slug)
        with unit_of_work(tenant_id=pair.tenant_id) as session:
            actor = auth.authenticate_access_token(session, pair.access_token)
            name = users.me(session, actor).full_name
    finally:
        reset_context(token)
    signed_in = SignedIn(pair.access_token, pair.refresh_token, pair.tenant_id, pair.user_id, name, tenant_slug.strip())
    st.session_state[KEY] = signed_in
    st.session_state.pop(ENDED, None)
    return signed_in


def current() -> SignedIn | None:
    value = st.session_state.get(KEY)
    return value if isinstance(value, SignedIn) else None


def actor() -> Actor | None:
    """The signed-in user's actor as of now, or None (signed out; the reason is kept for the login page)."""
    who = current()
    if who is None:
        return None
    try:
        with unit_of_work(tenant_id=who.tenant_id) as session:
            try:
                return auth.authenticate_access_token(session, who.access_token)
            except AuthenticationFailed as exc:
                if exc.code not in ("TOKEN_EXPIRED", "TOKEN_STALE"):
                    raise
                pair = auth.refresh(session, who.refresh_token)
                who.access_token, who.refresh_token = pair.access_token, pair.refresh_token
                return auth.authenticate_access_token(session, pair.access_token)
    except AuthenticationFailed as exc:
        st.session_state.pop(KEY, None)
        st.session_state[ENDED] = f"You were signed out: {exc.message}"
        return None


def sign_out(current_actor: Actor) -> None:
    """End the login session everywhere it is checked (Redis) and forget it here."""
    token = set_context(request_context())
    try:
        with unit_of_work(current_actor) as session:
            auth.logout(session, current_actor)
    finally:
        reset_context(token)
    keep = {ENDED}
    for key in list(st.session_state.keys()):
        if key not in keep:
            del st.session_state[key]
