"""SQL building blocks that every migration adding a tenant table uses: RLS, audit trigger, updated_at."""

from collections.abc import Sequence

from alembic import op

# Secret columns are masked in the audit trail; derived ones are left out of it.
AUDIT_SECRET_COLUMNS = ("password_hash", "key_hash", "secret_encrypted")
AUDIT_DERIVED_COLUMNS = ("search",)
# Updates that change only these (derived values, bookkeeping of logins and key use) write no audit row;
# auth events are audited explicitly instead.
AUDIT_IGNORED_COLUMNS = (
    *AUDIT_DERIVED_COLUMNS,
    "updated_at",
    "version",
    "last_used_at",
    "last_login_at",
    "failed_login_attempts",
    "locked_until",
)


def _array(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{c}'" for c in values) + "]"


def _audit_update_insert(ignored: Sequence[str], *, table: str, pairs_where: str = "", kept: str = "") -> str:
    """The INSERT into audit_logs both update functions run: `table` is the SQL naming the table, `pairs_where`
    filters the old/new row pairs before their JSON is built, `kept` the pairs after it."""
    secret, skip = _array(AUDIT_SECRET_COLUMNS), _array(ignored)
    return f"""
  INSERT INTO audit_logs (id, tenant_id, user_id, api_key_id, entity_type, entity_id, action, old_values,
                          new_values, ip_address, user_agent, request_id, via)
  SELECT cf_uuid7(), cf_audit_row_tenant({table}, d.nj), cf_setting_uuid('app.user_id'),
         cf_setting_uuid('app.api_key_id'), {table}, cf_audit_entity(d.nj),
         CASE WHEN d.oj->>'deleted_at' IS NULL AND d.nj->>'deleted_at' IS NOT NULL THEN 'delete'
              WHEN d.oj->>'deleted_at' IS NOT NULL AND d.nj->>'deleted_at' IS NULL THEN 'restore'
              ELSE 'update' END,
         d.old_changed, d.new_changed, cf_setting('app.ip')::inet, cf_setting('app.user_agent'),
         cf_setting('app.request_id'), cf_setting('app.via')
  FROM (
    SELECT oj, nj,
      (SELECT jsonb_object_agg(k, CASE WHEN k = ANY({secret}) THEN '"***"'::jsonb ELSE oj->k END)
         FROM jsonb_object_keys(nj) k
        WHERE oj->k IS DISTINCT FROM nj->k AND k <> ALL({skip})) AS old_changed,
      (SELECT jsonb_object_agg(k, CASE WHEN k = ANY({secret}) THEN '"***"'::jsonb ELSE nj->k END)
         FROM jsonb_object_keys(nj) k
        WHERE oj->k IS DISTINCT FROM nj->k AND k <> ALL({skip})) AS new_changed
    FROM (SELECT to_jsonb(o) AS oj, to_jsonb(n) AS nj
            FROM old_rows o JOIN new_rows n ON n.id = o.id{pairs_where} OFFSET 0) pairs{kept}
  ) d
  WHERE d.new_changed IS NOT NULL"""


def audit_update_function(ignored: Sequence[str]) -> str:
    """`cf_audit_update()`: updates record only the columns that changed (old and new), name soft deletes and
    restores, and write nothing when only `ignored` columns changed. The `OFFSET 0` fence keeps each row's JSON
    computed once (flattened, the planner recomputed both rows' `to_jsonb` for every key: 2 ms a row), and rows
    where only ignored columns changed are dropped before the per-column comparison."""
    skip = _array(ignored)
    kept = f"\n    WHERE (oj - {skip}::text[]) IS DISTINCT FROM (nj - {skip}::text[])"
    return f"""
CREATE OR REPLACE FUNCTION cf_audit_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{_audit_update_insert(ignored, table="TG_TABLE_NAME", kept=kept)};
  RETURN NULL;
END $$;
"""


def audit_update_function_prefiltered(ignored: Sequence[str]) -> str:
    """`cf_audit_update()` as `audit_update_function`, with the rows where only `ignored` columns changed dropped
    by comparing the other columns natively before any JSON is built. The column list is read from the catalog
    per statement (dynamic SQL sees the transition tables), so it follows every table's columns as they are.
    Turning both versions of a wide row into JSON cost ~20 us a row: a third of rescoring 13,564 leads went to
    finding out that only `lead_score` had changed. json and xml have no equality: compared as text."""
    insert = _audit_update_insert(ignored, table="%1$L", pairs_where=" WHERE %2$s")
    return f"""
CREATE OR REPLACE FUNCTION cf_audit_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  changed text;
BEGIN
  SELECT string_agg(
           CASE WHEN atttypid IN ('json'::regtype, 'xml'::regtype)
                THEN format('o.%1$I::text IS DISTINCT FROM n.%1$I::text', attname)
                ELSE format('o.%1$I IS DISTINCT FROM n.%1$I', attname) END,
           ' OR ' ORDER BY attnum)
    INTO changed
    FROM pg_attribute
   WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> ALL({_array(ignored)});
  IF changed IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format($q${insert}
  $q$, TG_TABLE_NAME, changed);
  RETURN NULL;
END $fn$;
"""


def enable_tenant_rls(table: str, column: str = "tenant_id") -> None:
    """Row-level security, enabled and forced, on `column = app.tenant_id` (fails closed when unset)."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = cf_current_tenant()) WITH CHECK ({column} = cf_current_tenant())"
    )


def disable_tenant_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def attach_audit(table: str, *, updates: bool = True) -> None:
    """Statement-level triggers with transition tables: one INSERT into audit_logs per statement,
    so bulk and raw-SQL writes are audited as cheaply as single ones."""
    op.execute(
        f"CREATE TRIGGER audit_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION cf_audit_insert()"
    )
    op.execute(
        f"CREATE TRIGGER audit_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION cf_audit_delete()"
    )
    if updates:
        op.execute(
            f"CREATE TRIGGER audit_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION cf_audit_update()"
        )


def detach_audit(table: str) -> None:
    for name in ("audit_insert", "audit_delete", "audit_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def attach_updated_at(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER set_updated_at BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION cf_set_updated_at()"
    )


def detach_updated_at(table: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS set_updated_at ON {table}")
