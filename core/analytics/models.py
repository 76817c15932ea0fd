"""What analytics keeps in PostgreSQL: saved reports, dashboards and their widgets, report schedules (the seed's
custom_reports, dashboards and dashboard_widgets, plus schedules), and the log of warehouse loads.

The warehouse itself (DuckDB, etl/) is derived data; these rows are the user's work and the operator's record.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin

REPORT_TYPES = ("table", "chart", "metric")
CHART_TYPES = ("table", "bar", "line", "pie", "funnel", "metric")
WIDGET_TYPES = ("chart", "metric", "table", "list")
FREQUENCIES = ("daily", "weekly", "monthly")
EXPORT_FORMATS = ("csv", "xlsx", "pdf")
ETL_STATUSES = ("running", "succeeded", "failed")
ETL_TRIGGERS = ("manual", "schedule", "event", "api")


class Report(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """A saved report: a validated report spec (`core.analytics.spec.ReportSpec`) and how it is shown.

    The seed's columns are kept (filters, columns, grouping, sorting, chart_config each hold their part of the
    spec) and `spec` holds the whole of it, which is what runs. The standard reports every tenant gets are
    defined in code (etl/reports/standard.py), not stored here."""

    __tablename__ = "custom_reports"
    __owner_column__ = "created_by"
    __table_args__ = (
        Index("ix_custom_reports_tenant_name", "tenant_id", "name", postgresql_where=text("deleted_at IS NULL")),
        CheckConstraint(f"report_type IN {REPORT_TYPES}", name="ck_custom_reports_report_type"),
        CheckConstraint(f"chart_type IN {CHART_TYPES}", name="ck_custom_reports_chart_type"),
        CheckConstraint("length(btrim(name)) > 0", name="ck_custom_reports_name"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    report_type: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(100), nullable=False)
    chart_type: Mapped[str] = mapped_column(String(20), nullable=False, default="table", server_default="table")
    spec: Mapped[dict] = mapped_column(JSONB, nullable=False)
    filters: Mapped[list | None] = mapped_column(JSONB)
    columns: Mapped[list | None] = mapped_column(JSONB)
    grouping: Mapped[list | None] = mapped_column(JSONB)
    sorting: Mapped[list | None] = mapped_column(JSONB)
    chart_config: Mapped[dict | None] = mapped_column(JSONB)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Dashboard(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    __tablename__ = "dashboards"
    __owner_column__ = "created_by"
    __table_args__ = (
        Index("ix_dashboards_tenant_name", "tenant_id", "name", postgresql_where=text("deleted_at IS NULL")),
        CheckConstraint("length(btrim(name)) > 0", name="ck_dashboards_name"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    layout: Mapped[dict | None] = mapped_column(JSONB)
    # Dashboard-wide filters applied to every widget (date range, team, owner), as the viewer last saved them.
    filters: Mapped[dict | None] = mapped_column(JSONB)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DashboardWidget(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "dashboard_widgets"
    __table_args__ = (
        Index("ix_dashboard_widgets_dashboard", "tenant_id", "dashboard_id", "position_y", "position_x"),
        CheckConstraint(f"widget_type IN {WIDGET_TYPES}", name="ck_dashboard_widgets_type"),
        CheckConstraint(
            "position_x >= 0 AND position_y >= 0 AND width > 0 AND height > 0", name="ck_dashboard_widgets_box"
        ),
    )

    dashboard_id: Mapped[UUID] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False)
    report_id: Mapped[UUID | None] = mapped_column(ForeignKey("custom_reports.id", ondelete="CASCADE"))
    widget_type: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str | None] = mapped_column(String(255))
    config: Mapped[dict | None] = mapped_column(JSONB)
    position_x: Mapped[int] = mapped_column(Integer, nullable=False)
    position_y: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)


class ReportSchedule(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """Send a saved report by email: daily, weekly (on `day_of_week`, 1 = Monday) or monthly (on `day_of_month`,
    the month's last day when shorter) at `time_of_day` in `timezone`; `next_run_at` is the next send in UTC."""

    __tablename__ = "report_schedules"
    __owner_column__ = "created_by"
    __table_args__ = (
        Index("ix_report_schedules_due", "next_run_at", postgresql_where=text("is_active AND deleted_at IS NULL")),
        Index("ix_report_schedules_tenant_report", "tenant_id", "report_id"),
        CheckConstraint(f"frequency IN {FREQUENCIES}", name="ck_report_schedules_frequency"),
        CheckConstraint(f"format IN {EXPORT_FORMATS}", name="ck_report_schedules_format"),
        CheckConstraint("day_of_week IS NULL OR day_of_week BETWEEN 1 AND 7", name="ck_report_schedules_dow"),
        CheckConstraint("day_of_month IS NULL OR day_of_month BETWEEN 1 AND 31", name="ck_report_schedules_dom"),
        CheckConstraint("cardinality(recipients) BETWEEN 1 AND 50", name="ck_report_schedules_recipients"),
    )

    report_id: Mapped[UUID] = mapped_column(ForeignKey("custom_reports.id", ondelete="CASCADE"), nullable=False)
    frequency: Mapped[str] = mapped_column(String(10), nullable=False)
    time_of_day: Mapped[str] = mapped_column(String(5), nullable=False)  # 'HH:MM'
    day_of_week: Mapped[int | None] = mapped_column(SmallInteger)
    day_of_month: Mapped[int | None] = mapped_column(SmallInteger)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    recipients: Mapped[list[str]] = mapped_column(ARRAY(String(320)), nullable=False)
    format: Mapped[str] = mapped_column(String(10), nullable=False, default="pdf", server_default="pdf")
    subject: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EtlRun(IdMixin, TenantMixin, Base):
    """One load of a tenant's warehouse: what started it, what it moved per table, where it left the watermarks.
    Not audited (a system record written every few minutes); kept for `etl_run_retention_days`."""

    __tablename__ = "etl_runs"
    __table_args__ = (
        Index("ix_etl_runs_tenant_started", "tenant_id", "started_at"),
        CheckConstraint(f"status IN {ETL_STATUSES}", name="ck_etl_runs_status"),
        CheckConstraint(f"trigger IN {ETL_TRIGGERS}", name="ck_etl_runs_trigger"),
    )

    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running", server_default="running")
    trigger: Mapped[str] = mapped_column(String(20), nullable=False)
    full: Mapped[bool] = mapped_column(Boolean, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # {"fact_deals": {"rows_in": 120, "rows_out": 118, "deleted": 2, "watermark": "..."}, ...}
    tables: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb"))
    rows_in: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    rows_out: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warehouse_version: Mapped[int | None] = mapped_column(Integer)  # the warehouse file it produced
    error: Mapped[str | None] = mapped_column(Text)
