"""Next best actions in the workspace: the ranked actions of a deal or contact with one-click apply and ignore
(`for_record`, for the record pages), "what should I do next" (`mine`, for My day), and the taken/ignored rates by
action type (`stats`, for the manager's Insights page). Reads and writes go through core/actions with `load` /
`attempt`: one unit of work each, errors shown as messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.actions import service as actions
from core.actions.schemas import ActionRead, ActionStats, RecordChange
from core.actor import Actor

RECORD_PAGES = {"deals": "deal", "contacts": "contact"}


def _reads(session: Any, actor: Actor, **filters: Any) -> list[ActionRead]:
    return [actions.to_read(a) for a in actions.list_actions(session, actor, **filters)]


def change_text(change: RecordChange) -> str:
    """What one click does, in words: "Creates a task due tomorrow: Follow up on Acme renewal"."""
    due = {0: "today", 1: "tomorrow"}.get(change.due_in_days, f"in {change.due_in_days} days")
    if change.type == "email":
        return f"Creates a task due {due} holding a drafted email: “{change.subject}” (not sent)"
    return f"Creates a task due {due}: {change.title}"


def _buttons(actor: Actor, action: ActionRead, where: Any, prefix: str) -> None:
    apply_col, ignore_col = where.columns(2)
    may_apply = actor.can("tasks", "create")
    if apply_col.button(
        "Apply",
        key=f"{prefix}_apply_{action.id}",
        type="primary",
        icon=":material/check:",
        disabled=not may_apply,
        help=change_text(action.change) if may_apply else "Your role cannot create tasks.",
    ):
        attempt(actor, actions.apply, action.id, done=f"Task created: {action.change.title}", rerun=True)
    if ignore_col.button("Ignore", key=f"{prefix}_ignore_{action.id}", icon=":material/close:"):
        attempt(actor, actions.ignore, action.id, done=f"Ignored: {action.title}", rerun=True)


def _card(actor: Actor, action: ActionRead, *, prefix: str, link: bool = False) -> None:
    """One action: title (a link to its record in lists across records), reason, expected value, Apply / Ignore
    (widget keys `<prefix>_apply_<id>` and `<prefix>_ignore_<id>`)."""
    with st.container(border=True):
        text, value, buttons = st.columns([6, 2, 3], vertical_alignment="center")
        with text:
            if link:
                ui.detail_link(RECORD_PAGES[action.entity_type], action.entity_id, action.title)
            else:
                st.markdown(f"**{action.title}**")
            st.caption(action.reason)
        value.metric("Expected value", ui.money(action.expected_value, action.currency))
        _buttons(actor, action, buttons, prefix)


def for_record(actor: Actor, entity_type: str, entity_id: UUID) -> None:
    """The record's open actions, highest expected value first, each with its reason and Apply / Ignore."""
    if not actor.can("insights", "read"):
        return
    st.subheader("Next best actions")
    found = load(actor, _reads, entity_type=entity_type, entity_id=entity_id)
    if not found:
        ui.empty("Nothing to suggest here right now.", icon=":material/task_alt:")
        return
    for action in found:
        _card(actor, action, prefix="nba_record")


def mine(actor: Actor, limit: int = 5) -> None:
    """What should I do next: the actor's own open actions of highest expected value, linked to their records."""
    if not actor.can("insights", "read"):
        return
    st.subheader("What should I do next")
    found = load(actor, _reads, mine=True, limit=limit)
    if not found:
        ui.empty("No suggested action for your deals and leads right now.", icon=":material/task_alt:")
        return
    for action in found:
        _card(actor, action, prefix="nba_mine", link=True)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def stats_table(result: ActionStats) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Action": k.kind_label,
                "Taken": k.taken,
                "Ignored": k.ignored,
                "Open": k.open,
                "Taken rate": _percent(k.taken_rate),
                "Won with it": _percent(k.with_action_rate),
                "Won without": _percent(k.without_action_rate),
                "Past cases": k.history_size,
            }
            for k in result.kinds
        ]
    )


def stats(actor: Actor, since: datetime | None = None) -> None:
    """Taken vs ignored, overall and by action type (the decisions since `since`, 90 days by default)."""
    if not actor.can("insights", "read"):
        return
    st.subheader("Next best actions: taken vs ignored")
    result = load(actor, actions.stats, since)
    tiles = st.columns(4)
    tiles[0].metric("Taken", f"{result.taken:,}")
    tiles[1].metric("Ignored", f"{result.ignored:,}")
    tiles[2].metric("Taken rate", _percent(result.taken_rate))
    tiles[3].metric("Open now", f"{result.open:,}")
    st.caption(
        f"Decisions since {result.since:%Y-%m-%d}, within the records you may see. Won with it / without: how past "
        "deals (leads: converted) in the same situation ended with and without the action, which values it."
    )
    st.dataframe(stats_table(result), hide_index=True, width="stretch")
