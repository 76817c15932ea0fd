"""Albedo in the UI: a reply drawn as the user reads it (text, the table with links to its records, a chart, a
figure, a proposal to confirm or cancel, the choices of a clarifying question, suggestions), the conversation
list of the sidebar, and the "Ask Albedo" button of the record pages.

The conversation shown is the `conversation` query parameter, so a reload, a bookmark or a link from a record page
opens the same one. Buttons that ask something (a suggestion, an option) queue their words for the next run,
where they are sent as if typed, so every question goes through the same path as the chat input."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import altair as alt
import pandas as pd
import streamlit as st

from ai.albedo import chat
from ai.albedo.contract import Chart, Option, ProposalView, RecordRef, Reply, Table
from app.ui import widgets as ui
from app.ui.calls import attempt, find, load, problem_text, remember_toast
from app.ui.pages import by_file
from app.ui.session import request_context
from core.actor import Actor
from core.albedo import proposals
from core.albedo import service as conversations
from core.albedo.models import Conversation, Message
from core.albedo.schemas import ConversationCreate, ConversationRename, ProposalRead, RecordContext
from core.db import reset_context, set_context, unit_of_work
from core.errors import DomainError

PAGE = "albedo.py"
PARAM = "conversation"
PENDING = "albedo_pending"  # words a button asked, sent on the next run as if typed
DELETING = "albedo_deleting"  # the conversation whose delete awaits a second click
LINKABLE = {"contact": "contact", "account": "account", "deal": "deal"}
KINDS = {"contacts": "contact", "accounts": "account", "deals": "deal"}
STARTERS = (
    "How many open deals do I have?",
    "Show my open deals",
    "What is my pipeline by stage?",
    "Which of my deals are stuck?",
    "Show my tasks due this week",
    "What is the forecast for this quarter?",
)
RECORD_STARTERS = {
    "deal": ("Summarize this deal", "What should I do next on this deal?"),
    "account": ("Summarize this account", "What should I do next with this account?"),
    "contact": ("Summarize this contact", "What should I do next with this contact?"),
}
STATUS_WORDS = {
    "pending": "Waiting for your confirmation",
    "confirmed": "Done",
    "cancelled": "Cancelled: nothing was changed",
    "failed": "Failed: nothing was changed",
    "undone": "Undone",
}


# Which conversation ---------------------------------------------------------------------------------------


def current_id() -> UUID | None:
    """The open conversation (the `conversation` query parameter), or None for a new one."""
    raw: Any = st.query_params.get(PARAM)
    try:
        return UUID(str(raw)) if raw else None
    except ValueError:
        return None


def open_conversation(conversation_id: UUID | None) -> None:
    """Show another conversation (None: a new, empty one); a button's callback, so it applies before the run."""
    st.session_state.pop(DELETING, None)
    st.session_state.pop(PENDING, None)
    if conversation_id is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = str(conversation_id)


def ask(text: str) -> None:
    """Queue `text` as the user's next message (a suggestion's or an option's button)."""
    st.session_state[PENDING] = text


def pending() -> str | None:
    return st.session_state.pop(PENDING, None)


def _context_of(conversation: Conversation) -> tuple[str, UUID] | None:
    """The record a conversation was opened from, as (kind, id), whichever spelling stored it."""
    context = conversation.context or {}
    kind = context.get("entity_type") or context.get("entityType") or context.get("type")
    raw = context.get("entity_id") or context.get("entityId") or context.get("id")
    kind = KINDS.get(str(kind), str(kind))
    try:
        return (kind, UUID(str(raw))) if kind in LINKABLE and raw else None
    except ValueError:
        return None


def record_label(actor: Actor, kind: str, record_id: UUID) -> str | None:
    """The record's name as the actor may see it (None when it is gone or out of their scope)."""
    from core.accounts import service as accounts
    from core.contacts import service as contacts
    from core.deals import service as deals

    if kind == "deal":
        deal = find(actor, deals.get, record_id)
        return deal.name if deal is not None else None
    if kind == "account":
        account = find(actor, accounts.get, record_id)
        return account.name if account is not None else None
    contact = find(actor, contacts.get, record_id)
    return f"{contact.first_name} {contact.last_name}".strip() if contact is not None else None


def start_about(actor: Actor, kind: str, record_id: UUID, label: str | None = None) -> UUID | None:
    """A new conversation with the record as its context (None, with the reason shown, when refused)."""
    plural = f"{kind}s"
    title = f"About {label}"[:255] if label else None
    return attempt(
        actor,
        lambda s, a: (
            conversations.start(
                s, a, ConversationCreate(title=title, context=RecordContext(entity_type=plural, entity_id=record_id))
            ).id
        ),
    )


def from_record_param(actor: Actor) -> None:
    """`?record=deal:<id>` (a link from elsewhere): start a conversation about that record and put its id in the
    address instead, so a reload opens this conversation rather than starting another."""
    raw: Any = st.query_params.get("record")
    if not raw:
        return
    kind, _, value = str(raw).partition(":")
    kind = KINDS.get(kind, kind)
    try:
        record_id = UUID(value)
    except ValueError:
        record_id = None
    if kind not in LINKABLE or record_id is None:
        st.query_params.pop("record", None)
        st.error(
            f"“{raw}” is not a record Albedo can talk about (deal:<id>, account:<id> or contact:<id>).",
            icon=":material/error:",
        )
        return
    label = record_label(actor, kind, record_id)
    if label is None:
        st.query_params.pop("record", None)
        st.error(f"No {kind} you can open has that id.", icon=":material/error:")
        return
    started = start_about(actor, kind, record_id, label)
    st.query_params.pop("record", None)
    if started is not None:
        st.query_params[PARAM] = str(started)


def ask_button(actor: Actor, kind: str, record_id: UUID, label: str) -> None:
    """The "Ask Albedo" button of a record page: opens the Albedo page on a new conversation about the record."""
    page = by_file(PAGE)
    if not page.path.exists() or not page.allows(actor):
        return
    if st.button("Ask Albedo", key=f"ask_albedo_{kind}_{record_id}", icon=":material/smart_toy:"):
        started = start_about(actor, kind, record_id, label)
        if started is not None:
            st.switch_page(page.path, query_params={PARAM: str(started)})


# Asking ---------------------------------------------------------------------------------------------------


def send(actor: Actor, conversation_id: UUID | None, text: str) -> tuple[UUID, Message] | None:
    """Ask `text` (in a new conversation when there is none yet), drawing the exchange as it comes: the question,
    then the reply's words as the engine produces them. Returns the conversation and the stored answer."""
    with st.chat_message("user"):
        st.markdown(_plain(text))
    with st.chat_message("assistant"):
        words = st.empty()
        words.markdown(":gray[Albedo is thinking…]")
        said: list[str] = []

        def streamed(chunk: str) -> None:
            said.append(chunk)
            words.markdown(_plain("".join(said)) + " ▌")

        def exchange(s: Any, a: Actor) -> tuple[UUID, Message, Reply]:
            target = conversation_id or conversations.start(s, a).id
            done = chat.send(s, a, target, text, on_text=streamed)
            return target, done.answer, done.reply

        try:  # messages only: no record changes, so the page caches stay (unlike calls.attempt)
            token = set_context(request_context())
            try:
                with unit_of_work(actor) as session:
                    result = exchange(session, actor)
            finally:
                reset_context(token)
        except DomainError as exc:
            words.empty()
            st.error(problem_text(exc), icon=":material/error:")
            return None
        target, answer, reply = result
        words.markdown(_plain(reply.text))
        reply_body(actor, reply, key=str(answer.id), latest=True, with_text=False)
    if conversation_id is None:
        st.query_params[PARAM] = str(target)
    return target, answer


# Drawing a reply ------------------------------------------------------------------------------------------


MARKUP = re.compile(r"([\\`*_\[\]!$~<>|])")
LINE_MARK = re.compile(r"^(\s*)([#>+\-=])")
NUMBERED = re.compile(r"^(\s*\d+)([.)])")


def _plain(text: str) -> str:
    """Words shown as written, line by line: text from records is data, so a name's `$`, `*`, `:red[…]` or
    `![](url)` must not become LaTeX, emphasis, a colour or an image fetched from elsewhere (Streamlit renders
    markdown in messages, labels and captions alike)."""
    lines = []
    for line in text.split("\n"):
        line = MARKUP.sub(r"\\\1", line)
        line = LINE_MARK.sub(r"\1\\\2", line)
        lines.append(NUMBERED.sub(r"\1\\\2", line))
    return "  \n".join(lines)


def reply_body(actor: Actor, reply: Reply, *, key: str, latest: bool, with_text: bool = True) -> None:
    """Everything of a reply under its words. `latest` adds what only makes sense for the newest reply: the
    buttons answering a clarifying question and the suggested next questions."""
    if with_text:
        st.markdown(_plain(reply.text))
    if reply.notice:
        st.info(reply.notice, icon=":material/info:")
    if reply.table is not None:
        if reply.table.rows and reply.chart is not None:
            chart(reply.chart, reply.table, key=key)
        if reply.table.rows:
            table(actor, reply.table, key=key)
    elif reply.value is not None:
        st.metric(_plain(_value_label(reply)), _value_text(reply.value))
    if reply.proposal is not None:
        proposal(actor, reply.proposal, key=key)
    if latest and reply.options:
        options(reply.options, key=key)
    sources(actor, reply, key=key)
    if latest and reply.suggestions:
        suggestions(reply.suggestions, key=f"{key}_next")


def _value_label(reply: Reply) -> str:
    """What the figure is: the words before it in the reply ("Deals (all time): 3") when short, else "Answer"."""
    head, colon, _ = reply.text.partition(":")
    return head.strip() if colon and 0 < len(head.strip()) <= 60 else "Answer"


def field_name(name: str) -> str:
    """An API field name as words: "expectedCloseDate" -> "expected close date", "ownerId" -> "owner"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("customFields.", "").replace("_", " ")).lower()
    return words.removesuffix(" id")


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return f"{float(value):,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> Any:
    """A value a data frame shows as it reads (lists joined, mappings as text)."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return value


def _columns(names: list[str]) -> list[str]:
    """Display names made unique (a data frame shows each column once)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _link(actor: Actor, record: RecordRef) -> str | None:
    kind = LINKABLE.get(record.type)
    if kind is None:
        return None
    page = by_file(f"{kind}.py")
    return ui.detail_url(kind, record.id) if page.path.exists() and page.allows(actor) else None


def frame(actor: Actor, data: Table) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table as a data frame with an "Open" link per row when its rows are records the actor can open."""
    names = _columns(data.columns)
    rows = [[_cell(v) for v in row] for row in data.rows]
    shown = pd.DataFrame(rows, columns=names)
    config: dict[str, Any] = {}
    for name in names:
        if pd.api.types.is_numeric_dtype(shown[name]) and not pd.api.types.is_bool_dtype(shown[name]):
            config[name] = st.column_config.NumberColumn(format="localized")
    if len(data.records) == len(data.rows):
        links = [_link(actor, r) for r in data.records]
        if any(links):
            shown.insert(0, "Open", links)
            config["Open"] = st.column_config.LinkColumn(" ", display_text="Open", width="small")
    return shown, config


def table(actor: Actor, data: Table, *, key: str) -> None:
    shown, config = frame(actor, data)
    st.dataframe(shown, hide_index=True, column_config=config, key=f"albedo_table_{key}")
    if data.total is not None and data.total > len(data.rows):
        st.caption(f"The first {len(data.rows):,} of {data.total:,}.")


def chart(spec: Chart, data: Table, *, key: str) -> None:
    """The chart the reply asked for, drawn over its table (`x` and `y` are keys of the table's columns)."""
    if spec.x not in data.keys or spec.y not in data.keys:
        return
    names = dict(zip(data.keys, data.columns, strict=False))
    x, y = data.keys.index(spec.x), data.keys.index(spec.y)
    points = pd.DataFrame(
        {
            "x": [str(_cell(row[x])) for row in data.rows],
            "y": pd.to_numeric([row[y] for row in data.rows], errors="coerce"),
        }
    )
    x_title, y_title = names[spec.x], names[spec.y]
    base = alt.Chart(points, title=spec.title or alt.Undefined)
    if spec.type == "pie":
        drawn = base.mark_arc().encode(
            theta=alt.Theta("y:Q", title=y_title),
            color=alt.Color("x:N", title=x_title, sort=None),
            tooltip=[alt.Tooltip("x:N", title=x_title), alt.Tooltip("y:Q", title=y_title, format=",")],
        )
    else:
        mark = base.mark_line(point=True) if spec.type == "line" else base.mark_bar()
        drawn = mark.encode(
            x=alt.X("x:N", title=x_title, sort=None, axis=alt.Axis(labelAngle=0 if len(points) <= 8 else -45)),
            y=alt.Y("y:Q", title=y_title),
            tooltip=[alt.Tooltip("x:N", title=x_title), alt.Tooltip("y:Q", title=y_title, format=",")],
        )
    st.altair_chart(drawn, width="stretch", key=f"albedo_chart_{key}")


def sources(actor: Actor, reply: Reply, *, key: str) -> None:
    """How the answer was found: the tools called and the records behind the figures, for who wants to check."""
    if not reply.tool_calls:
        return
    with st.expander("How Albedo found this", icon=":material/manage_search:"):
        for call in reply.tool_calls:
            args = ", ".join(f"{k}={v}" for k, v in call.arguments.items() if v not in (None, [], {}, ""))
            outcome = "" if call.ok else f" · :red[{_plain(call.error or 'failed')}]"
            st.markdown(f"`{call.name}`({_plain(args)}){outcome}")
            linked = [r for r in call.records[:10] if _link(actor, r)]
            if linked:
                st.markdown(" · ".join(f"[{_plain(r.label)}]({_link(actor, r)})" for r in linked))


# Clarifications and suggestions ---------------------------------------------------------------------------


def options(choices: list[Option], *, key: str) -> None:
    """A clarifying question's answers: a click sends the option's reply as the user's next message."""
    columns = st.columns(min(len(choices), 4))
    for index, option in enumerate(choices):
        columns[index % len(columns)].button(
            _plain(option.label),
            key=f"albedo_option_{key}_{index}",
            on_click=ask,
            args=(option.reply,),
            width="stretch",
        )


def suggestions(questions: list[str] | tuple[str, ...], *, key: str) -> None:
    """Questions worth asking: a click asks it."""
    columns = st.columns(min(len(questions), 3))
    for index, question in enumerate(questions):
        columns[index % len(columns)].button(
            _plain(question),
            key=f"albedo_suggest_{key}_{index}",
            on_click=ask,
            args=(question,),
            type="tertiary",
            icon=":material/chat_bubble_outline:",
        )


# Proposals ------------------------------------------------------------------------------------------------


def _proposal_id(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


def decision(actor: Actor, view: ProposalView) -> ProposalRead | None:
    """Where the proposal stands now (it may have been decided since the reply, here or through the API)."""
    proposal_id = _proposal_id(view.id)
    if proposal_id is None:
        return None
    return find(actor, lambda s, a: proposals.to_read(proposals.get(s, a, proposal_id)))


def _changes(view: ProposalView) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Record": [c.record.label if c.record else "(new)" for c in view.changes],
            "Field": [field_name(c.field) for c in view.changes],
            "Now": ["—" if c.old is None else str(_cell(c.old)) for c in view.changes],
            "After": ["—" if c.new is None else str(_cell(c.new)) for c in view.changes],
        }
    )


DONE = {"confirmed": "Done", "cancelled": "Cancelled", "undone": "Undone"}


def _decide(actor: Actor, fn: Callable[..., Any], proposal_id: UUID) -> None:
    """Confirm, cancel or undo; a confirmation the services refused comes back `failed` (shown on the card)."""
    result = attempt(actor, lambda s, a: proposals.to_read(fn(s, a, proposal_id)))
    if result is None:
        return
    if result.status in DONE:
        remember_toast(DONE[result.status])
    st.rerun()


def proposal(actor: Actor, view: ProposalView, *, key: str) -> None:
    """What a write would change, every field of every record (now -> after), and the buttons that decide it."""
    now = decision(actor, view)
    status = now.status if now is not None else view.status
    with st.container(border=True):
        st.markdown(f"**{_plain(view.summary)}**")
        if view.changes:
            st.dataframe(_changes(view), hide_index=True, key=f"albedo_changes_{key}")
        if now is None:
            st.caption(STATUS_WORDS.get(status, status))
        elif status == "pending" and now.expires_at <= datetime.now(UTC):
            st.caption("Expired: nothing was changed. Ask again to get a fresh proposal.")
        elif status == "pending":
            st.caption(STATUS_WORDS["pending"])
            left, right, _ = st.columns([1, 1, 4])
            if left.button("Confirm", key=f"albedo_confirm_{now.id}", type="primary", icon=":material/check:"):
                _decide(actor, proposals.confirm, now.id)
            if right.button("Cancel", key=f"albedo_cancel_{now.id}", icon=":material/close:"):
                _decide(actor, proposals.cancel, now.id)
        elif status == "confirmed":
            st.success(STATUS_WORDS["confirmed"], icon=":material/check_circle:")
            if now.undoable and st.button("Undo", key=f"albedo_undo_{now.id}", icon=":material/undo:"):
                _decide(actor, proposals.undo, now.id)
        elif status == "failed":
            st.error(f"Could not do it: {now.error}" if now.error else STATUS_WORDS["failed"], icon=":material/error:")
        else:
            st.caption(STATUS_WORDS.get(status, status))


# The conversation -----------------------------------------------------------------------------------------


def history(actor: Actor, conversation_id: UUID) -> list[Message]:
    return load(actor, conversations.messages, conversation_id)


def show(actor: Actor, messages: list[Message], *, asking: bool = False) -> None:
    """The conversation so far; the newest reply with its options and suggestions, unless a new question is
    being asked in this run (its reply brings its own)."""
    last_answer = None if asking else next((m.id for m in reversed(messages) if m.role == "assistant"), None)
    for message in messages:
        if message.role == "system":
            continue
        with st.chat_message(message.role):
            try:
                reply = chat.reply_of(message)
            except ValueError:  # stored by an older version in another shape: its words still stand
                reply = None
            if reply is None:
                st.markdown(_plain(message.content))
            else:
                reply_body(actor, reply, key=str(message.id), latest=message.id == last_answer)


def about(actor: Actor, conversation: Conversation) -> tuple[str, str] | None:
    """The record the conversation is about (kind, name), with a link to it, when it has one."""
    context = _context_of(conversation)
    if context is None:
        return None
    kind, record_id = context
    label = record_label(actor, kind, record_id)
    if label is None:
        st.caption(f"About a {kind} you can no longer open.")
        return None
    url = _link(actor, RecordRef(type=kind, id=str(record_id), label=label))  # type: ignore[arg-type]
    st.caption(f"About the {kind} [{_plain(label)}]({url})" if url else f"About the {kind} {_plain(label)}")
    return kind, label


def starters(kind: str | None) -> tuple[str, ...]:
    return RECORD_STARTERS.get(kind or "", ()) or STARTERS


# The sidebar: conversations -------------------------------------------------------------------------------


def _rename(actor: Actor, conversation_id: UUID, key: str) -> None:
    title = str(st.session_state.get(key) or "")
    attempt(
        actor,
        lambda s, a: conversations.rename(s, a, conversation_id, ConversationRename(title=title)).id,
        done="Renamed",
    )


def _removed(session: Any, actor: Actor, conversation_id: UUID) -> bool:
    conversations.remove(session, actor, conversation_id)
    return True


def _delete(actor: Actor, conversation_id: UUID) -> None:
    if attempt(actor, _removed, conversation_id, done="Conversation deleted"):
        open_conversation(None)


def sidebar(actor: Actor, current: Conversation | None) -> None:
    """The user's conversations, newest first: open one, start a new one, rename or delete the open one."""
    listed = load(
        actor,
        lambda s, a: [(c.id, c.title) for c in conversations.list_conversations(s, a, limit=30)],
    )
    with st.sidebar:
        st.subheader("Conversations")
        st.button(
            "New conversation",
            key="albedo_new",
            icon=":material/add_comment:",
            on_click=open_conversation,
            args=(None,),
            width="stretch",
        )
        for conversation_id, title in listed:
            st.button(
                _plain(title) if title else "Untitled",
                key=f"albedo_open_{conversation_id}",
                on_click=open_conversation,
                args=(conversation_id,),
                type="secondary" if current is not None and current.id == conversation_id else "tertiary",
                width="stretch",
            )
        if current is None:
            return
        with st.expander("This conversation", icon=":material/edit:"):
            key = f"albedo_title_{current.id}"
            st.text_input("Title", value=current.title or "", key=key, max_chars=255)
            st.button("Rename", key="albedo_rename", on_click=_rename, args=(actor, current.id, key))
            if st.session_state.get(DELETING) != str(current.id):
                if st.button("Delete", key="albedo_delete", icon=":material/delete:"):
                    st.session_state[DELETING] = str(current.id)
                    st.rerun()
            else:
                st.warning("Delete this conversation and its messages for good?")
                yes, no = st.columns(2)
                yes.button(
                    "Delete", key="albedo_delete_yes", type="primary", on_click=_delete, args=(actor, current.id)
                )
                no.button("Keep", key="albedo_delete_no", on_click=st.session_state.pop, args=(DELETING, None))
