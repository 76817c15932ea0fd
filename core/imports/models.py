from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin

IMPORT_ENTITIES = ("contacts", "accounts")
DUPLICATE_POLICIES = ("skip", "update", "create")
IMPORT_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ROW_OUTCOMES = ("failed", "skipped")


class Import(IdMixin, TenantMixin, TimestampMixin, Base):
    """One uploaded file being imported as contacts or accounts: what was detected, how columns map, and
    where the job stands (rows done, counts). The bytes live in `import_files` until the import finishes."""

    __tablename__ = "imports"
    __owner_column__ = "created_by"
    __table_args__ = (
        Index("ix_imports_tenant_created", "tenant_id", "created_at"),
        CheckConstraint(f"entity_type IN {IMPORT_ENTITIES}", name="ck_imports_entity_type"),
        CheckConstraint(f"duplicate_policy IN {DUPLICATE_POLICIES}", name="ck_imports_duplicate_policy"),
        CheckConstraint(f"status IN {IMPORT_STATUSES}", name="ck_imports_status"),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    duplicate_policy: Mapped[str] = mapped_column(String(10), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued", server_default="queued")
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10), nullable=False)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    encoding: Mapped[str | None] = mapped_column(String(40))
    has_bom: Mapped[bool | None] = mapped_column()
    delimiter: Mapped[str | None] = mapped_column(String(4))
    headers: Mapped[list] = mapped_column(JSONB, nullable=False)
    # [{"index", "header", "field"}] for every mapped column; `unmapped` the headers of the others.
    columns: Mapped[list] = mapped_column(JSONB, nullable=False)
    unmapped: Mapped[list] = mapped_column(JSONB, nullable=False)
    total_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    processed_rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    updated_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    skipped_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    failed_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    job_id: Mapped[UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportFile(TenantMixin, Base):
    """The uploaded bytes, in PostgreSQL so that any worker can run the import and it survives restarts;
    deleted when the import finishes. Apart from `imports` so that listing imports never reads them."""

    __tablename__ = "import_files"

    import_id: Mapped[UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ImportRow(IdMixin, TenantMixin, Base):
    """A row of the file that was not imported as is: `failed` (one per problem: field and message) or
    `skipped` (a duplicate under the skip policy, with the existing record's id)."""

    __tablename__ = "import_rows"
    __table_args__ = (
        Index("ix_import_rows_import", "tenant_id", "import_id", "outcome", "row_number"),
        CheckConstraint(f"outcome IN {ROW_OUTCOMES}", name="ck_import_rows_outcome"),
    )

    import_id: Mapped[UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), nullable=False)
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)
    outcome: Mapped[str] = mapped_column(String(10), nullable=False)
    field: Mapped[str | None] = mapped_column(String(100))
    column: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    values: Mapped[dict | None] = mapped_column(JSONB)
    record_id: Mapped[UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
