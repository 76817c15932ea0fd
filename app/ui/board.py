"""Helpers of the Pipeline and Deal pages: card labels, drag-and-drop moves read from the sortable board,
writes whose version conflicts are explained in the user's words, and reads that may find nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import streamlit as st

from app.ui.calls import attempt
from app.ui.pages import by_file
from app.ui.widgets import detail_link, money
from core.actor import Actor
from core.deals.board import Board, BoardCard
from core.errors import Conflict

T = TypeVar("T")

CONFLICT = (
    "Someone else changed this deal since you loaded it, so nothing was changed. "
    "Reload to see their change, then apply yours again."
)


def card_label(card: BoardCard, *, owner: bool = True) -> str:
    """The text a card shows, most telling first (a narrow card may clip its end): name, amount, the lead score
    of the deal's contact (when there is one to show), age in stage with the rotting flag, account, owner (left
    out on a board of one's own deals)."""
    parts = [card.name, money(card.amount, card.currency)]
    if card.lead_score is not None:
        parts.append(f"score {card.lead_score}")
    parts.append(f"{card.days_in_stage}d in stage" + (" ⚠ rotting" if card.is_rotting else ""))
    if card.account_name and not card.name.startswith(card.account_name):
        parts.append(card.account_name)
    if owner:
        parts.append(card.owner_name)
    return " · ".join(parts)


@dataclass
class SortableBoard:
    """The board as `streamlit_sortables.sort_items` takes it (one container per open stage, one string per
    card) and what each string stands for."""

    containers: list[dict[str, Any]]
    cards: dict[str, BoardCard] = field(default_factory=dict)
    stages: list[UUID] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """Changes whenever what the board shows changes (a fresh component then starts from it)."""
        text = repr([(c["header"], c["items"]) for c in self.containers])
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def sortable_board(board: Board, *, owner: bool = True) -> SortableBoard:
    """Card strings are unique (a short id is added to a label that repeats), so a drop maps back to its deal."""
    sortable = SortableBoard(containers=[])
    for column in board.columns:
        items = []
        for card in column.cards:
            label = card_label(card, owner=owner)
            if label in sortable.cards:
                label = f"{label} · #{card.id.hex[-6:]}"
            sortable.cards[label] = card
            items.append(label)
        sortable.containers.append({"header": f"{column.name} ({column.count:,})", "items": items})
        sortable.stages.append(column.stage_id)
    return sortable


def dropped(sortable: SortableBoard, result: Any) -> list[tuple[BoardCard, UUID]]:
    """(card, new stage) for every card the user dragged into another stage's container; order within a
    stage means nothing on a board and is ignored, as is anything the component returns that it was not given."""
    if not isinstance(result, list) or len(result) != len(sortable.stages):
        return []
    moves = []
    for stage_id, container in zip(sortable.stages, result, strict=True):
        items = container.get("items", []) if isinstance(container, dict) else []
        for label in items:
            card = sortable.cards.get(label) if isinstance(label, str) else None
            if card is not None and card.stage_id != stage_id:
                moves.append((card, stage_id))
    return moves


class _Stale(Exception):
    pass


class _Messages:
    """Stands in for a container: keeps the errors `attempt` shows, for the page to show where it wants."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, body: str, icon: str | None = None) -> None:
        self.errors.append(body)


@dataclass
class Outcome:
    result: Any = None
    problem: str | None = None
    conflict: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def write_deal(actor: Actor, fn: Callable[..., Any], *, done: str, clear: tuple[str, ...] = ()) -> Outcome:
    """`attempt` for a deal change that carries the version the user saw: on success the caches are cleared
    and `done` toasted; a version conflict comes back as `CONFLICT` (nothing written), any other refusal as
    core's message. The page decides where to show the problem. `fn` must return something other than None."""

    def guarded(session: Any, current: Actor) -> Any:
        try:
            return fn(session, current)
        except Conflict as exc:
            if exc.code == "VERSION_CONFLICT":
                raise _Stale from exc
            raise

    messages = _Messages()
    try:
        result = attempt(actor, guarded, done=done, where=messages, clear=clear)
    except _Stale:
        return Outcome(problem=CONFLICT, conflict=True)
    if result is None:
        return Outcome(problem="\n".join(messages.errors) or "The change was refused.")
    return Outcome(result=result)


def show_problem(outcome: Outcome, where: Any = None, *, reload_key: str | None = None) -> None:
    """A refused change: a conflict as a warning (with a reload button), anything else as an error."""
    box = where or st
    if outcome.conflict:
        box.warning(outcome.problem, icon=":material/sync_problem:")
        if reload_key and box.button("Reload", key=reload_key, icon=":material/refresh:"):
            st.rerun()
    elif outcome.problem:
        box.error(outcome.problem, icon=":material/error:")


def record_link(actor: Actor, kind: str, record_id: UUID | str, label: str) -> None:
    """A link to a record's detail page when that page exists and the actor may open it; else the label."""
    page = by_file(f"{kind}.py")
    if page.path.exists() and page.allows(actor):
        detail_link(kind, record_id, label)
    else:
        st.markdown(label)
