"""SQL building blocks that every migration adding a tenant table uses: RLS, audit trigger, updated_at."""

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
