"""Two tenants shared by the record API tests of this package (built once: Argon2 makes users cost time).

`home` has a user per role (a manager and a rep in team A, another rep in team B, read_only, and a guest role
without permissions) and a contact, an account and a deal; `away` has one record of every kind. Tests create
their own records on top and assert only about those, so they never depend on each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text

from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import owner_engine, unit_of_work
from core.ids import new_id
from core.models import Account, Contact, Deal, Pipeline, Stage
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.api.conftest import API, add_role, assert_error, login_headers, make_client, owner_count
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce


def add_contact(world: TenantWorld, owner: UUID, first: str = "Ada", last: str = "Tester") -> UUID:
    with unit_of_work(world.admin) as session:
        contact = Contact(id=new_id(), tenant_id=world.tenant_id, owner_id=owner, first_name=first, last_name=last)
        session.add(contact)
        return contact.id


def add_account(world: TenantWorld, owner: UUID, name: str = "Acme") -> UUID:
    with unit_of_work(world.admin) as session:
        account = Account(id=new_id(), tenant_id=world.tenant_id, owner_id=owner, name=name)
        session.add(account)
        return account.id


def add_deal(world: TenantWorld, owner: UUID, name: str = "Big deal") -> UUID:
    with unit_of_work(world.admin) as session:
        pipeline_id = session.scalar(select(Pipeline.id).where(Pipeline.tenant_id == world.tenant_id))
        stage_id = session.scalar(
            select(Stage.id).where(Stage.pipeline_id == pipeline_id).order_by(Stage.display_order)
        )
        deal = Deal(
            id=new_id(),
            tenant_id=world.tenant_id,
            owner_id=owner,
            pipeline_id=pipeline_id,
            stage_id=stage_id,
            name=name,
        )
        session.add(deal)
        return deal.id


@dataclass
class RecordWorlds:
    home: TenantWorld
    away: TenantWorld
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, UUID] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    ids: dict[str, UUID] = field(default_factory=dict)  # home records
    away_ids: dict[str, UUID] = field(default_factory=dict)
    away_headers: dict[str, str] = field(default_factory=dict)

    def contact(self, owner: str = "rep") -> UUID:
        """A fresh contact in `home` owned by the user of that role."""
        return add_contact(self.home, self.users[owner], last=secrets.token_hex(3))


@pytest.fixture(scope="package")
def rworlds(api_app) -> Iterator[RecordWorlds]:
    client = make_client(api_app)
    home, away = create_tenant(), create_tenant()
    found = RecordWorlds(home, away)
    admin = home.admin
    with unit_of_work(admin) as session:
        team_a = users.create_team(session, admin, TeamCreate(name="Team A")).id
        team_b = users.create_team(session, admin, TeamCreate(name="Team B")).id
    add_role(home, "guest", [])
    found.users["admin"] = home.admin_id
    found.headers["admin"] = login_headers(client, home.admin_email, home.slug)
    for name, role, team in [
        ("manager", "manager", team_a),
        ("rep", "rep", team_a),
        ("other_rep", "rep", team_b),
        ("read_only", "read_only", None),
        ("guest", "guest", None),
    ]:
        email = f"{name}-{secrets.token_hex(3)}@{home.slug}.example.com"
        found.users[name] = home.add_user(role, team_id=team, email=email)
        found.headers[name] = login_headers(client, email, home.slug, PASSWORD)
    found.actors = {name: home.actor(user_id) for name, user_id in found.users.items()}
    found.ids = {
        "contact": add_contact(home, found.users["rep"]),
        "account": add_account(home, found.users["rep"]),
        "deal": add_deal(home, found.users["rep"]),
    }

    away_admin = away.admin
    contact = add_contact(away, away.admin_id, "Away", "Person")
    account = add_account(away, away.admin_id, "Away Corp")
    deal = add_deal(away, away.admin_id, "Away deal")
    with unit_of_work(away_admin) as session:
        found.away_ids = {
            "contact": contact,
            "account": account,
            "deal": deal,
            "activity": activities.create(
                session, away_admin, ActivityCreate(type="call", subject="Away call", contact_id=contact)
            ).id,
            "task": tasks.create(session, away_admin, TaskCreate(title="Away task", deal_id=deal)).id,
            "note": notes.create(session, away_admin, "contacts", contact, NoteCreate(body="Away note")).id,
            "field": custom_fields.create(
                session,
                away_admin,
                CustomFieldCreate(
                    entity_type="contacts", field_name="away_field", field_label="Away", field_type="text"
                ),
            ).id,
        }
    found.away_headers = login_headers(client, away.admin_email, away.slug)
    yield found
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def fill(path: str, ids: dict[str, UUID]) -> str:
    kinds = ("contact", "account", "deal", "activity", "task", "note", "field")
    return API + path.format(**{k: ids.get(k, new_id()) for k in kinds})


def fill_body(body: dict[str, Any] | None, ids: dict[str, UUID]) -> dict[str, Any] | None:
    if body is None:
        return None
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            value = str(ids[value[1:-1]])
        elif isinstance(value, str):
            value = value.replace("{n}", secrets.token_hex(3))
        out[key] = value
    return out


TABLES = {
    "contact": "contacts",
    "account": "accounts",
    "deal": "deals",
    "activity": "activities",
    "task": "tasks",
    "note": "notes",
    "field": "custom_fields",
}


def snapshot(kind: str, record_id: UUID) -> Any:
    """The record as the owner sees it (no row-level security): to show a refused request changed nothing."""
    with owner_engine().connect() as conn:
        return conn.execute(text(f"SELECT to_jsonb(t) FROM {TABLES[kind]} t WHERE id = :id"), {"id": record_id}).all()


def counts(world: TenantWorld) -> dict[str, int]:
    return {t: owner_count(t, world.tenant_id) for t in ("activities", "tasks", "notes", "custom_fields")}


def path_kinds(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def assert_anonymous_is_401(client, method: str, path: str, body: dict[str, Any] | None) -> None:
    resp = client.request(method, fill(path, {}), json=fill_body(body, {"contact": new_id()}))
    assert_error(resp, 401, "UNAUTHENTICATED")


def assert_forbidden_is_403(client, worlds: RecordWorlds, method, path, body, permission, role) -> None:
    before = counts(worlds.home)
    resp = client.request(
        method, fill(path, worlds.ids), headers=worlds.headers[role], json=fill_body(body, worlds.ids)
    )
    error = assert_error(resp, 403, "FORBIDDEN")
    assert error["details"]["required"] == permission
    assert counts(worlds.home) == before


def assert_other_tenant_is_404(client, worlds: RecordWorlds, method, path, body) -> None:
    kinds = path_kinds(path)
    before = {k: snapshot(k, worlds.away_ids[k]) for k in kinds}
    resp = client.request(
        method, fill(path, worlds.away_ids), headers=worlds.headers["admin"], json=fill_body(body, worlds.ids)
    )
    assert_error(resp, 404, "NOT_FOUND")
    assert "Away" not in resp.text and worlds.away.slug not in resp.text
    assert {k: snapshot(k, worlds.away_ids[k]) for k in kinds} == before
