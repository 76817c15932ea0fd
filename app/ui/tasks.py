"""Pieces of the Tasks page: the list query its filters make, the names of the records tasks are about, and the
table (overdue rows highlighted, a link to each task's contact, account or deal)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import pandas as pd

from app.ui import widgets as ui
from app.ui.calls import load
from core.accounts import service as accounts
from core.actor import Actor
from core.contacts import service as contacts
from core.deals import service as deals
from core.users.schemas import UserRead

STATUSES = {"open": "Open", "in_progress": "In progress", "done": "Done", "cancelled": "Cancelled"}
PRIORITIES = {"urgent": "Urgent", "high": "High", "normal": "Normal", "low": "Low"}
DUE = {
    "any": "Any time",
    "overdue": "Overdue",
    "today": "Today",
    "this_week": "This week",
    "later": "Later",
    "none": "No date",
}
PAGE_SIZE = 100

# task field -> (detail page, list service, permission resource, name of a listed item)
RELATED: dict[str, tuple[str, Any, str, Any]] = {
    "dealId": ("deal", deals.list_deals, "deals", lambda item: item["name"]),
    "contactId": (
        "contact",
        contacts.list_contacts,
        "contacts",
        lambda item: f"{item['firstName']} {item['lastName']}".strip(),
    ),
    "accountId": ("account", accounts.list_accounts, "accounts", lambda item: item["name"]),
}
NAME_FIELDS = {"deals": "id,name", "contacts": "id,firstName,lastName", "accounts": "id,name"}


def person(user: UserRead) -> str:
    name = f"{user.first_name} {user.last_name}".strip() or user.email
    return name if user.is_active else f"{name} (inactive)"


def list_params(
    *,
    statuses: Sequence[str],
    priorities: Sequence[str],
    due: Mapping[str, list[str]],
    assignee_ids: Sequence[UUID | str],
    search: str,
) -> dict[str, list[str]]:
    """The `list_tasks` query of the page's filters: the first page, soonest due first."""
    params: dict[str, list[str]] = {"sort": ["dueAt"], "limit": [str(PAGE_SIZE)], **due}
    if statuses:
        params["status"] = [",".join(statuses)]
    if priorities:
        params["priority"] = [",".join(priorities)]
    if assignee_ids:
        params["assigneeId"] = [",".join(str(i) for i in assignee_ids)]
    if search.strip():
        params["search"] = [search.strip()]
    return params


def selection_key(params: Mapping[str, list[str]]) -> str:
    """A table key per filter set: a selection made under other filters never points at other rows."""
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return f"tasks_table_{digest}"


def related_names(actor: Actor, items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """id -> name of the contacts, accounts and deals the tasks are about, of those the actor may read."""
    names: dict[str, str] = {}
    for field, (_, list_fn, resource, name_of) in RELATED.items():
        ids = sorted({str(t[field]) for t in items if t.get(field)})
        if not ids or not actor.can(resource, "read"):
            continue
        found = load(
            actor, list_fn, {"id": [",".join(ids)], "fields": [NAME_FIELDS[resource]], "limit": [str(PAGE_SIZE)]}
        )
        names.update({str(item["id"]): name_of(item) for item in found.items})
    return names


def about(task: Mapping[str, Any], names: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(detail page, id, label) of the record the task is about: its deal, else its contact, else its account."""
    for field, (kind, *_rest) in RELATED.items():
        if task.get(field):
            record_id = str(task[field])
            return kind, record_id, f"{kind.title()}: {names.get(record_id, 'not visible to you')}"
    return None


def due_at(task: Mapping[str, Any], zone: tzinfo) -> datetime | None:
    return datetime.fromisoformat(task["dueAt"]).astimezone(zone) if task.get("dueAt") else None


def due_text(task: Mapping[str, Any], zone: tzinfo) -> str:
    when = due_at(task, zone)
    text = when.strftime("%a %d %b %Y %H:%M") if when else "no date"
    return f"overdue · {text}" if task.get("isOverdue") else text


def table(
    items: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    people: Mapping[str, str],
    zone: tzinfo,
    *,
    with_assignee: bool,
) -> Any:
    """The tasks as a styled frame: overdue rows in red."""
    rows = []
    for task in items:
        record = about(task, names)
        rows.append(
            {
                "Title": task["title"],
                "Due": due_text(task, zone),
                "Priority": PRIORITIES.get(task["priority"], task["priority"]),
                "Status": STATUSES.get(task["status"], task["status"]),
                **({"Assignee": people.get(str(task["assigneeId"]), "someone else")} if with_assignee else {}),
                "About": record[2] if record else "",
                "Open": ui.detail_url(record[0], record[1]) if record else None,
            }
        )
    frame = pd.DataFrame(rows)
    overdue = [bool(t.get("isOverdue")) for t in items]

    def highlight(row: pd.Series) -> list[str]:
        style = "background-color: #fdecea; color: #b3261e" if overdue[row.name] else ""
        return [style] * len(row)

    return frame.style.apply(highlight, axis=1)
