"""Small pieces every page uses: the page guard, titles, empty states, money and date formatting, links to a
record's detail page."""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import streamlit as st

from app.ui.pages import by_file
from core.actor import Actor
from core.tenants import calendar

ACTOR = "cf_actor"


def page(file: str, caption: str | None = None) -> Actor:
    """Start a page: the signed-in actor, refused (message, stop) unless the actor may open this page.

    The shell registers only permitted pages; this second check covers a page script run any other way.
    """
    definition = by_file(file)
    actor = st.session_state.get(ACTOR)
    if not isinstance(actor, Actor):
        st.error("Sign in to open this page.", icon=":material/lock:")
        st.stop()
    if not definition.allows(actor):
        st.error(f"Your role ({actor.role}) cannot open {definition.title}.", icon=":material/block:")
        st.stop()
    st.title(definition.title)
    if caption:
        st.caption(caption)
    return actor


def empty(message: str, icon: str = ":material/inbox:") -> None:
    st.info(message, icon=icon)


def money(amount: Decimal | float | int | None, currency: str | None = "USD") -> str:
    if amount is None:
        return "—"
    value = float(amount)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}.get(currency or "USD")
    if abs(value) >= 1_000_000:
        text = f"{value / 1_000_000:,.1f}M"
    elif abs(value) >= 10_000:
        text = f"{value / 1_000:,.0f}k"
    else:
        text = f"{value:,.0f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def when(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def detail_link(kind: str, record_id: UUID | str, label: str) -> None:
    """A link to a record's detail page (deal, contact, account), carrying its id in the URL."""
    st.page_link(by_file(f"{kind}.py").path.as_posix(), label=label, query_params={"id": str(record_id)})


def detail_url(kind: str, record_id: UUID | str) -> str:
    """A relative URL to a record's detail page, for link columns in tables."""
    return f"/{by_file(f'{kind}.py').url_path}?id={record_id}"


def record_id() -> str | None:
    """The `id` query parameter of a detail page."""
    value: Any = st.query_params.get("id")
    return str(value) if value else None


def pick_record(actor: Actor, label: str, types: tuple[str, ...], key: str) -> Any:
    """Search-as-you-type for one record (global search, permission-filtered): the chosen hit or None."""
    from app.ui.calls import load
    from core.search import service as search

    text = st.text_input(label, key=f"{key}_q", placeholder="Type a name to search")
    if not text.strip():
        return None
    hits = load(actor, search.search, text, types=list(types), limit=10)
    if not hits:
        st.caption("No match.")
        return None
    return st.selectbox(
        "Matches",
        hits,
        key=f"{key}_hit",
        format_func=lambda h: f"{h.title} ({h.type[:-1]})",
        label_visibility="collapsed",
    )


@st.cache_data(ttl=300, show_spinner=False)
def _zone_name(tenant_id: UUID, _actor: Actor) -> str:
    from app.ui.calls import load

    return str(load(_actor, calendar.zone))


def zone(actor: Actor) -> ZoneInfo:
    """The workspace's time zone (cached; cleared with every write, the settings change included)."""
    return ZoneInfo(_zone_name(actor.tenant_id, actor))


def local_moment(actor: Actor, day: date, at: time_of_day) -> datetime:
    """A date and time the user entered, in the workspace's time zone (where due dates and meetings are meant),
    as an aware datetime."""
    return datetime.combine(day, at, tzinfo=zone(actor))


def local_time(actor: Actor, value: str | datetime | None) -> str:
    """A stored moment (an API-style ISO string or a datetime) as the workspace's local date and time."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment.astimezone(zone(actor)).strftime("%Y-%m-%d %H:%M")
