"""Sentiment where people see it: a badge on each note and activity of a record's timeline with one-click
correction, an account's trend by month, and the workspace's model status.

Everything reads and writes through core/ and ai/ (`load`, `attempt`) as the signed-in actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from app.ui.calls import attempt, find
from core.actor import Actor
from core.sentiment import service
from core.sentiment.schemas import SentimentRead

COLOURS = {"negative": "red", "neutral": "gray", "positive": "green"}
ICONS = {
    "negative": ":material/sentiment_dissatisfied:",
    "neutral": ":material/sentiment_neutral:",
    "positive": ":material/sentiment_satisfied:",
}
LABELS = ("negative", "neutral", "positive")


def can_see(actor: Actor) -> bool:
    return actor.can("insights", "read")


def for_timeline(actor: Actor, notes: Iterable[str], activities: Iterable[str]) -> dict[str, SentimentRead]:
    """The sentiment of the timeline's notes and activities by id (one read each; nothing without
    `insights:read`)."""
    if not can_see(actor):
        return {}
    found: dict[str, SentimentRead] = {}
    for entity_type, ids in (("notes", list(notes)), ("activities", list(activities))):
        if not ids:
            continue
        read = find(actor, service.list_for, entity_type, [UUID(i) for i in ids])
        found.update({str(s.entity_id): s for s in read or []})
    return found


def badge(found: SentimentRead | None) -> str:
    """The label as a coloured badge ("Negative", "Neutral · corrected"), or a quiet note while unread."""
    if found is None or found.label is None:
        return ":gray-badge[Sentiment: reading…]"
    corrected = " · corrected" if found.corrected_label else ""
    return f":{COLOURS[found.label]}-badge[{ICONS[found.label]} {found.label.title()}{corrected}]"


def entry_sentiment(actor: Actor, entity_type: str, entity_id: str, found: SentimentRead | None) -> None:
    """Under a timeline entry: the badge, the sentence behind it (its reason), and, for who may edit the record,
    one button per other label that corrects it in one click."""
    if not can_see(actor):
        return
    line = st.columns([3, 1, 1], vertical_alignment="center")
    reason = f" {found.reason}" if found is not None and found.reason and not found.corrected_label else ""
    line[0].markdown(f"{badge(found)}{reason}", help="Sentiment of this text; click a label to correct it.")
    if not actor.can(entity_type, "update"):
        return
    current = found.label if found is not None else None
    others = [label for label in LABELS if label != current][:2]
    for column, label in zip(line[1:], others, strict=False):
        if column.button(
            label.title(),
            key=f"sentiment_{entity_type}_{entity_id}_{label}",
            icon=ICONS[label],
            type="tertiary",
            help=f"Correct: this text is {label}",
        ):
            attempt(
                actor,
                service.correct,
                entity_type,
                UUID(entity_id),
                label,
                done=f"Marked {label}: your workspace's sentiment model learns from it",
                rerun=True,
            )


def account_trend(actor: Actor, account_id: UUID) -> None:
    """The account page's sentiment panel: per month, notes and activities by label (its own, its contacts' and
    its deals'), with the summary line."""
    if not can_see(actor):
        return
    trend = find(actor, service.account_trend, account_id)
    if trend is None:
        return
    st.markdown("**Customer sentiment**")
    st.caption(trend.summary)
    if not any(m.total for m in trend.months):
        return
    frame = pd.DataFrame(
        [
            {"Month": m.month.strftime("%Y-%m"), "Negative": m.negative, "Neutral": m.neutral, "Positive": m.positive}
            for m in trend.months
        ]
    ).set_index("Month")
    st.bar_chart(frame, color=["#d62728", "#9e9e9e", "#2ca02c"], height=220)


def model_status(actor: Actor) -> Mapping[str, Any] | None:
    """The workspace's sentiment model in words and figures (for an admin or Insights page)."""
    if not can_see(actor):
        return None
    from ai.nlp import sentiment_crm

    found = find(actor, sentiment_crm.status)
    if found is None:
        return None
    st.markdown("**Sentiment model**")
    st.caption(found.message)
    per_class = ", ".join(f"{n} {label}" for label, n in found.per_class.items())
    st.caption(f"Corrections: {found.examples} ({per_class})")
    return found.model_dump()
