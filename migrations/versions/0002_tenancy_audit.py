"""Tenancy and audit mechanisms: RLS on every tenant table, audit triggers, updated_at, lookups for login.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from collections.abc import Sequence

from alembic import op

from migrations.helpers import (
    AUDIT_DERIVED_COLUMNS,
    AUDIT_IGNORED_COLUMNS,
    AUDIT_SECRET_COLUMNS,
    attach_audit,
    attach_updated_at,
    audit_update_function,
    detach_audit,
    detach_updated_at,
    disable_tenant_rls,
    enable_tenant_rls,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["teams", "users", "roles", "role_permissions", "api_keys", "audit_logs", "events", "jobs"]
AUDITED = ["tenants", "teams", "users", "roles", "api_keys"]
WITH_UPDATED_AT = ["tenants", "teams", "users", "roles", "api_keys", "jobs"]

_SECRET = "ARRAY[" + ", ".join(f"'{c}'" for c in AUDIT_SECRET_COLUMNS) + "]"
# Secrets never enter the trail; derived columns (search vectors) are noise.
_OMITTED = "ARRAY[" + ", ".join(f"'{c}'" for c in (*AUDIT_SECRET_COLUMNS, *AUDIT_DERIVED_COLUMNS)) + "]"

FUNCTIONS = f"""
CREATE FUNCTION cf_current_tenant() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid
$$;

CREATE FUNCTION cf_setting_uuid(name text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting(name, true), '')::uuid
$$;

CREATE FUNCTION cf_setting(name text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting(name, true), '')
$$;

-- Time-ordered UUID (v7) for rows written by SQL (audit triggers); Python writes the rest.
CREATE FUNCTION cf_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

CREATE FUNCTION cf_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE FUNCTION cf_audit_row_tenant(tbl text, j jsonb) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN tbl = 'tenants' THEN (j->>'id')::uuid ELSE (j->>'tenant_id')::uuid END
$$;

CREATE FUNCTION cf_audit_entity(j jsonb) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT COALESCE(j->>'id', j->>'role_id')::uuid
$$;

CREATE FUNCTION cf_audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                          new_values, ip_address, user_agent, request_id, via)
  SELECT cf_uuid7(), cf_audit_row_tenant(TG_TABLE_NAME, j), cf_setting_uuid('app.user_id'),
         cf_setting_uuid('app.api_key_id'), TG_TABLE_NAME, cf_audit_entity(j), 'create', NULL,
         j - {_OMITTED}, cf_setting('app.ip')::inet, cf_setting('app.user_agent'),
         cf_setting('app.request_id'), cf_setting('app.via')
  FROM (SELECT to_jsonb(n) AS j FROM new_rows n) s;
  RETURN NULL;
END $$;

CREATE FUNCTION cf_audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                          new_values, ip_address, user_agent, request_id, via)
  SELECT cf_uuid7(), cf_audit_row_tenant(TG_TABLE_NAME, j), cf_setting_uuid('app.user_id'),
         cf_setting_uuid('app.api_key_id'), TG_TABLE_NAME, cf_audit_entity(j), 'hard_delete',
         j - {_OMITTED}, NULL, cf_setting('app.ip')::inet, cf_setting('app.user_agent'),
         cf_setting('app.request_id'), cf_setting('app.via')
  FROM (SELECT to_jsonb(o) AS j FROM old_rows o) s
  -- a tenant's own rows cascade away with it; its audit trail goes too, so do not write into it
  WHERE TG_TABLE_NAME = 'tenants' OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = (j->>'tenant_id')::uuid);
  RETURN NULL;
END $$;

{audit_update_function(AUDIT_IGNORED_COLUMNS)}

-- Pre-authentication lookups. The app role cannot read across tenants; these definer functions answer
-- exactly one narrow question each and are owned by the migration role.
CREATE FUNCTION cf_tenant_by_slug(p_slug text)
RETURNS TABLE (id uuid, is_active boolean, plan varchar) LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
  SELECT t.id, t.is_active, t.plan FROM tenants t WHERE t.slug = lower(p_slug) AND t.deleted_at IS NULL
$$;

CREATE FUNCTION cf_api_key_by_prefix(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid) LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
  SELECT k.id, k.tenant_id FROM api_keys k WHERE k.prefix = p_prefix AND k.revoked_at IS NULL
$$;

CREATE FUNCTION cf_tenant_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
  SELECT count(*) FROM tenants WHERE deleted_at IS NULL
$$;

-- The worker's outbox dispatcher claims pending events of every tenant, oldest first.
CREATE FUNCTION cf_claim_events(p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, type varchar, entity_type varchar, entity_id uuid, payload jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE events e SET dispatched_at = now()
   WHERE e.id IN (SELECT p.id FROM events p WHERE p.dispatched_at IS NULL
                   ORDER BY p.created_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
  RETURNING e.id, e.tenant_id, e.type, e.entity_type, e.entity_id, e.payload
$$;
"""

DROP_FUNCTIONS = [
    "cf_claim_events(integer)", "cf_tenant_count()", "cf_api_key_by_prefix(text)", "cf_tenant_by_slug(text)",
    "cf_audit_update()", "cf_audit_delete()", "cf_audit_insert()", "cf_audit_entity(jsonb)",
    "cf_audit_row_tenant(text, jsonb)", "cf_set_updated_at()", "cf_uuid7()", "cf_setting(text)",
    "cf_setting_uuid(text)", "cf_current_tenant()",
]


def upgrade() -> None:
    op.execute(FUNCTIONS)
    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    enable_tenant_rls("tenants", column="id")
    for table in AUDITED:
        attach_audit(table)
    attach_audit("role_permissions", updates=False)
    for table in WITH_UPDATED_AT:
        attach_updated_at(table)


def downgrade() -> None:
    for table in WITH_UPDATED_AT:
        detach_updated_at(table)
    for table in [*AUDITED, "role_permissions"]:
        detach_audit(table)
    for table in [*TENANT_TABLES, "tenants"]:
        disable_tenant_rls(table)
    for fn in DROP_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
