"""Field suggestions on a contact's or an account's page: each proposed value with its reason, confidence and
source, and Accept / Reject buttons. Accepting writes through the record's service (audited, versioned); a
suggestion whose field changed since is shown as stale and cannot be accepted. Reads and writes go through
core/suggestions with `load` / `attempt`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import streamlit as st

from app.ui.calls import attempt, load
from core.actor import Actor
from core.suggestions import service as suggestions
from core.suggestions.schemas import SuggestionRead

KIND = {"contacts": "contact", "accounts": "account"}


def shown_value(value: Any) -> str:
    """A field's value in words: empty, or as it is."""
    if value is None or value == "" or value == []:
        return "empty"
    if isinstance(value, dict):
        return str(value.get("name") or value)
    return str(value)


def confidence_text(s: SuggestionRead) -> str:
    return f"{float(s.confidence):.0%} sure"


def source_text(s: SuggestionRead) -> str:
    kind, _, name = s.source.partition(":")
    what = {"rule": "rule", "model": "model", "provider": "provider"}.get(kind, kind)
    return f"{what} {name.replace('_', ' ')}" + (f" ({s.model_version})" if kind == "model" and s.model_version else "")


def _accept(session: Any, actor: Actor, suggestion_id: UUID) -> Any:
    return suggestions.accept(session, actor, suggestion_id)


def _reject(session: Any, actor: Actor, suggestion_id: UUID) -> Any:
    return suggestions.reject(session, actor, suggestion_id)


def for_record(actor: Actor, entity_type: str, entity_id: UUID) -> None:
    """The record's open suggestions, surest first, to accept or reject one by one (nothing when the actor may
    not read insights)."""
    if not actor.can("insights", "read"):
        return
    items = load(actor, suggestions.list_for_record, entity_type, entity_id)
    can_edit = actor.can(entity_type, "update")
    with st.container(border=True):
        st.markdown("**Suggestions**")
        if not items:
            st.caption(f"No suggestions for this {KIND.get(entity_type, 'record')}: its fields look complete.")
            return
        st.caption("Proposed from the record's own data, never written until you accept.")
        for s in items:
            row = st.columns([2, 5, 1, 1], vertical_alignment="center")
            row[0].markdown(f"**{s.field_label}**")
            change = (
                f"{s.suggested_label}"
                if s.field == suggestions.DUPLICATE
                else f"{shown_value(s.current_value)} → **{s.suggested_label}**"
            )
            row[1].markdown(change)
            row[1].caption(f"{s.reason} · {confidence_text(s)} · {source_text(s)}")
            if s.stale:
                row[1].caption(":orange[Stale: the field changed since this was suggested.]")
            label = "Merge" if s.field == suggestions.DUPLICATE else "Accept"
            if row[2].button(label, key=f"sg_accept_{s.id}", disabled=s.stale or not can_edit, type="primary"):
                attempt(actor, _accept, s.id, done=f"{s.field_label}: {s.suggested_label}", rerun=True)
            if row[3].button("Reject", key=f"sg_reject_{s.id}", disabled=not can_edit):
                attempt(actor, _reject, s.id, done=f"Suggestion for {s.field_label.lower()} rejected", rerun=True)
