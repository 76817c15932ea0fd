"""The audit trail: triggers record every data change (ORM, raw SQL, bulk) with who, where and what changed;
services record auth events with masked emails; the app role can only append."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core.audit import service as audit
from core.audit.models import AuditLog
from core.auth import service as auth
from core.db import RequestContext, owner_engine, reset_context, set_context, unit_of_work
from core.errors import AccountLocked, AuthenticationFailed
from core.ids import new_id
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from core.users import service as users
from core.users.schemas import TeamCreate, TeamUpdate
from tests.factories import PASSWORD

CTX = RequestContext(request_id="req-audit-42", ip="203.0.113.7", user_agent="pytest-audit/1.0", via="api")


@contextmanager
def request_context(ctx: RequestContext = CTX) -> Iterator[None]:
    token = set_context(ctx)
    try:
        yield
    finally:
        reset_context(token)


def trail(tenant_id, **where) -> list[AuditLog]:
    """The tenant's audit rows, oldest first, read as that tenant through the app role."""
    with unit_of_work(tenant_id=tenant_id) as session:
        statement = select(AuditLog).where(AuditLog.tenant_id == tenant_id)
        for name, value in where.items():
            statement = statement.where(getattr(AuditLog, name) == value)
        return list(session.scalars(statement.order_by(AuditLog.created_at, AuditLog.id)))


def assert_context(row: AuditLog) -> None:
    assert str(row.ip_address) == CTX.ip
    assert row.user_agent == CTX.user_agent
    assert row.request_id == CTX.request_id
    assert row.via == CTX.via


def test_create_update_soft_delete_and_hard_delete_are_audited_with_actor_and_context(tenant):
    admin = tenant.admin
    with request_context():
        with unit_of_work(admin) as session:
            team = users.create_team(session, admin, TeamCreate(name="Enterprise", description="Big accounts"))
        with unit_of_work(admin) as session:
            users.update_team(session, admin, team.id, TeamUpdate(name="Enterprise EMEA"))
        with unit_of_work(admin) as session:
            users.delete_team(session, admin, team.id)
        with unit_of_work(admin) as session:
            role = rbac.create(session, admin, RoleCreate(name="auditor", permissions=["audit_logs:read"]))
        with unit_of_work(admin) as session:
            rbac.delete_role(session, admin, role.id)

    rows = trail(tenant.tenant_id, entity_type="teams", entity_id=team.id)
    assert [r.action for r in rows] == ["create", "update", "delete"]
    for row in rows:
        assert row.tenant_id == tenant.tenant_id
        assert row.user_id == tenant.admin_id
        assert row.entity_type == "teams" and row.entity_id == team.id
        assert_context(row)
    created, updated, deleted = rows
    assert created.old_values is None
    assert created.new_values["name"] == "Enterprise"
    assert created.new_values["description"] == "Big accounts"
    assert created.new_values["tenant_id"] == str(tenant.tenant_id)
    # Only what changed, old and new; bookkeeping columns (updated_at, version) are not noise in the trail.
    assert updated.old_values == {"name": "Enterprise"}
    assert updated.new_values == {"name": "Enterprise EMEA"}
    assert deleted.old_values == {"deleted_at": None}
    assert set(deleted.new_values) == {"deleted_at"} and deleted.new_values["deleted_at"]

    role_rows = trail(tenant.tenant_id, entity_type="roles", entity_id=role.id)
    assert [r.action for r in role_rows] == ["create", "hard_delete"]
    gone = role_rows[-1]
    assert gone.user_id == tenant.admin_id and gone.new_values is None
    assert gone.old_values["name"] == "auditor"
    assert_context(gone)
    grants = trail(tenant.tenant_id, entity_type="role_permissions", entity_id=role.id)
    assert [r.action for r in grants] == ["create", "hard_delete"]


def test_raw_sql_and_bulk_statements_write_one_audit_row_per_row(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        one = users.create_team(session, admin, TeamCreate(name="One"))
    with unit_of_work(admin) as session:
        result = session.execute(text("UPDATE teams SET description = 'set by raw SQL' WHERE id = :id"), {"id": one.id})
        assert result.rowcount == 1
    raw = trail(tenant.tenant_id, entity_id=one.id, action="update")
    assert len(raw) == 1
    assert raw[0].user_id == tenant.admin_id
    assert raw[0].old_values == {"description": None}
    assert raw[0].new_values == {"description": "set by raw SQL"}

    ids = [new_id() for _ in range(3)]
    with unit_of_work(admin) as session:
        session.execute(
            text(
                "INSERT INTO teams (id, tenant_id, name) VALUES (:a, :t, 'Bulk A'), (:b, :t, 'Bulk B'),"
                " (:c, :t, 'Bulk C')"
            ),
            {"a": ids[0], "b": ids[1], "c": ids[2], "t": tenant.tenant_id},
        )
    with unit_of_work(admin) as session:
        updated = session.execute(text("UPDATE teams SET description = 'bulk' WHERE name LIKE 'Bulk %'"))
        assert updated.rowcount == 3
    with unit_of_work(admin) as session:
        deleted = session.execute(text("DELETE FROM teams WHERE name LIKE 'Bulk %'"))
        assert deleted.rowcount == 3

    expectations = (
        ("create", None, "Bulk"),
        ("update", {"description": None}, {"description": "bulk"}),
        ("hard_delete", "Bulk", None),
    )
    for action, old, new in expectations:
        rows = [r for r in trail(tenant.tenant_id, entity_type="teams", action=action) if r.entity_id in ids]
        assert sorted(r.entity_id for r in rows) == sorted(ids), action
        for row in rows:
            assert row.user_id == tenant.admin_id and row.tenant_id == tenant.tenant_id
            if action == "create":
                assert row.old_values is None and row.new_values["name"].startswith(new)
            elif action == "update":
                assert (row.old_values, row.new_values) == (old, new)
            else:
                assert row.new_values is None and row.old_values["name"].startswith(old)


def test_an_update_of_ignored_columns_only_is_not_audited_and_the_others_name_just_what_changed(tenant):
    """Derived and bookkeeping columns (a rescoring's `lead_score`, `updated_at`, `version`) write no audit row;
    in the same statement a row where a real field changed too is audited with that field alone."""
    admin = tenant.admin
    ids = [new_id() for _ in range(3)]
    with unit_of_work(admin) as session:
        session.execute(
            text(
                "INSERT INTO contacts (id, tenant_id, owner_id, first_name, last_name, tags) VALUES"
                " (:a, :t, :o, 'Only', 'Score', '{}'), (:b, :t, :o, 'Score', 'AndTitle', '{}'),"
                " (:c, :t, :o, 'Tags', 'Too', '{x}')"
            ),
            {"a": ids[0], "b": ids[1], "c": ids[2], "t": tenant.tenant_id, "o": tenant.admin_id},
        )
    with unit_of_work(admin) as session:
        session.execute(
            text(
                "UPDATE contacts SET lead_score = lead_score + 7, version = version + 1,"
                " title = CASE WHEN id = :b THEN 'CTO' ELSE title END,"
                " tags = CASE WHEN id = :c THEN ARRAY['x', 'y'] ELSE tags END WHERE id = ANY(:ids)"
            ),
            {"b": ids[1], "c": ids[2], "ids": ids},
        )
    updates = {r.entity_id: r for r in trail(tenant.tenant_id, entity_type="contacts", action="update")}
    assert set(updates) == {ids[1], ids[2]}
    assert (updates[ids[1]].old_values, updates[ids[1]].new_values) == ({"title": None}, {"title": "CTO"})
    assert (updates[ids[2]].old_values, updates[ids[2]].new_values) == ({"tags": ["x"]}, {"tags": ["x", "y"]})


def test_password_and_key_hashes_never_reach_the_audit_trail(tenant):
    rep_id = tenant.add_user("rep")
    admin = tenant.admin
    with unit_of_work(admin) as session:
        auth.change_password(session, admin, current_password=PASSWORD, new_password="Another-Long-Pass-77")
        key, full_key = auth.create_api_key(session, admin, name="warehouse", permissions=["contacts:read"])
    with owner_engine().connect() as conn:
        hashes = (
            conn.execute(text("SELECT password_hash FROM users WHERE tenant_id = :t"), {"t": tenant.tenant_id})
            .scalars()
            .all()
        )
        key_hash = conn.execute(text("SELECT key_hash FROM api_keys WHERE id = :k"), {"k": key.id}).scalar_one()
    rows = trail(tenant.tenant_id)
    assert any(r.entity_id == rep_id and r.action == "create" for r in rows)
    changed = [
        r
        for r in rows
        if r.entity_type == "users" and r.action == "update" and "password_changed_at" in (r.new_values or {})
    ]
    assert len(changed) == 1  # the password change itself is on record ...
    dumped = json.dumps([[r.old_values, r.new_values] for r in rows])
    assert "$argon2" not in dumped  # ... but neither the old nor the new hash is
    for secret in [*hashes, key_hash, full_key]:
        assert secret not in dumped
    for row in rows:
        for values in (row.old_values or {}, row.new_values or {}):
            assert values.get("password_hash", "***") == "***"
            assert values.get("key_hash", "***") == "***"


def test_app_role_can_append_to_the_audit_trail_but_never_rewrite_it(tenant):
    entry = new_id()
    with unit_of_work(tenant_id=tenant.tenant_id) as session:
        session.execute(
            text("INSERT INTO audit_logs (id, tenant_id, entity_type, action) VALUES (:id, :t, 'export', 'download')"),
            {"id": entry, "t": tenant.tenant_id},
        )
    for statement in (
        "UPDATE audit_logs SET action = 'nothing to see' WHERE id = :id",
        "DELETE FROM audit_logs WHERE id = :id",
        "TRUNCATE audit_logs",
    ):
        with (
            pytest.raises(DBAPIError, match="permission denied"),
            unit_of_work(tenant_id=tenant.tenant_id) as session,
        ):
            session.execute(text(statement), {"id": entry})
    rows = trail(tenant.tenant_id, id=entry)
    assert len(rows) == 1 and rows[0].action == "download"


def test_auth_events_are_recorded_with_masked_emails_and_request_context(tenant):
    victim_id = tenant.add_user("rep", email=f"jane.doe@{tenant.slug}.example.com")
    victim_email = f"jane.doe@{tenant.slug}.example.com"
    with request_context():
        pair = auth.login_committing_failures(email=tenant.admin_email, password=PASSWORD, tenant_slug=tenant.slug)
        with unit_of_work(tenant_id=tenant.tenant_id) as session:
            actor = auth.authenticate(session, pair.access_token)
            key, full_key = auth.create_api_key(session, actor, name="etl", permissions=["contacts:read"])
        with unit_of_work() as session:
            auth.authenticate(session, full_key)
        with unit_of_work(actor) as session:
            auth.logout(session, actor)
        for _ in range(5):
            with pytest.raises(AuthenticationFailed):
                auth.login_committing_failures(
                    email=victim_email, password="Wrong-Password-1!", tenant_slug=tenant.slug
                )
        with pytest.raises(AccountLocked):
            auth.login_committing_failures(email=victim_email, password=PASSWORD, tenant_slug=tenant.slug)
        with pytest.raises(AuthenticationFailed):
            auth.login_committing_failures(
                email=f"ghost@{tenant.slug}.example.com", password=PASSWORD, tenant_slug=tenant.slug
            )

    rows = trail(tenant.tenant_id, entity_type="auth")
    actions = [r.action for r in rows]
    assert actions == [
        "login",
        "api_key_used",
        "logout",
        *["login_failed"] * 5,
        "lockout",
        "login_failed",
        "login_failed",
    ]
    for row in rows:
        assert_context(row)
        values = row.new_values or {}
        if "email" in values:
            assert "@" in values["email"] and "***" in values["email"]
            assert tenant.slug not in values["email"] and "jane.doe" not in values["email"]
    login, key_used, logout, *failures, lockout, locked, ghost = rows
    assert login.user_id == tenant.admin_id and login.entity_id == tenant.admin_id
    assert login.new_values["email"] == audit.mask_email(tenant.admin_email)
    assert key_used.api_key_id == key.id and key_used.user_id == tenant.admin_id
    assert key_used.new_values == {"prefix": key.prefix}
    assert logout.user_id == tenant.admin_id
    assert [f.new_values["attempts"] for f in failures] == [1, 2, 3, 4, 5]
    for row in [*failures, lockout, locked]:
        assert row.user_id == victim_id
        assert row.new_values["email"] == audit.mask_email(victim_email)
    assert lockout.new_values["minutes"] == 15
    assert locked.new_values["reason"] == "locked"
    assert ghost.user_id is None and ghost.new_values["reason"] == "unknown_user"
    assert audit.mask_email("jane.doe@example.com") == "j***e@e***.com"

    # The service that shows the trail to admins sees the same entries, newest first.
    admin = tenant.admin
    with unit_of_work(admin) as session:
        listed, total = audit.list_entries(session, admin, entity_type="auth", limit=100)
    assert total == len(rows)
    assert [r.id for r in listed] == [r.id for r in reversed(rows)]
    assert datetime.now(UTC) >= listed[0].created_at >= listed[-1].created_at


def _insert_contacts(conn, tenant, n: int) -> None:
    conn.execute(
        text(
            "INSERT INTO contacts (id, tenant_id, owner_id, first_name, last_name)"
            " SELECT gen_random_uuid(), :tenant, :owner, 'Bulk', 'Row' || i FROM generate_series(1, :n) AS i"
        ),
        {"tenant": tenant.tenant_id, "owner": tenant.admin.user_id, "n": n},
    )


def test_an_owner_bulk_load_may_be_audited_as_one_summary_row(tenant):
    with owner_engine().begin() as conn:
        conn.execute(text("SET LOCAL app.audit_mode = 'summary'"))
        _insert_contacts(conn, tenant, 250)
    rows = trail(tenant.tenant_id, entity_type="contacts")
    assert [(r.action, r.new_values) for r in rows] == [("bulk_create", {"rows": 250})]


def test_the_runtime_role_cannot_thin_its_own_audit_trail(tenant):
    with unit_of_work(tenant.admin) as session:
        session.execute(text("SET LOCAL app.audit_mode = 'summary'"))
        _insert_contacts(session.connection(), tenant, 3)
    rows = trail(tenant.tenant_id, entity_type="contacts")
    assert [r.action for r in rows] == ["create"] * 3


def test_a_tenant_can_be_deleted_and_takes_its_rows_and_trail_with_it(tenant):
    from tests.factories import create_tenant

    doomed = create_tenant()
    with owner_engine().begin() as conn:
        _insert_contacts(conn, doomed, 2)
        conn.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": doomed.tenant_id})
    with owner_engine().connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM contacts WHERE tenant_id = :id) + (SELECT count(*) FROM audit_logs"
                " WHERE tenant_id = :id)"
            ),
            {"id": doomed.tenant_id},
        ).scalar()
    assert left == 0
    assert trail(tenant.tenant_id)  # other tenants' trails are untouched
