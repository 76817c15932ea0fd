"""Full-text search uses its GIN indexes under row-level security

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

Under row-level security PostgreSQL evaluates a query's own conditions after the policy's unless their functions
are LEAKPROOF (they could otherwise leak other tenants' values through errors). `tsvector @@ tsquery`
(ts_match_vq) is not marked so, which left the GIN indexes on `search` unusable for the application role: every
search scanned all of a tenant's rows. The function only compares its arguments and raises no data-dependent
error, so marking it LEAKPROOF is safe; it needs a superuser, and without one (a managed server) the migration
leaves it and says so, and searches stay correct but scan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SET = """
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) {mark};
    ELSE
        RAISE NOTICE 'not a superuser: ts_match_vq left as it is (search cannot use its GIN index under RLS)';
    END IF;
END $$
"""


def upgrade() -> None:
    op.execute(_SET.format(mark="LEAKPROOF"))


def downgrade() -> None:
    op.execute(_SET.format(mark="NOT LEAKPROOF"))
