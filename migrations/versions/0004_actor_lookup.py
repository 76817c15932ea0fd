"""Actor lookup in one round trip: a definer function that answers for exactly one (tenant, user) pair, so the
request can set its tenancy and load its actor in the same statement.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION cf_actor(p_tenant uuid, p_user uuid)
        RETURNS TABLE (email varchar, team_id uuid, active boolean, role_id uuid, role varchar, record_scope varchar,
                       plan varchar, perms text[])
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
          SELECT u.email, u.team_id, u.is_active AND u.deleted_at IS NULL AND t.is_active AND t.deleted_at IS NULL,
                 r.id, r.name, r.record_scope, t.plan,
                 COALESCE((SELECT array_agg(p.resource || ':' || p.action)
                             FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
                            WHERE rp.role_id = r.id), '{}')
            FROM users u
            JOIN roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
            JOIN tenants t ON t.id = u.tenant_id
           WHERE u.id = p_user AND u.tenant_id = p_tenant
        $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cf_actor(uuid, uuid)")
