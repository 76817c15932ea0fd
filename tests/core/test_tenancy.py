"""Tenancy is enforced twice: PostgreSQL row-level security for the app role, and the service filter
(`actor.readable`) on its own. Plan limits live here too: they are per tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ai.nlp import store
from core.actions.models import NextActionDecision, NextBestAction
from core.albedo.models import Conversation, Message, Proposal
from core.auth import service as auth
from core.churn.models import ChurnRisk
from core.config import APP_DB_ROLE
from core.db import Base, app_engine, owner_engine, unit_of_work
from core.errors import NotFound, PlanLimitReached
from core.events import service as events
from core.ids import new_id
from core.imports.models import Import, ImportFile, ImportRow
from core.insights.models import Anomaly, InsightSettings
from core.jobs.models import Job
from core.models import (
    Account,
    Activity,
    Contact,
    CustomField,
    CustomFieldValue,
    Dashboard,
    DashboardWidget,
    Deal,
    DealStageHistory,
    EtlRun,
    ForecastBreakdown,
    IdempotencyKey,
    LeadScore,
    MlModel,
    Note,
    Pipeline,
    Quota,
    Report,
    ReportSchedule,
    SalesForecast,
    ScoringRule,
    ScoringSettings,
    Stage,
    Task,
    Webhook,
    WebhookDelivery,
    tenant_tables,
)
from core.sentiment.models import SentimentExample, TextSentiment
from core.suggestions.models import EnrichmentState, FieldSuggestion
from core.users import service as users
from core.users.schemas import TeamCreate, UserCreate, UserUpdate
from tests.core.conftest import owner_execute
from tests.factories import PASSWORD, TenantWorld


def _tenant_column(table: str) -> str:
    return "id" if table == "tenants" else "tenant_id"


def _owner_counts(tenant_id) -> dict[str, int]:
    """Rows per tenant table for one tenant, counted on the owner connection (RLS does not apply)."""
    with owner_engine().connect() as conn:
        return {
            table: conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {_tenant_column(table)} = :t"), {"t": tenant_id}
            ).scalar_one()
            for table in tenant_tables()
        }


def _owner_fingerprint(table: str, tenant_id) -> list[str]:
    """Every row of one tenant in one table, as text, to prove nothing changed."""
    with owner_engine().connect() as conn:
        return sorted(
            conn.execute(
                text(f"SELECT x::text FROM {table} x WHERE {_tenant_column(table)} = :t"), {"t": tenant_id}
            ).scalars()
        )


def _populate(world: TenantWorld) -> None:
    """Give the tenant at least one row in every tenant-owned table, through the services."""
    admin = world.admin
    with unit_of_work(admin) as session:
        users.create_team(session, admin, TeamCreate(name="Field sales"))
        auth.create_api_key(session, admin, name="sync", permissions=["contacts:read"])
        session.add(Job(id=new_id(), tenant_id=world.tenant_id, kind="import", created_by=world.admin_id))
        events.emit(session, admin, "team.created", entity_type="teams")
    _populate_records(world)


def _populate_records(world: TenantWorld) -> None:
    """One row in each CRM record table, written as the app role inside the tenant (so RLS admits them)."""
    t, owner = world.tenant_id, world.admin_id
    with unit_of_work(world.admin) as session:
        pipeline = session.scalars(select(Pipeline).where(Pipeline.tenant_id == t, Pipeline.is_default)).one()
        stage = session.scalars(
            select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.display_order)
        ).first()
        account = Account(id=new_id(), tenant_id=t, owner_id=owner, name="Acme", domain="acme.example")
        contact = Contact(
            id=new_id(),
            tenant_id=t,
            owner_id=owner,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@acme.example",
            account_id=account.id,
        )
        deal = Deal(
            id=new_id(),
            tenant_id=t,
            owner_id=owner,
            name="Acme renewal",
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            account_id=account.id,
            contact_id=contact.id,
            amount=1000,
        )
        field = CustomField(
            id=new_id(),
            tenant_id=t,
            entity_type="contacts",
            field_name="tier",
            field_label="Tier",
            field_type="select",
            field_options=["gold", "silver"],
        )
        webhook = Webhook(
            id=new_id(),
            tenant_id=t,
            url="https://hooks.example/crm",
            event_types=["contact.created"],
            secret_encrypted="v1:x",
        )
        upload = Import(
            id=new_id(),
            tenant_id=t,
            entity_type="contacts",
            duplicate_policy="skip",
            file_format="csv",
            file_size=10,
            headers=["email"],
            columns=[{"index": 0, "header": "email", "field": "email"}],
            unmapped=[],
            total_rows=1,
            created_by=owner,
        )
        report = Report(
            id=new_id(),
            tenant_id=t,
            name="Pipeline",
            report_type="chart",
            entity_type="deals",
            spec={"entity": "deals"},
            created_by=owner,
        )
        board = Dashboard(id=new_id(), tenant_id=t, name="Sales", created_by=owner)
        model = MlModel(id=new_id(), tenant_id=t, model_type="revenue_forecast", version="1")
        quarter = {"period_start_date": date(2026, 10, 1), "period_end_date": date(2026, 12, 31)}
        forecast = SalesForecast(
            id=new_id(),
            tenant_id=t,
            level="company",
            forecast_period="quarter",
            forecast_date=date(2026, 10, 1),
            currency="USD",
            forecasted_revenue=1000,
            model_id=model.id,
            **quarter,
        )
        quota = Quota(id=new_id(), tenant_id=t, user_id=owner, period="quarter", amount=5000, currency="USD", **quarter)
        session.add_all([account, contact, deal, field, webhook, upload, report, board, model, quota])
        session.flush()
        session.add(forecast)
        session.flush()
        session.add_all(
            [
                DealStageHistory(id=new_id(), tenant_id=t, deal_id=deal.id, to_stage_id=stage.id, changed_by=owner),
                LeadScore(id=new_id(), tenant_id=t, contact_id=contact.id, model_id=model.id, score=42),
                Anomaly(
                    id=new_id(),
                    tenant_id=t,
                    code="close_date_pushed",
                    entity_type="deals",
                    entity_id=deal.id,
                    severity="low",
                    reason="Close date pushed 2 times",
                    model="anomaly-rules",
                    model_version="1.0",
                ),
                InsightSettings(id=new_id(), tenant_id=t),
                ChurnRisk(
                    id=new_id(),
                    tenant_id=t,
                    account_id=account.id,
                    model_id=model.id,
                    model_version="1",
                    method="rules",
                    probability=0.5,
                    score=50,
                ),
                FieldSuggestion(
                    id=new_id(),
                    tenant_id=t,
                    entity_type="contacts",
                    entity_id=contact.id,
                    field="phone",
                    current_value="(415) 555-2671",
                    suggested_value="+14155552671",
                    suggested_label="+14155552671 (United States)",
                    confidence=0.95,
                    reason="The phone (415) 555-2671 written in international format (E.164): United States",
                    source="rule:phone_e164",
                    fingerprint="0" * 64,
                ),
                EnrichmentState(id=new_id(), tenant_id=t, enriched_through=datetime.now(UTC)),
                SentimentExample(
                    id=new_id(),
                    tenant_id=t,
                    text="Met at the fair",
                    label="positive",
                    content_hash="0" * 64,
                    created_by=owner,
                ),
                TextSentiment(
                    id=new_id(),
                    tenant_id=t,
                    entity_type="notes",
                    entity_id=new_id(),
                    label="neutral",
                    score=0,
                    confidence=0.5,
                    model_version="out_of_box-2026.11-1",
                    content_hash="0" * 64,
                    occurred_at=datetime.now(UTC),
                ),
                ScoringRule(id=new_id(), tenant_id=t, field="lead_source", operator="equals", value="Web", points=5),
                ScoringSettings(id=new_id(), tenant_id=t, converted_stages=["customer"]),
                Activity(id=new_id(), tenant_id=t, owner_id=owner, type="call", subject="Intro", contact_id=contact.id),
                Task(id=new_id(), tenant_id=t, title="Send proposal", assignee_id=owner, deal_id=deal.id),
                Note(id=new_id(), tenant_id=t, entity_type="contacts", entity_id=contact.id, body="Met at the fair"),
                CustomFieldValue(
                    id=new_id(),
                    tenant_id=t,
                    custom_field_id=field.id,
                    entity_type="contacts",
                    entity_id=contact.id,
                    value_text="gold",
                ),
                IdempotencyKey(
                    id=new_id(), tenant_id=t, key="k1", method="POST", path="/api/v1/contacts", request_hash="0" * 64
                ),
                WebhookDelivery(
                    id=new_id(), tenant_id=t, webhook_id=webhook.id, event_id=new_id(), event_type="contact.created"
                ),
                ImportFile(import_id=upload.id, tenant_id=t, data=b"email\nx@y.z\n"),
                ImportRow(id=new_id(), tenant_id=t, import_id=upload.id, row_number=2, outcome="failed", message="bad"),
                DashboardWidget(
                    id=new_id(),
                    tenant_id=t,
                    dashboard_id=board.id,
                    report_id=report.id,
                    widget_type="chart",
                    position_x=0,
                    position_y=0,
                    width=6,
                    height=4,
                ),
                ReportSchedule(
                    id=new_id(),
                    tenant_id=t,
                    report_id=report.id,
                    frequency="daily",
                    time_of_day="08:00",
                    timezone="UTC",
                    recipients=["boss@example.com"],
                    next_run_at=datetime.now(UTC) + timedelta(days=1),
                ),
                EtlRun(id=new_id(), tenant_id=t, trigger="manual", full=True, started_at=datetime.now(UTC)),
                NextBestAction(
                    id=new_id(),
                    tenant_id=t,
                    owner_id=owner,
                    kind="multi_thread",
                    entity_type="deals",
                    deal_id=deal.id,
                    condition_key=f"multi_thread:{deal.id}:{account.id}",
                    title="Multi-thread Acme",
                    reason="Ada is the only contact at Acme",
                    expected_value=10,
                    win_probability=0.1,
                    uplift=0.01,
                    change={"type": "task", "title": "Find a second contact at Acme", "dueInDays": 3},
                    model_version="uplift-test",
                ),
                NextActionDecision(
                    id=new_id(),
                    tenant_id=t,
                    owner_id=owner,
                    action_id=new_id(),
                    kind="schedule_next_step",
                    entity_type="deals",
                    entity_id=deal.id,
                    condition_key=f"schedule_next_step:{deal.id}",
                    decision="ignored",
                    expected_value=10,
                    model_version="uplift-test",
                    decided_by=owner,
                ),
                ForecastBreakdown(
                    id=new_id(),
                    tenant_id=t,
                    forecast_id=forecast.id,
                    deal_id=deal.id,
                    category="commit",
                    category_source="owner",
                ),
            ]
        )
        conversation = Conversation(id=new_id(), tenant_id=t, user_id=owner, title="Pipeline questions")
        session.add(conversation)
        session.flush()
        session.add(
            Message(id=new_id(), tenant_id=t, conversation_id=conversation.id, role="user", content="My deals?")
        )
        session.add(
            Proposal(
                id=new_id(),
                tenant_id=t,
                conversation_id=conversation.id,
                user_id=owner,
                action="create_task",
                arguments={"title": "Call back"},
                changes=[{"record": None, "field": "title", "old": None, "new": "Call back"}],
                versions={},
                summary="Create task 'Call back'",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        session.flush()
        store.refresh(session, t, types=["notes"])  # the note's embedding, as the worker writes it


def test_every_tenant_table_has_row_level_security_enabled_forced_and_a_policy():
    tables = tenant_tables()
    mapped = {m.class_.__tablename__ for m in Base.registry.mappers}
    assert (
        {"tenants", "users", "teams", "roles", "role_permissions", "api_keys", "audit_logs", "events", "jobs"}
        <= set(tables)
        <= mapped
    )
    with owner_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                "       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies"
                "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(:t)"
            ),
            {"t": tables},
        ).all()
    found = {r.relname: r for r in rows}
    assert set(found) == set(tables)
    for table in tables:
        assert found[table].relrowsecurity, f"{table}: RLS not enabled"
        assert found[table].relforcerowsecurity, f"{table}: RLS not forced"
        assert found[table].policies >= 1, f"{table}: no policy"


def test_every_policy_of_every_tenant_table_compares_the_tenant_column_with_cf_current_tenant():
    """A policy that exists but tests something else (or a second permissive policy such as `USING (true)`,
    OR-ed with the first) would open the table: every policy must pin the row to the transaction's tenant,
    for reading (qual) and for writing (with_check)."""
    tables = tenant_tables()
    with owner_engine().connect() as conn:
        policies = conn.execute(
            text(
                "SELECT tablename, policyname, permissive, roles, cmd, qual, with_check FROM pg_policies"
                " WHERE schemaname = 'public' AND tablename = ANY(:t)"
            ),
            {"t": tables},
        ).all()
    by_table: dict[str, list] = {}
    for policy in policies:
        by_table.setdefault(policy.tablename, []).append(policy)
    assert set(by_table) == set(tables)
    for table, found in by_table.items():
        expected = f"({_tenant_column(table)} = cf_current_tenant())"
        for policy in found:
            where = f"{table}.{policy.policyname}"
            assert policy.cmd == "ALL" and policy.roles == ["public"], where
            assert policy.qual == expected, f"{where}: USING {policy.qual}"
            assert policy.with_check == expected, f"{where}: WITH CHECK {policy.with_check}"


def _can_execute(role: str, signature: str) -> bool:
    with owner_engine().connect() as conn:
        return conn.execute(
            text("SELECT has_function_privilege(:r, CAST(:f AS regprocedure), 'EXECUTE')"), {"r": role, "f": signature}
        ).scalar_one()


def test_only_the_app_role_executes_our_functions_and_only_those_it_needs():
    """PUBLIC may execute none of the schema's functions (definer lookups included); the app role only those
    that RLS, triggers, logins and the queue call; functions created later are not executable by default."""
    with owner_engine().connect() as conn:
        functions = conn.execute(
            text(
                "SELECT p.oid::regprocedure::text AS signature, p.proname AS name FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
        ).all()
        public_grants = (
            conn.execute(
                text(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,"
                    " aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
                    " WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'"
                )
            )
            .scalars()
            .all()
        )
    assert public_grants == []
    names = {f.name for f in functions}
    assert {
        "cf_actor",
        "cf_tenant_by_slug",
        "cf_current_tenant",
        "cf_audit_insert",
        "procrastinate_fetch_job_v2",
    } <= names
    for fn in functions:
        assert _can_execute(APP_DB_ROLE, fn.signature), fn.signature

    owner_execute("CREATE FUNCTION cf_probe_later() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    try:
        assert not _can_execute(APP_DB_ROLE, "cf_probe_later()")
        assert not _can_execute("public", "cf_probe_later()")
        with pytest.raises(DBAPIError, match="permission denied for function cf_probe_later"):
            with app_engine().connect() as conn:
                conn.execute(text("SELECT cf_probe_later()"))
    finally:
        owner_execute("DROP FUNCTION cf_probe_later()")


def test_app_role_is_not_superuser_owns_nothing_and_cannot_bypass_rls():
    with owner_engine().connect() as conn:
        role = conn.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": APP_DB_ROLE}
        ).one()
        owned = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner"
                    " WHERE o.rolname = :r AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
                ),
                {"r": APP_DB_ROLE},
            )
            .scalars()
            .all()
        )
        owner_is_superuser = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        assert owner_is_superuser.scalar_one()  # the owner engine is the one that RLS does not stop
    assert role.rolsuper is False
    assert role.rolbypassrls is False
    assert owned == []
    with app_engine().connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_DB_ROLE


def test_app_role_cannot_read_update_or_delete_another_tenants_rows(make_tenant):
    a, b = make_tenant(), make_tenant()
    _populate(a)
    _populate(b)
    before_counts = _owner_counts(b.tenant_id)
    assert all(before_counts[t] > 0 for t in tenant_tables()), before_counts
    before = {t: _owner_fingerprint(t, b.tenant_id) for t in tenant_tables()}

    for table in tenant_tables():
        col = _tenant_column(table)
        with unit_of_work(tenant_id=a.tenant_id) as session:
            own = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert own > 0, f"{table}: tenant A sees none of its own rows"
            assert (
                session.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {col} <> :a"), {"a": a.tenant_id}
                ).scalar_one()
                == 0
            )
            assert (
                session.execute(text(f"SELECT count(*) FROM {table} WHERE {col} = :b"), {"b": b.tenant_id}).scalar_one()
                == 0
            )
            if table == "audit_logs":
                continue  # append-only: UPDATE and DELETE are refused outright (test_audit)
            updated = session.execute(text(f"UPDATE {table} SET {col} = {col} WHERE {col} = :b"), {"b": b.tenant_id})
            assert updated.rowcount == 0, f"{table}: updated another tenant's rows"
            deleted = session.execute(text(f"DELETE FROM {table} WHERE {col} = :b"), {"b": b.tenant_id})
            assert deleted.rowcount == 0, f"{table}: deleted another tenant's rows"
        # A's own rows are reachable through the same path (the statements above are not vacuous).
        with unit_of_work(tenant_id=a.tenant_id) as session:
            if table not in ("audit_logs", "tenants"):
                touched = session.execute(
                    text(f"UPDATE {table} SET {col} = {col} WHERE {col} = :a"), {"a": a.tenant_id}
                )
                assert touched.rowcount > 0
            session.rollback()

    assert _owner_counts(b.tenant_id) == before_counts
    assert {t: _owner_fingerprint(t, b.tenant_id) for t in tenant_tables()} == before


INSERTS = {
    "teams": "INSERT INTO teams (id, tenant_id, name) VALUES (:id, :b, 'intruders')",
    "jobs": "INSERT INTO jobs (id, tenant_id, kind) VALUES (:id, :b, 'exfiltrate')",
    "events": "INSERT INTO events (id, tenant_id, type) VALUES (:id, :b, 'forged')",
    "audit_logs": "INSERT INTO audit_logs (id, tenant_id, entity_type, action) VALUES (:id, :b, 'x', 'forged')",
    "roles": "INSERT INTO roles (id, tenant_id, name) VALUES (:id, :b, 'superpowers')",
    "tenants": "INSERT INTO tenants (id, name, slug, plan, max_users, max_storage_gb)"
    " VALUES (:b, 'clone', 'clone-' || left(:id, 8), 'starter', 5, 10)",
}


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_app_role_cannot_insert_a_row_for_another_tenant(make_tenant, table):
    a, b = make_tenant(), make_tenant()
    before = _owner_counts(b.tenant_id)
    with pytest.raises(DBAPIError) as raised, unit_of_work(tenant_id=a.tenant_id) as session:
        session.execute(text(INSERTS[table]), {"id": str(new_id()), "b": b.tenant_id})
    assert "row-level security" in str(raised.value)
    assert _owner_counts(b.tenant_id) == before


def test_with_no_tenant_set_every_tenant_table_reads_empty(tenant):
    _populate(tenant)
    with unit_of_work() as session:
        for table in tenant_tables():
            assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    # A bare app-role connection that never set app.tenant_id fails closed as well.
    with app_engine().connect() as conn:
        assert conn.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar() in (None, "")
        for table in tenant_tables():
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table


def test_service_filter_alone_keeps_tenants_apart_on_an_owner_connection(make_tenant):
    a, b = make_tenant(), make_tenant()
    _populate(a)
    _populate(b)
    actor = a.admin
    models = [m.class_ for m in Base.registry.mappers if getattr(m.class_, "__tenant_owned__", False)]
    assert {m.__tablename__ for m in models} == set(tenant_tables()) - {"tenants"}
    with Session(owner_engine()) as session:
        for model in models:
            table = model.__tablename__
            # No RLS here: the owner sees both tenants, so only the service filter stands between them.
            seen_raw = set(session.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars())
            assert {a.tenant_id, b.tenant_id} <= seen_raw, table
            rows = session.scalars(actor.readable(model)).all()
            assert rows, f"{table}: the service filter hides the actor's own rows"
            assert {r.tenant_id for r in rows} == {a.tenant_id}, table
        assert users.list_users(session, actor)[1] == 1
        foreign = session.scalar(text("SELECT id FROM users WHERE tenant_id = :b"), {"b": b.tenant_id})
        with pytest.raises(NotFound, match="User not found"):
            users.get(session, actor, foreign)
        session.rollback()


def test_plan_limit_refuses_a_user_beyond_the_plan_and_deactivation_frees_a_seat(make_tenant):
    world = make_tenant(plan="starter", max_users=2)
    second = world.add_user("rep")  # the admin is the first seat
    admin = world.admin

    def new_user(email: str) -> UserCreate:
        return UserCreate(email=email, first_name="Extra", last_name="Seat", password=PASSWORD, role="rep")

    with pytest.raises(PlanLimitReached) as raised, unit_of_work(admin) as session:
        users.create(session, admin, new_user(f"third@{world.slug}.example.com"))
    err = raised.value
    assert err.code == "PLAN_LIMIT_REACHED"
    assert "starter plan allows 2 active users" in err.message
    assert "deactivate a user or upgrade" in err.message
    assert err.details == {"maxUsers": 2, "activeUsers": 2}
    with unit_of_work(admin) as session:
        assert users.list_users(session, admin)[1] == 2  # nothing half-created

    with unit_of_work(admin) as session:
        users.deactivate(session, admin, second)
    with unit_of_work(admin) as session:
        user, _ = users.create(session, admin, new_user(f"third@{world.slug}.example.com"))
        assert user.is_active
    with pytest.raises(PlanLimitReached), unit_of_work(admin) as session:
        users.create(session, admin, new_user(f"fourth@{world.slug}.example.com"))


def test_reactivating_a_user_takes_a_seat_like_creating_one(make_tenant):
    world = make_tenant(plan="starter", max_users=2)
    rep = world.add_user("rep")
    admin = world.admin
    with unit_of_work(admin) as session:
        users.update(session, admin, rep, UserUpdate(is_active=False))
    with unit_of_work(admin) as session:  # the freed seat goes to someone else
        users.create(
            session,
            admin,
            UserCreate(email=f"new@{world.slug}.example.com", first_name="N", last_name="U", password=PASSWORD),
        )
    with pytest.raises(PlanLimitReached, match="starter plan allows 2 active users"), unit_of_work(admin) as session:
        users.update(session, admin, rep, UserUpdate(is_active=True))
    with unit_of_work(admin) as session:
        assert users.list_users(session, admin, include_inactive=False)[1] == 2
        assert users.get(session, admin, rep).is_active is False
        users.update(session, admin, rep, UserUpdate(first_name="Still", is_active=False))  # no seat needed
