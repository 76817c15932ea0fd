"""Pipeline: one board per pipeline, a column per open stage with its totals over every matching deal, the
top cards of each stage (drag one to another stage, or use the quick move below), won/lost with a reason,
filters, and a table view with links to each deal."""

from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st
from streamlit_sortables import sort_items

from app.ui import widgets as ui
from app.ui.board import card_label, dropped, show_problem, sortable_board, write_deal
from app.ui.calls import load
from core.deals import board as boards
from core.deals import service as deals
from core.pipelines import service as pipelines
from core.users import service as users

CARDS_PER_STAGE = 25
TABLE_ROWS = 5_000
SEEN = "pl_seen_versions"  # deal id -> the version shown in the previous run: what the user acts on
DRAG_ROUND = "pl_drag_round"  # bumped after each drop, so the component starts again from the database
NOTICE = "pl_notice"  # a refused drop, shown after the rerun that resets the board
# Cards of one fixed height: cards that change size while dragged make the component's drop targets flip
# ("Maximum update depth exceeded" in its frontend).
BOARD_STYLE = """
.sortable-component { gap: 0.5rem; }
.sortable-container { background-color: #f4f5f7; border-radius: 8px; flex: 1 1 0; min-width: 0; }
.sortable-container-header { font-weight: 600; padding: 0.4rem 0.6rem; }
.sortable-item, .sortable-item:hover {
  background-color: #ffffff; color: #262730; border-radius: 6px; box-shadow: 0 0 0 1px #dcdfe4;
  border-top: 0.4rem solid #ffffff; border-bottom: 0.4rem solid #ffffff; padding: 0 0.55rem;
  font-size: 0.8rem; line-height: 1.3; text-align: left; white-space: normal;
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 4; overflow: hidden;
  height: calc(5.2em + 0.8rem); box-sizing: border-box;
}
"""

actor = ui.page("pipeline.py", "Open deals by stage, with totals over every deal that matches the filters.")
seen_before: dict[str, int] = st.session_state.get(SEEN, {})
can_move = actor.can("deals", "update")
owner_on_cards = actor.scope != "own"  # a rep's board holds only their own deals: no name repeated on each card
may_score = actor.can("scores", "read")
ORDERS = {"amount": "Largest first", "age": "Longest in stage first", "score": "Hottest lead first"}

found = load(actor, pipelines.list_pipelines)
if not found:
    ui.empty("There is no pipeline yet. An admin can add one under Admin → Pipelines.")
    st.stop()
names = {p.id: p.name for p in found}
pipeline_id = (
    st.selectbox("Pipeline", list(names), format_func=names.__getitem__, key="pl_pipeline")
    if len(found) > 1
    else found[0].id
)

# Filters ------------------------------------------------------------------------------------------------
with st.expander("Filters", icon=":material/filter_list:"):
    columns = st.columns(4)
    owner_ids: list = []
    team_ids: list = []
    if actor.scope != "own":
        people, _ = load(actor, users.list_users, limit=500)
        people_names = {u.id: u.full_name for u in people}
        owner_ids = columns[0].multiselect(
            "Owner", list(people_names), format_func=people_names.__getitem__, key="pl_owners"
        )
        teams = {t.id: t.name for t in load(actor, users.list_teams)}
        team_ids = columns[1].multiselect("Team", list(teams), format_func=teams.__getitem__, key="pl_teams")
    close_range = columns[2].date_input("Expected close between", value=(), key="pl_close")
    order = columns[3].segmented_control(
        "Cards",
        [o for o in ORDERS if may_score or o != "score"],
        default="amount",
        format_func=ORDERS.__getitem__,
        key="pl_order",
    )
    low, high, hot = st.columns(3)
    amount_min = low.number_input("Amount from", min_value=0.0, value=None, step=1000.0, key="pl_amount_min")
    amount_max = high.number_input("Amount up to", min_value=0.0, value=None, step=1000.0, key="pl_amount_max")
    min_score = (
        hot.number_input(
            "Lead score from",
            min_value=0,
            max_value=100,
            value=None,
            step=5,
            key="pl_min_score",
            help="Only deals whose contact's lead score is at least this",
        )
        if may_score
        else None
    )

close_from: date | None = close_range[0] if len(close_range) > 0 else None
close_to: date | None = close_range[1] if len(close_range) > 1 else close_from
filters = boards.BoardFilters(
    owner_ids=tuple(owner_ids),
    team_ids=tuple(team_ids),
    close_from=close_from,
    close_to=close_to,
    amount_min=None if amount_min is None else Decimal(str(amount_min)),
    amount_max=None if amount_max is None else Decimal(str(amount_max)),
    min_score=None if min_score is None else int(min_score),
)
board = load(
    actor, boards.pipeline_board, pipeline_id, filters, cards_per_stage=CARDS_PER_STAGE, order=order or "amount"
)
stage_names = {c.stage_id: c.name for c in board.columns}
cards = {card.id: card for column in board.columns for card in column.cards}

# Totals -------------------------------------------------------------------------------------------------
tiles = st.columns(3)
tiles[0].metric("Open deals", f"{board.count:,}")
tiles[1].metric("Pipeline amount", ui.money(board.amount, board.currency))
tiles[2].metric("Weighted amount", ui.money(board.weighted_amount, board.currency), help="amount × probability")
if board.foreign_currencies:
    st.caption(
        f"Some deals are in {', '.join(board.foreign_currencies)}: their amounts are added as they are, "
        f"without conversion to {board.currency}."
    )
if not board.columns:
    ui.empty("This pipeline has no open stage.")
    st.stop()

for column, slot in zip(board.columns, st.columns(len(board.columns)), strict=True):
    with slot:
        st.metric(column.name, f"{column.count:,}", help=f"Open deals in {column.name} matching the filters")
        st.caption(
            f"{ui.money(column.amount, board.currency)} · weighted {ui.money(column.weighted_amount, board.currency)}"
        )
        if column.rotting:
            st.caption(f":red[{column.rotting} rotting]")
        if column.more:
            st.caption(f"{column.more:,} more — use filters or the table view")

notice = st.session_state.pop(NOTICE, None)
if notice:
    show_problem(notice, reload_key="pl_reload_notice")

view = st.segmented_control("View", ["Board", "Table"], default="Board", key="pl_view") or "Board"
picked_row = None

if view == "Board":
    if board.count == 0:
        ui.empty("No open deal matches. Change the filters or add a deal.")
    elif not can_move:  # a board to look at: no drag-and-drop for a role that cannot move deals
        for column, slot in zip(board.columns, st.columns(len(board.columns)), strict=True):
            with slot.container(border=True):
                st.markdown(f"**{column.name}** ({column.count:,})")
                st.markdown("\n\n".join(f"- {card_label(card, owner=owner_on_cards)}" for card in column.cards) or "—")
    else:
        st.caption("Drag a card to another stage to move the deal; win or lose it below.")
        sortable = sortable_board(board, owner=owner_on_cards)
        result = sort_items(
            sortable.containers,
            multi_containers=True,
            direction="vertical",
            custom_style=BOARD_STYLE,
            key=f"pl_board_{st.session_state.get(DRAG_ROUND, 0)}_{sortable.digest}",
        )
        moves = dropped(sortable, result)
        if moves:
            st.session_state[DRAG_ROUND] = st.session_state.get(DRAG_ROUND, 0) + 1
            for card, stage_id in moves:
                outcome = write_deal(
                    actor,
                    lambda s, a, c=card, to=stage_id: (
                        deals.move_stage(s, a, c.id, to, version=seen_before.get(str(c.id), c.version)).version
                    ),
                    done=f"Moved {card.name} to {stage_names[stage_id]}",
                )
                if not outcome.ok:
                    st.session_state[NOTICE] = outcome
                    break
            st.rerun()
else:
    rows = load(actor, boards.board_rows, pipeline_id, filters, limit=TABLE_ROWS, order=order or "amount")
    if not rows:
        ui.empty("No open deal matches. Change the filters or add a deal.")
    else:
        if len(rows) == TABLE_ROWS:
            st.caption(f"The first {TABLE_ROWS:,} deals; narrow the filters to see the others.")
        table = pd.DataFrame(
            {
                "Open": [ui.detail_url("deal", r.id) for r in rows],
                "Deal": [r.name for r in rows],
                "Account": [r.account_name or "" for r in rows],
                "Stage": [r.stage_name for r in rows],
                "Amount": [float(r.amount) if r.amount is not None else None for r in rows],
                "Weighted": [float(r.weighted_amount) if r.weighted_amount is not None else None for r in rows],
                "Lead score": [r.lead_score for r in rows],
                "Owner": [r.owner_name for r in rows],
                "Close date": [r.expected_close_date for r in rows],
                "Days in stage": [r.days_in_stage for r in rows],
                "Rotting": [r.is_rotting for r in rows],
            }
        )
        picked = st.dataframe(
            table,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key="pl_table",
            column_config={
                "Open": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
                "Amount": st.column_config.NumberColumn(f"Amount ({board.currency})", format="localized"),
                "Weighted": st.column_config.NumberColumn(f"Weighted ({board.currency})", format="localized"),
                "Rotting": st.column_config.CheckboxColumn(),
                "Lead score": st.column_config.NumberColumn(help="The lead score of the deal's contact"),
            },
        )
        selected = picked.selection.rows if picked is not None else []
        if selected:
            picked_row = rows[selected[0]]
            cards.setdefault(picked_row.id, picked_row)

# Quick move, won and lost -------------------------------------------------------------------------------
st.subheader("Move, win or lose a deal" if can_move else "Open a deal")
if not cards:
    ui.empty("No deal on the board to act on.")
else:
    choices = list(cards)
    pick, link = st.columns([3, 2], vertical_alignment="bottom")
    deal_id = pick.selectbox(
        "Deal",
        choices,
        index=choices.index(picked_row.id) if picked_row else None,
        format_func=lambda i: f"{cards[i].name} ({cards[i].stage_name})",
        placeholder="Choose a deal on the board",
        key="pl_quick_deal",
    )
    if deal_id is not None:
        with link:
            ui.detail_link("deal", deal_id, f"Open {cards[deal_id].name}")
if cards and can_move:
    box = st.container()
    with st.form("pl_quick", clear_on_submit=False, border=True):
        top = st.columns([2, 3])
        target = top[0].selectbox("To stage", list(stage_names), format_func=stage_names.__getitem__, key="pl_to")
        reason = top[1].text_input("Lost reason", placeholder="Required to mark a deal lost", key="pl_reason")
        buttons = st.container(horizontal=True)
        move = buttons.form_submit_button("Move", type="primary", icon=":material/arrow_forward:")
        won = buttons.form_submit_button("Mark won", icon=":material/emoji_events:", disabled=not board.has_won_stage)
        lost = buttons.form_submit_button("Mark lost", icon=":material/block:", disabled=not board.has_lost_stage)
    if move or won or lost:
        card = cards.get(deal_id) if deal_id is not None else None
        if card is None:
            box.error("Choose a deal first.", icon=":material/error:")
        elif lost and not reason.strip():
            box.error("Give the reason the deal was lost; it is required to mark a deal lost.", icon=":material/error:")
        else:
            version = seen_before.get(str(card.id), card.version)
            if move:
                outcome = write_deal(
                    actor,
                    lambda s, a: deals.move_stage(s, a, card.id, target, version=version).version,
                    done=f"Moved {card.name} to {stage_names[target]}",
                )
            elif won:
                outcome = write_deal(
                    actor,
                    lambda s, a: deals.mark_won(s, a, card.id, version=version).version,
                    done=f"Won: {card.name}",
                    clear=("pl_quick_deal",),
                )
            else:
                outcome = write_deal(
                    actor,
                    lambda s, a: deals.mark_lost(s, a, card.id, reason, version=version).version,
                    done=f"Lost: {card.name}",
                    clear=("pl_quick_deal", "pl_reason"),
                )
            if outcome.ok:
                st.rerun()
            show_problem(outcome, box, reload_key="pl_reload")

st.session_state[SEEN] = {str(i): c.version for i, c in cards.items()}
