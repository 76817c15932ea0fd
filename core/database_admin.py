"""Owner-side operations: migrations, the runtime role and its grants, the permission catalogue.

These run with the owner connection (`clientforge migrate`, `clientforge up`); nothing on the request path
uses them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import redis
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

import migrations
from core.auth import authz
from core.config import APP_DB_ROLE, get_settings
from core.db import owner_engine
from core.rbac.catalog import ALL_PERMISSIONS, RESOURCES, SYSTEM_ROLES

log = logging.getLogger(__name__)

APPEND_ONLY_TABLES = ("audit_logs",)
# The functions of schema public the app role may call; nothing else (PUBLIC included) may execute any.
# Row-level security policies, audit and updated_at triggers run as the app role and call cf_current_tenant,
# cf_setting*, cf_uuid7 and cf_audit_*; the definer lookups answer the login, API-key and worker questions;
# procrastinate's functions are the queue (the worker and the transactional enqueue run as the app role).
# A new function the app must call is added here, on purpose.
APP_FUNCTIONS = (
    "cf_current_tenant",
    "cf_setting",
    "cf_setting_uuid",
    "cf_uuid7",
    "cf_set_updated_at",
    "cf_tenant_by_slug",
    "cf_api_key_by_prefix",
    "cf_tenant_count",
    "cf_actor",
    "cf_claim_events",
    "cf_active_tenant_ids",
    "cf_claim_due_report_schedules",
)
APP_FUNCTION_PREFIXES = ("cf_audit_", "procrastinate_")
READ_ONLY_TABLES = ("permissions",)
OWNER_ONLY_TABLES = ("alembic_version",)


def alembic_config(url: URL | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if url is not None:
        cfg.attributes["url"] = url.render_as_string(hide_password=False)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine | None = None) -> None:
    """Upgrade to head, then make sure the runtime role, its grants and the catalogue are current."""
    engine = engine or owner_engine()
    with engine.begin() as conn:
        owner = conn.execute(
            text("SELECT rolname, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        )
        name, bypasses = owner.one()
        if not bypasses:
            # The owner provisions tenants' system roles and the definer functions (outbox claim, login
            # lookups) read across tenants; under FORCE ROW LEVEL SECURITY that needs BYPASSRLS.
            raise RuntimeError(
                f"DATABASE_URL role '{name}' must be a superuser or have BYPASSRLS "
                f"(ALTER ROLE {name} BYPASSRLS); the application itself connects as {APP_DB_ROLE}"
            )
        # One migrator at a time (several processes may start together).
        conn.execute(text("SELECT pg_advisory_xact_lock(7246001)"))
        command.upgrade(alembic_config(connection=conn), "head")
    ensure_app_role(engine, get_settings().secret("app_db_password"))
    if not sync_permissions(engine):
        return  # no grant changed: the tokens minted before stay right
    try:  # grants changed: tokens minted before must be refreshed
        authz.reset_all()
    except redis.RedisError:
        log.warning("Redis unreachable: access tokens issued before this migration stay valid until they expire")


def ensure_app_role(engine: Engine, password: str) -> None:
    """The role every request uses: LOGIN, not superuser, no BYPASSRLS, owns nothing."""
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_DB_ROLE}).scalar()
        verb = "ALTER" if exists else "CREATE"
        # Identifiers cannot be bound; the role name is a constant and the password is quoted by the server.
        quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
        conn.execute(
            text(f"{verb} ROLE {APP_DB_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {quoted}")
        )
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {APP_DB_ROLE}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {APP_DB_ROLE}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_DB_ROLE}"))
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        for table in tables:
            if table in OWNER_ONLY_TABLES:
                continue
            if table in APPEND_ONLY_TABLES:
                privileges = "SELECT, INSERT"
            elif table in READ_ONLY_TABLES:
                privileges = "SELECT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(text(f'GRANT {privileges} ON TABLE "{table}" TO {APP_DB_ROLE}'))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_DB_ROLE}"))
        _grant_functions(conn)


def _grant_functions(conn: Connection) -> None:
    """EXECUTE on exactly `APP_FUNCTIONS` (and the cf_audit_/procrastinate_ families) for the app role.

    PostgreSQL lets PUBLIC execute every new function; that is taken away here for our own functions, and for
    functions the owner creates later by default privileges. Extension functions keep theirs (operators of
    types such as pgvector's need them). Trigger functions are not checked at fire time, but the functions they
    call are, with the rights of the role whose statement fired them: hence cf_setting, cf_uuid7, ...
    """
    owned = conn.execute(
        text(
            "SELECT p.oid::regprocedure::text AS signature, p.proname AS name FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d"
            "   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')"
        )
    ).all()
    for fn in owned:
        conn.execute(text(f"REVOKE EXECUTE ON FUNCTION {fn.signature} FROM PUBLIC, {APP_DB_ROLE}"))
        if fn.name in APP_FUNCTIONS or fn.name.startswith(APP_FUNCTION_PREFIXES):
            conn.execute(text(f"GRANT EXECUTE ON FUNCTION {fn.signature} TO {APP_DB_ROLE}"))
    # Functions created later (by this owner, in this database) are not executable by PUBLIC either.
    conn.execute(text("ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"))


def sync_permissions(engine: Engine) -> bool:
    """Upsert the catalogue and bring every tenant's system roles to their catalogue grants. Returns whether any
    role's grants changed."""
    descriptions = {f"{r}:{a}": f"{a} {r.replace('_', ' ')}" for r, actions in RESOURCES.items() for a in actions}
    changed = 0
    with engine.begin() as conn:
        for perm in ALL_PERMISSIONS:
            resource, action = perm.split(":")
            conn.execute(
                text(
                    "INSERT INTO permissions (id, resource, action, description) VALUES (cf_uuid7(), :r, :a, :d)"
                    " ON CONFLICT (resource, action) DO NOTHING"
                ),
                {"r": resource, "a": action, "d": descriptions[perm]},
            )
        for name, (_, _, perms) in SYSTEM_ROLES.items():
            wanted = sorted(perms)
            changed += conn.execute(
                text(
                    "DELETE FROM role_permissions rp USING roles r, permissions p"
                    " WHERE rp.role_id = r.id AND rp.permission_id = p.id AND r.is_system_role AND r.name = :n"
                    " AND NOT (p.resource || ':' || p.action = ANY(:wanted))"
                ),
                {"n": name, "wanted": wanted},
            ).rowcount
            changed += conn.execute(
                text(
                    "INSERT INTO role_permissions (tenant_id, role_id, permission_id)"
                    " SELECT r.tenant_id, r.id, p.id FROM roles r JOIN permissions p"
                    "   ON p.resource || ':' || p.action = ANY(:wanted)"
                    " WHERE r.is_system_role AND r.name = :n ON CONFLICT DO NOTHING"
                ),
                {"n": name, "wanted": wanted},
            ).rowcount
    return changed > 0


def database_reachable(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar_one())
