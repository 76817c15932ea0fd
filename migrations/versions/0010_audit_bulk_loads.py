"""Audit: bulk loads summarised, tenants deletable

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

Two changes to the audit triggers of 0002:

- A trusted bulk load (the demo seed: millions of generated rows in one owner transaction) may ask for one audit
  row per table and tenant and statement ("bulk_create", with the row count) instead of one per record, by
  `SET LOCAL app.audit_mode = 'summary'`. Only a role that sees past row-level security (superuser or
  BYPASSRLS: the owner) gets it; for the runtime role the setting changes nothing, so the application can never
  thin its own audit trail. Per-record rows doubled the seed's writes (5.9 GB of audit rows for the large demo).
- Deleting a tenant failed: its own `hard_delete` audit row pointed at the tenant being deleted. A tenant's
  audit trail cascades away with it, so that row is no longer written (operators log tenant deletion).
"""

from collections.abc import Sequence

from alembic import op

from migrations.helpers import AUDIT_DERIVED_COLUMNS, AUDIT_SECRET_COLUMNS

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OMITTED = "ARRAY[" + ", ".join(f"'{c}'" for c in (*AUDIT_SECRET_COLUMNS, *AUDIT_DERIVED_COLUMNS)) + "]"

_INSERT = f"""
CREATE OR REPLACE FUNCTION cf_audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF cf_setting('app.audit_mode') = 'summary'
     AND (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
    INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                            new_values, ip_address, user_agent, request_id, via)
    SELECT cf_uuid7(), s.tenant, cf_setting_uuid('app.user_id'), cf_setting_uuid('app.api_key_id'),
           TG_TABLE_NAME, NULL, 'bulk_create', NULL, jsonb_build_object('rows', s.n),
           cf_setting('app.ip')::inet, cf_setting('app.user_agent'), cf_setting('app.request_id'),
           cf_setting('app.via')
    FROM (SELECT cf_audit_row_tenant(TG_TABLE_NAME, to_jsonb(n)) AS tenant, count(*) AS n
          FROM new_rows n GROUP BY 1) s;
    RETURN NULL;
  END IF;
  INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                          new_values, ip_address, user_agent, request_id, via)
  SELECT cf_uuid7(), cf_audit_row_tenant(TG_TABLE_NAME, j), cf_setting_uuid('app.user_id'),
         cf_setting_uuid('app.api_key_id'), TG_TABLE_NAME, cf_audit_entity(j), 'create', NULL,
         j - {_OMITTED}, cf_setting('app.ip')::inet, cf_setting('app.user_agent'),
         cf_setting('app.request_id'), cf_setting('app.via')
  FROM (SELECT to_jsonb(n) AS j FROM new_rows n) s;
  RETURN NULL;
END $$;
"""

_DELETE = f"""
CREATE OR REPLACE FUNCTION cf_audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                          new_values, ip_address, user_agent, request_id, via)
  SELECT cf_uuid7(), cf_audit_row_tenant(TG_TABLE_NAME, j), cf_setting_uuid('app.user_id'),
         cf_setting_uuid('app.api_key_id'), TG_TABLE_NAME, cf_audit_entity(j), 'hard_delete',
         j - {_OMITTED}, NULL, cf_setting('app.ip')::inet, cf_setting('app.user_agent'),
         cf_setting('app.request_id'), cf_setting('app.via')
  FROM (SELECT to_jsonb(o) AS j FROM old_rows o) s
  -- a tenant's own rows, and its audit trail, cascade away with it: do not write into that trail
  WHERE TG_TABLE_NAME <> 'tenants' AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = (j->>'tenant_id')::uuid);
  RETURN NULL;
END $$;
"""

_OLD_DELETE_WHERE = (
    "WHERE TG_TABLE_NAME = 'tenants' OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = (j->>'tenant_id')::uuid);"
)
_NEW_DELETE_WHERE = (
    "WHERE TG_TABLE_NAME <> 'tenants' AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = (j->>'tenant_id')::uuid);"
)


def _previous_insert() -> str:
    start = _INSERT.index("  IF cf_setting")
    end = _INSERT.index("  END IF;\n", start) + len("  END IF;\n")
    return _INSERT[:start] + _INSERT[end:]


def upgrade() -> None:
    op.execute(_INSERT)
    op.execute(_DELETE)


def downgrade() -> None:
    op.execute(_previous_insert())
    op.execute(_DELETE.replace(_NEW_DELETE_WHERE, _OLD_DELETE_WHERE))
