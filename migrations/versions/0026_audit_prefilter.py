"""The update audit trigger compares columns natively before building JSON

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-27

`cf_audit_update()` turned both versions of every updated row into JSON to find the rows where only ignored
columns changed (derived values such as `lead_score` and `search`, `updated_at`, `version`): for a bulk
rescoring of 13,564 leads that was 0.24-0.40 s of a 1.1-1.4 s write. It now compares the other columns natively
first and builds JSON only for the rows that will be audited. What is audited does not change.
"""

from collections.abc import Sequence

from alembic import op

from migrations.helpers import AUDIT_IGNORED_COLUMNS, audit_update_function, audit_update_function_prefiltered

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IGNORED = (*AUDIT_IGNORED_COLUMNS, "lead_score")  # as 0013 left it


def upgrade() -> None:
    op.execute(audit_update_function_prefiltered(IGNORED))


def downgrade() -> None:
    op.execute(audit_update_function(IGNORED))
