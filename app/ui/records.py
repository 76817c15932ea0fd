"""What the contact and account pages share: the people who may own records, the list table with its pager and
bulk actions, typed inputs for the tenant's custom fields, duplicate suggestions with a merge, and a record's
timeline with the forms that add to it (note, activity, task).

Everything reads and writes through core/ (`load` and `attempt`), as the signed-in actor; the pages only say
which record type they show.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st
from pydantic import ValidationError as SchemaError

from app.ui import sentiment
from app.ui import widgets as ui
from app.ui.calls import attempt, load, remember_toast
from app.ui.pages import by_file
from core.accounts import service as accounts
from core.accounts.schemas import AccountUpdate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactUpdate
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.duplicates import service as duplicates
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.records.bulk import item_error
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate, TaskUpdate
from core.users import service as users

PAGE_SIZE = 50
COMPANY_SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1000+"]
NONE = "—"


# People ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    team_id: str | None
    active: bool


def people(actor: Actor) -> dict[str, Person]:
    """Every user of the workspace by id (owners' names in tables, the owner pickers)."""
    if not actor.can("users", "read"):
        return {}

    def read(session: Any, who: Actor) -> dict[str, Person]:
        found, _ = users.list_users(session, who, limit=1000)
        return {
            str(u.id): Person(str(u.id), u.full_name, str(u.team_id) if u.team_id else None, u.is_active) for u in found
        }

    return load(actor, read)


def assignable(actor: Actor, everyone: Mapping[str, Person]) -> list[Person]:
    """The active users the actor may make owner of a record: anyone with "all" scope, the actor's team with
    "team" scope, only the actor with "own" scope (core's rule, `resolve_owner`, mirrored for the picker)."""
    me = str(actor.user_id)
    team = str(actor.team_id) if actor.team_id else None
    chosen = [
        p
        for p in everyone.values()
        if p.active
        and (actor.scope == "all" or p.id == me or (actor.scope == "team" and team is not None and p.team_id == team))
    ]
    return sorted(chosen, key=lambda p: (p.id != me, p.name.lower()))


def owner_name(everyone: Mapping[str, Person], owner_id: Any) -> str:
    person = everyone.get(str(owner_id)) if owner_id else None
    return person.name if person else NONE


def link(kind: str, record_id: UUID | str, label: str) -> None:
    """A link to a record's detail page; plain text while that page does not exist yet."""
    if by_file(f"{kind}.py").path.exists():
        ui.detail_link(kind, record_id, label)
    else:
        st.markdown(label)


# Record types ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKind:
    """How the shared pieces handle one record type (contacts or accounts)."""

    entity: str  # "contacts": the permission resource and custom field entity type
    singular: str  # "contact": the detail page's file name without .py
    plural: str
    service: Any  # the core service module (list_*, bulk_update, bulk_delete)
    list_records: Callable[..., Any]  # (session, actor, params) -> RecordPage
    update_schema: type  # the PATCH schema (tags=..., owner_id=...)
    label: Callable[[Mapping[str, Any]], str]  # a list item's display name
    find_duplicates: Callable[..., Any]  # (session, actor, *, limit) -> list[DuplicatePair]
    merge: Callable[..., Any]  # (session, actor, survivor_id, other_id) -> MergeResult


CONTACTS = RecordKind(
    entity="contacts",
    singular="contact",
    plural="contacts",
    service=contacts,
    list_records=contacts.list_contacts,
    update_schema=ContactUpdate,
    label=lambda item: f"{item.get('firstName', '')} {item.get('lastName', '')}".strip() or str(item["id"]),
    find_duplicates=duplicates.find_contact_duplicates,
    merge=duplicates.merge_contacts,
)
ACCOUNTS = RecordKind(
    entity="accounts",
    singular="account",
    plural="accounts",
    service=accounts,
    list_records=accounts.list_accounts,
    update_schema=AccountUpdate,
    label=lambda item: str(item.get("name") or item["id"]),
    find_duplicates=duplicates.find_account_duplicates,
    merge=duplicates.merge_accounts,
)


# Lists -------------------------------------------------------------------------------------------------


@dataclass
class ListState:
    """The query a list page asks for and the page it shows (kept across reruns per record type)."""

    params: dict[str, list[str]]
    page: int
    table_key: str


def list_state(kind: RecordKind, filters: Mapping[str, Sequence[str]]) -> ListState:
    """The list query for `filters` (already in the query language), with the page the user moved to; a
    changed filter goes back to page 1, and the table's selection starts afresh for every query."""
    signature = hashlib.blake2b(json.dumps(filters, sort_keys=True).encode(), digest_size=6).hexdigest()
    sig_key, page_key, gen_key = f"{kind.entity}_query", f"{kind.entity}_page", f"{kind.entity}_generation"
    if st.session_state.get(sig_key) != signature:
        st.session_state[sig_key] = signature
        st.session_state[page_key] = 1
    page = int(st.session_state.get(page_key, 1))
    params = {k: list(v) for k, v in filters.items() if v}
    params.update({"limit": [str(PAGE_SIZE)], "page": [str(page)]})
    generation = st.session_state.get(gen_key, 0)
    return ListState(params, page, f"{kind.entity}_table_{signature}_{page}_{generation}")


def forget_selection(kind: RecordKind) -> None:
    """After a bulk action: the next table starts with nothing selected."""
    key = f"{kind.entity}_generation"
    st.session_state[key] = st.session_state.get(key, 0) + 1


def clamp_page(kind: RecordKind, state: ListState, found: Any) -> None:
    """Past the last page (after a delete emptied it): go to the last page that has records."""
    if not found.items and state.page > 1 and (found.total or 0) > 0:
        st.session_state[f"{kind.entity}_page"] = max(1, -(-found.total // PAGE_SIZE))
        st.rerun()


def pager(kind: RecordKind, state: ListState, total: int) -> None:
    pages = max(1, -(-total // PAGE_SIZE))
    left, middle, right = st.columns([1, 4, 1], vertical_alignment="center")
    if left.button("Previous", key=f"{kind.entity}_prev", disabled=state.page <= 1, icon=":material/chevron_left:"):
        st.session_state[f"{kind.entity}_page"] = state.page - 1
        st.rerun()
    middle.caption(f"Page {state.page} of {pages} · {total:,} {kind.plural}")
    if right.button("Next", key=f"{kind.entity}_next", disabled=state.page >= pages, icon=":material/chevron_right:"):
        st.session_state[f"{kind.entity}_page"] = state.page + 1
        st.rerun()


def record_table(
    kind: RecordKind, items: list[dict[str, Any]], rows: list[dict[str, Any]], state: ListState, config: dict
) -> list[dict[str, Any]]:
    """The page's records as a table (a link column first, to each detail page); returns the selected items."""
    frame = pd.DataFrame(
        [{"Open": ui.detail_url(kind.singular, item["id"]), **row} for item, row in zip(items, rows, strict=True)]
    )
    # Rows are picked by position: a page whose records changed (someone added or deleted one) starts with
    # nothing selected rather than with the records now at the picked positions.
    shown_ids = hashlib.blake2b(",".join(item["id"] for item in items).encode(), digest_size=6).hexdigest()
    event = st.dataframe(
        frame,
        key=f"{state.table_key}_{shown_ids}",
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        height=min(42 + 35 * len(items), 720),
        column_config={"Open": st.column_config.LinkColumn(" ", display_text="Open", width="small"), **config},
    )
    picked = [i for i in event.selection.rows if 0 <= i < len(items)]  # type: ignore[union-attr]
    return [items[i] for i in picked]


# Bulk actions -------------------------------------------------------------------------------------------


@dataclass
class BulkSummary:
    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record id, why)

    def add(self, outcome: Any) -> None:
        for result in outcome.results:
            if result.success:
                self.done += 1
            else:
                self.failures.append((str(result.id), (result.error or {}).get("message", "failed")))


def _add_tag(kind: RecordKind, session: Any, actor: Actor, ids: list[str], tag: str) -> BulkSummary:
    """Add `tag` to each record (keeping its other tags): one bulk update per set of current tags."""
    found = kind.list_records(session, actor, {"id": [",".join(ids)], "fields": ["id,tags"], "limit": ["100"]})
    summary = BulkSummary()
    groups: dict[tuple[str, ...], list[UUID]] = {}
    for item in found.items:
        if tag in item["tags"]:
            summary.done += 1
        else:
            groups.setdefault(tuple(item["tags"]), []).append(UUID(item["id"]))
    for tags, group in groups.items():
        try:
            updates = kind.update_schema(tags=[*tags, tag])
        except SchemaError as exc:  # e.g. one tag too many for these records
            message = (item_error(exc) or {}).get("message", "invalid tags")
            summary.failures.extend((str(i), message) for i in group)
            continue
        summary.add(kind.service.bulk_update(session, actor, group, updates))
    seen = {item["id"] for item in found.items}
    summary.failures.extend((i, f"{kind.singular.title()} not found") for i in ids if i not in seen)
    return summary


def _run_bulk(
    kind: RecordKind, actor: Actor, work: Callable[[Any, Actor], BulkSummary], verb: str, names: dict
) -> None:
    summary = attempt(actor, work)
    if summary is None:
        return
    noun = kind.singular if summary.done == 1 else kind.plural
    text = f"{verb} {summary.done} {noun}"
    if summary.failures:
        text += f"; {len(summary.failures)} failed"
        st.session_state[f"{kind.entity}_bulk_failures"] = [
            f"{names.get(record_id, record_id)}: {why}" for record_id, why in summary.failures
        ]
    remember_toast(text)
    forget_selection(kind)
    st.rerun()


def bulk_failures(kind: RecordKind) -> None:
    """The records the last bulk action could not change, and why (shown once, after its rerun)."""
    failed = st.session_state.pop(f"{kind.entity}_bulk_failures", None)
    if failed:
        st.warning("Not changed:\n" + "\n".join(f"- {line}" for line in failed), icon=":material/warning:")


def bulk_actions(
    kind: RecordKind, actor: Actor, selected: list[dict[str, Any]], owners: list[Person], tag_options: list[str]
) -> None:
    """Add a tag, assign an owner or delete the selected records, each through the bulk services."""
    if not selected:
        st.caption(f"Select {kind.plural} in the table to tag, assign or delete them together.")
        return
    names = {item["id"]: kind.label(item) for item in selected}
    ids = list(names)
    can_update, can_delete = actor.can(kind.entity, "update"), actor.can(kind.entity, "delete")
    st.markdown(f"**{len(ids)} selected**")
    if len(ids) <= 5:  # in this session (the table's link column opens a new browser tab)
        for column, record_id in zip(st.columns(5), ids, strict=False):
            with column:
                link(kind.singular, record_id, f"Open {names[record_id]}")
    if not (can_update or can_delete):
        return
    tag_col, owner_col, delete_col = st.columns(3)
    if can_update:
        with tag_col:
            tag = st.selectbox(
                "Add tag",
                tag_options,
                index=None,
                key=f"{kind.entity}_bulk_tag",
                accept_new_options=True,
                placeholder="Choose or type a tag",
            )
            if st.button("Add tag", key=f"{kind.entity}_bulk_tag_go", disabled=not tag, icon=":material/sell:"):
                value = str(tag).strip()
                _run_bulk(kind, actor, lambda s, a: _add_tag(kind, s, a, ids, value), f"Tagged “{value}” on", names)
        with owner_col:
            owner = st.selectbox(
                "Assign owner",
                owners,
                index=None,
                key=f"{kind.entity}_bulk_owner",
                format_func=lambda p: p.name,
                placeholder="Choose an owner",
            )
            if st.button(
                "Assign", key=f"{kind.entity}_bulk_owner_go", disabled=owner is None, icon=":material/person:"
            ):
                assert owner is not None
                _run_bulk(
                    kind,
                    actor,
                    lambda s, a: _summary_of(
                        kind.service.bulk_update(s, a, ids, kind.update_schema(owner_id=owner.id))
                    ),
                    f"Assigned to {owner.name}:",
                    names,
                )
    if can_delete:
        with delete_col:
            noun = kind.singular if len(ids) == 1 else kind.plural
            sure = st.checkbox(f"Yes, delete {len(ids)} {noun}", key=f"{kind.entity}_bulk_sure")
            if st.button(
                "Delete", key=f"{kind.entity}_bulk_delete", disabled=not sure, type="primary", icon=":material/delete:"
            ):
                st.session_state.pop(f"{kind.entity}_bulk_sure", None)
                _run_bulk(kind, actor, lambda s, a: _summary_of(kind.service.bulk_delete(s, a, ids)), "Deleted", names)


def _summary_of(outcome: Any) -> BulkSummary:
    summary = BulkSummary()
    summary.add(outcome)
    return summary


# Custom fields -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str
    options: tuple[str, ...]
    required: bool
    description: str | None


def field_defs(actor: Actor, entity_type: str) -> list[FieldDef]:
    """The tenant's custom fields on a record type, in display order."""
    if not actor.can("custom_fields", "read"):
        return []

    def read(session: Any, who: Actor) -> list[FieldDef]:
        return [
            FieldDef(
                f.field_name,
                f.field_label,
                f.field_type,
                tuple(f.field_options or ()),
                f.is_required,
                f.description,
            )
            for f in custom_fields.list_fields(session, who, entity_type=entity_type)
        ]

    return load(actor, read)


def _yes_no(value: Any) -> str:
    return NONE if value is None else ("Yes" if value else "No")


def custom_field_inputs(fields: list[FieldDef], values: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Typed inputs for the custom fields (inside a form), prefilled from `values`; returns every field's value
    by name, None when left empty (core checks required fields and names the missing ones)."""
    out: dict[str, Any] = {}
    if not fields:
        return out
    st.markdown("**Custom fields**")
    columns = st.columns(2)
    for index, f in enumerate(fields):
        label = f"{f.label} *" if f.required else f.label
        k = f"{key}_cf_{f.name}"
        current = values.get(f.name)
        with columns[index % 2]:
            if f.type == "number":
                number = st.number_input(
                    label, value=float(current) if current is not None else None, step=1.0, key=k, help=f.description
                )
                out[f.name] = None if number is None else (int(number) if float(number).is_integer() else number)
            elif f.type == "date":
                day = st.date_input(
                    label,
                    value=date.fromisoformat(current) if current else None,
                    min_value=date(1900, 1, 1),
                    max_value=date(2999, 12, 31),
                    key=k,
                    help=f.description,
                )
                out[f.name] = day.isoformat() if isinstance(day, date) else None
            elif f.type == "boolean":
                choices = [None, True, False]
                out[f.name] = st.selectbox(
                    label,
                    choices,
                    index=choices.index(current) if current in choices else 0,
                    format_func=_yes_no,
                    key=k,
                    help=f.description,
                )
            elif f.type == "select":
                choices = [None, *f.options]
                out[f.name] = st.selectbox(
                    label,
                    choices,
                    index=choices.index(current) if current in choices else 0,
                    format_func=lambda v: NONE if v is None else str(v),
                    key=k,
                    help=f.description,
                )
            elif f.type == "multi_select":
                chosen = [v for v in (current or []) if v in f.options]
                out[f.name] = st.multiselect(label, list(f.options), default=chosen, key=k, help=f.description) or None
            else:
                out[f.name] = st.text_input(label, value=current or "", key=k, help=f.description).strip() or None
    return out


def custom_field_keys(fields: list[FieldDef], key: str) -> tuple[str, ...]:
    return tuple(f"{key}_cf_{f.name}" for f in fields)


def show_custom_values(fields: list[FieldDef], values: Mapping[str, Any]) -> None:
    for f in fields:
        value = values.get(f.name)
        if isinstance(value, bool):
            text = _yes_no(value)
        elif isinstance(value, list):
            text = ", ".join(value) or NONE
        else:
            text = NONE if value in (None, "") else str(value)
        st.markdown(f"**{f.label}:** {text}")


# Duplicates --------------------------------------------------------------------------------------------


def _ref_label(ref: Any) -> str:
    """A duplicate's name with what tells it apart (often the same name): its address, phone or domain and the
    end of its id (the start of ids made close together is the same)."""
    detail = ref.email or ref.phone or ref.domain
    return f"{ref.name}{f' · {detail}' if detail else ''} · #{str(ref.id)[-6:]}"


def duplicate_pairs(kind: RecordKind, actor: Actor, *, limit: int = 20) -> None:
    """Probable duplicates the actor can see, surest first, each with a merge that keeps the chosen survivor."""
    pairs = load(actor, kind.find_duplicates, limit=limit)
    if not pairs:
        ui.empty(f"No likely duplicate {kind.plural} found.", icon=":material/check_circle:")
        return
    can_merge = actor.can(kind.entity, "merge")
    if not can_merge:
        st.caption(f"Your role cannot merge {kind.plural}; ask a manager or an admin.")
    for pair in pairs:
        first, second = pair.records
        why = ", ".join(r.replace("_", " ") for r in pair.reasons)
        with st.container(border=True):
            st.markdown(f"**{first.name}** and **{second.name}** · {why} · {pair.score:.0%} sure")
            left, right = st.columns(2)
            for column, ref in ((left, first), (right, second)):
                with column:
                    link(kind.singular, ref.id, ref.name)
                    st.caption(" · ".join(str(v) for v in (ref.email, ref.phone, ref.domain) if v) or NONE)
            if can_merge:
                pair_key = f"{kind.entity}_merge_{first.id}_{second.id}"
                survivor = st.radio(
                    "Keep",
                    [first, second],
                    key=f"{pair_key}_keep",
                    horizontal=True,
                    format_func=_ref_label,
                )
                if st.button("Merge", key=pair_key, icon=":material/merge:"):
                    other = second if survivor.id == first.id else first
                    attempt(
                        actor,
                        lambda s, a, keep=survivor.id, gone=other.id: kind.merge(s, a, keep, gone),
                        done=f"Merged {other.name} into {survivor.name}",
                        rerun=True,
                    )


# Timeline ----------------------------------------------------------------------------------------------

ACTIVITY_ICONS = {
    "call": ":material/call:",
    "meeting": ":material/groups:",
    "email": ":material/mail:",
    "note": ":material/sticky_note_2:",
    "other": ":material/event_note:",
}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


TIMELINE_STEP = 10  # timeline entries shown at first, and added by each "Show more"


def timeline(actor: Actor, entity_type: str, record_id: UUID, everyone: Mapping[str, Person]) -> None:
    """The record's activities and notes together: pinned notes first, then newest first; the first
    `TIMELINE_STEP` entries, and a button for more (a busy account has hundreds). Each entry carries its
    sentiment badge and reason, with one-click correction for who may edit it (app/ui/sentiment.py)."""
    entries: list[tuple[datetime, str, dict[str, Any]]] = []
    if actor.can("activities", "read"):
        logged = load(
            actor,
            activities.list_activities,
            {"sort": ["-occurredAt"], "limit": ["50"]},
            parent=(entity_type, record_id),
        )
        entries.extend((_moment(a["occurredAt"]), "activity", a) for a in logged.items)
    if actor.can("notes", "read"):
        written = load(actor, notes.list_notes, entity_type, record_id, {"limit": ["50"]})
        entries.extend((_moment(n["createdAt"]), "note", n) for n in written.items)
    if not entries:
        ui.empty("Nothing logged yet: add a note or log a call, meeting or email.")
        return
    ordered = sorted(entries, key=lambda e: (e[1] == "note" and bool(e[2].get("isPinned")), e[0]), reverse=True)
    more_key = f"timeline_{entity_type}_{record_id}_shown"
    limit = int(st.session_state.get(more_key, TIMELINE_STEP))
    visible = ordered[:limit]
    felt = sentiment.for_timeline(
        actor, [i["id"] for _, w, i in visible if w == "note"], [i["id"] for _, w, i in visible if w != "note"]
    )
    for moment, what, item in visible:
        with st.container(border=True):
            if what == "note":
                pin = " · pinned" if item.get("isPinned") else ""
                st.markdown(f":material/sticky_note_2: **Note**{pin}")
                st.caption(f"{ui.when(moment)} · {owner_name(everyone, item.get('authorId'))}")
                st.text(item["body"])
                sentiment.entry_sentiment(actor, "notes", item["id"], felt.get(item["id"]))
            else:
                icon = ACTIVITY_ICONS.get(item["type"], ACTIVITY_ICONS["other"])
                st.markdown(f"{icon} **{item['type'].title()}** · {item['subject']}")
                meta = [ui.when(moment), owner_name(everyone, item.get("ownerId"))]
                if item.get("direction"):
                    meta.append(item["direction"])
                if item.get("outcome"):
                    meta.append(item["outcome"])
                if item.get("durationSeconds"):
                    meta.append(f"{round(item['durationSeconds'] / 60)} min")
                st.caption(" · ".join(meta))
                if item.get("body"):
                    st.text(item["body"])
                sentiment.entry_sentiment(actor, "activities", item["id"], felt.get(item["id"]))
    if len(ordered) > limit:
        shown, more = st.columns([3, 1], vertical_alignment="center")
        shown.caption(f"Showing {limit} entries")
        if more.button("Show more", key=f"{more_key}_more", icon=":material/expand_more:"):
            st.session_state[more_key] = limit + TIMELINE_STEP
            st.rerun()


def add_note(actor: Actor, entity_type: str, record_id: UUID, key: str) -> None:
    if not actor.can("notes", "create"):
        return
    box = st.container()
    with st.form(f"{key}_note", clear_on_submit=False):
        body = st.text_area("Note", key=f"{key}_note_body", placeholder="What happened, what was agreed")
        pinned = st.checkbox("Pin to the top", key=f"{key}_note_pin")
        if st.form_submit_button("Add note", type="primary", icon=":material/note_add:"):
            attempt(
                actor,
                lambda s, a: notes.create(s, a, entity_type, record_id, NoteCreate(body=body, is_pinned=pinned)),
                done="Note added",
                where=box,
                clear=(f"{key}_note_body", f"{key}_note_pin"),
                rerun=True,
            )


def log_activity(actor: Actor, links: Mapping[str, UUID | None], today: date, key: str) -> None:
    """A call, meeting or email on the record (`links`: contact_id, account_id, deal_id)."""
    if not actor.can("activities", "create"):
        return
    box = st.container()
    with st.form(f"{key}_activity", clear_on_submit=False):
        kind = st.radio(
            "Type", ["call", "meeting", "email"], horizontal=True, key=f"{key}_act_type", format_func=str.title
        )
        subject = st.text_input("Subject", key=f"{key}_act_subject")
        cols = st.columns(3)
        direction = cols[0].selectbox(
            "Direction",
            [None, "outbound", "inbound"],
            key=f"{key}_act_direction",
            format_func=lambda v: NONE if v is None else v.title(),
        )
        outcome = cols[1].text_input("Outcome", key=f"{key}_act_outcome", placeholder="e.g. connected, voicemail")
        minutes = cols[2].number_input(
            "Duration (minutes)", min_value=0, max_value=1440, value=None, step=5, key=f"{key}_act_minutes"
        )
        cols = st.columns(2)
        day = cols[0].date_input("On", value=today, key=f"{key}_act_day")
        at = cols[1].time_input("At", value=time(9, 0), key=f"{key}_act_time")
        body = st.text_area("Details", key=f"{key}_act_body")
        if st.form_submit_button("Log activity", type="primary", icon=":material/add_call:"):
            attempt(
                actor,
                lambda s, a: activities.create(
                    s,
                    a,
                    ActivityCreate(
                        type=kind,
                        subject=subject,
                        body=body or None,
                        direction=direction,
                        outcome=outcome or None,
                        duration_seconds=int(minutes) * 60 if minutes is not None else None,
                        occurred_at=ui.local_moment(actor, day, at),
                        **links,
                    ),
                ),
                done=f"{kind.title()} logged",
                where=box,
                clear=(f"{key}_act_subject", f"{key}_act_outcome", f"{key}_act_minutes", f"{key}_act_body"),
                rerun=True,
            )


def record_tasks(actor: Actor, entity_type: str, record_id: UUID, today: date, key: str) -> None:
    """The record's open tasks (done with one click) and a form to add one."""
    if not actor.can("tasks", "read"):
        return
    found = load(
        actor, tasks.list_tasks, {"status": ["open,in_progress"], "limit": ["50"]}, parent=(entity_type, record_id)
    )
    if not found.items:
        ui.empty("No open tasks.")
    for task in found.items:
        row = st.columns([6, 3, 2])
        flag = ":red[overdue] · " if task.get("isOverdue") else ""
        row[0].markdown(f"**{task['title']}**  \n{flag}{task['priority']} priority")
        row[1].caption(f"due {ui.local_time(actor, task['dueAt'])}" if task.get("dueAt") else "no due date")
        if actor.can("tasks", "update") and row[2].button(
            "Done", key=f"{key}_done_{task['id']}", icon=":material/check:"
        ):
            attempt(
                actor,
                lambda s, a, t=task: tasks.update(s, a, t["id"], TaskUpdate(status="done", version=t["version"])),
                done=f"Completed: {task['title']}",
                rerun=True,
            )
    task_form(
        actor,
        f"{key}_task",
        label="New task",
        default_day=today + timedelta(days=1),
        parent=(entity_type, record_id),
        placeholder="e.g. Send the proposal",
    )


def task_form(
    actor: Actor,
    key: str,
    *,
    label: str,
    default_day: date | None,
    parent: tuple[str, UUID] | None = None,
    placeholder: str | None = None,
) -> None:
    """A form that adds a task (title, due day and hour in the workspace's time zone, priority), on a record
    when `parent` is (entity type, id); widget keys start with `key`. Nothing when the role may not add tasks."""
    if not actor.can("tasks", "create"):
        return
    box = st.container()
    with st.form(f"{key}_form", clear_on_submit=False):
        title = st.text_input(label, key=f"{key}_title", placeholder=placeholder)
        cols = st.columns(3)
        due_day = cols[0].date_input("Due", value=default_day, key=f"{key}_day")
        due_time = cols[1].time_input("At", value=time(9, 0), key=f"{key}_time")
        priority = cols[2].selectbox("Priority", ["low", "normal", "high", "urgent"], index=1, key=f"{key}_priority")
        if st.form_submit_button("Add task", type="primary", icon=":material/add_task:"):
            on = {f"{parent[0][:-1]}_id": parent[1]} if parent else {}
            attempt(
                actor,
                lambda s, a: tasks.create(
                    s,
                    a,
                    TaskCreate(
                        title=title,
                        due_at=ui.local_moment(actor, due_day, due_time) if due_day else None,
                        priority=priority,
                        **on,
                    ),
                ),
                done=f"Task added: {title}",
                where=box,
                clear=(f"{key}_title",),
                rerun=True,
            )


def deal_rows(actor: Actor, params: Mapping[str, Sequence[str]], everyone: Mapping[str, Person]) -> None:
    """Deals as links (name, amount, stage, owner, close date)."""
    if not actor.can("deals", "read"):
        return
    found = load(actor, deals.list_deals, {"sort": ["-createdAt"], "limit": ["50"], **params})
    if not found.items:
        ui.empty("No deals yet.")
        return
    for deal in found.items:
        status = "won" if deal.get("isWon") else ("lost" if deal.get("isClosed") else deal.get("stageName", ""))
        link(
            "deal",
            deal["id"],
            f"{deal['name']} · {ui.money(deal.get('amount'), deal.get('currency'))} · {status} · "
            f"{owner_name(everyone, deal.get('ownerId'))} · closes {deal.get('expectedCloseDate') or NONE}",
        )


def parse_id(kind: str) -> UUID:
    """The detail page's record id, or a message and a stop when the address carries none (or a bad one)."""
    raw = ui.record_id()
    try:
        return UUID(raw or "")
    except ValueError:
        ui.empty(f"Open a {kind} from the list to see it here.", icon=":material/search:")
        st.page_link(by_file(f"{kind}s.py").path.as_posix(), label=f"All {kind}s", icon=":material/list:")
        st.stop()
        raise


# Forms -------------------------------------------------------------------------------------------------


def owner_input(label: str, owners: list[Person], current: Any, key: str) -> Person | None:
    """An owner picker (the users the actor may assign to, the current owner first when among them)."""
    if not owners:
        return None
    ids = [p.id for p in owners]
    index = ids.index(str(current)) if current is not None and str(current) in ids else 0
    return st.selectbox(label, owners, index=index, format_func=lambda p: p.name, key=key)


def seen_version(key: str, version: int) -> int:
    """The record's version as the edit form first showed it. The save sends it, so that a change someone
    else made in between is refused (a conflict, explained) rather than silently overwritten."""
    return int(st.session_state.setdefault(f"{key}_version", version))


def forget_form(key: str, widget_keys: Sequence[str]) -> None:
    """Start the edit form afresh from the stored record (after a save, or to take someone else's change)."""
    st.session_state.pop(f"{key}_version", None)
    for name in widget_keys:
        st.session_state.pop(name, None)


def stale_notice(key: str, widget_keys: Sequence[str], seen: int, version: int, noun: str) -> None:
    if seen == version:
        return
    st.warning(
        f"Someone changed this {noun} after you opened this form, so saving it would overwrite their change. "
        "Reload to edit the latest version (your unsaved edits here are discarded).",
        icon=":material/sync_problem:",
    )
    if st.button("Reload the latest version", key=f"{key}_reload", icon=":material/refresh:"):
        forget_form(key, widget_keys)
        st.rerun()
