"""Analytics on the wire: saved reports (their spec is a `core.analytics.spec.ReportSpec`), dashboards and their
widgets, report schedules, the overrides a run takes (date range, team, owners), report results and the
warehouse load log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator

from core.analytics.schedules import TIME_PATTERN, parse_time, parse_zone
from core.analytics.spec import PERIODS, ReportSpec
from core.schemas import ReadSchema, Schema

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Title = Annotated[str, StringConstraints(max_length=255)]
StandardKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Frequency = Literal["daily", "weekly", "monthly"]
ExportFormat = Literal["csv", "xlsx", "pdf"]
WidgetType = Literal["chart", "metric", "table", "list"]
Period = Literal[PERIODS]  # type: ignore[valid-type]
TimeOfDay = Annotated[
    str,
    Field(
        description="Local time, 24-hour `HH:MM`.",
        json_schema_extra={"pattern": TIME_PATTERN},
        examples=["07:30"],
    ),
]
TimezoneName = Annotated[
    str, Field(min_length=1, max_length=64, description="IANA name, e.g. `Europe/Paris`.", examples=["UTC"])
]
Recipients = Annotated[
    list[Annotated[EmailStr, StringConstraints(max_length=320)]],
    Field(min_length=1, max_length=50, description="1 to 50 email addresses."),
]


# Running: what a caller (a dashboard, a link) narrows a report to ------------------------------------------


class ReportOverrides(Schema):
    """Narrow a report for one run (a dashboard's filters): a period or a date range on the report's date field,
    a team and owners. They add to the report's own filters; they never widen what the viewer may see."""

    period: Period | None = Field(None, description="A named period, e.g. `this_quarter` (instead of dates).")
    date_from: date | None = Field(None, description="First day included.")
    date_to: date | None = Field(None, description="Last day included.")
    date_field: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = Field(
        None, description="The date field the period applies to; default: the entity's usual one."
    )
    team_id: UUID | None = Field(None, description="Only records owned by members of this team.")
    owner_ids: list[UUID] | None = Field(None, max_length=100, description="Only records owned by these users.")

    @model_validator(mode="after")
    def _one_way_of_dating(self) -> ReportOverrides:
        if self.period is not None and (self.date_from is not None or self.date_to is not None):
            raise ValueError("give either a period or dateFrom/dateTo, not both")
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise ValueError("dateFrom must be on or before dateTo")
        return self

    def is_empty(self) -> bool:
        return not any(v is not None for v in (self.period, self.date_from, self.date_to, self.team_id, self.owner_ids))


# Saved reports ---------------------------------------------------------------------------------------------


class ReportCreate(Schema):
    name: Name
    description: Description | None = None
    spec: ReportSpec = Field(description="The report spec: entity, columns or groupBy + aggregations, filters...")
    is_public: bool = Field(False, description="Readable by everyone in the tenant (else: its creator, admins).")


class ReportUpdate(Schema):
    """PATCH: only the fields sent change."""

    name: Name | None = None
    description: Description | None = None
    spec: ReportSpec | None = None
    is_public: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class ReportRead(ReadSchema):
    id: UUID
    name: str
    description: str | None
    report_type: str
    entity_type: str
    chart_type: str
    spec: dict[str, Any]
    is_public: bool
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class ReportSummary(ReadSchema):
    """An entry of the report list: a standard report (by `key`) or a saved one (by `id`)."""

    kind: Literal["standard", "saved"]
    key: str | None = Field(None, description="Standard reports: run with /reports/standard/{key}/run.")
    id: UUID | None = Field(None, description="Saved reports: run with /reports/{id}/run.")
    name: str
    description: str | None
    entity_type: str
    chart_type: str
    is_public: bool
    created_by: UUID | None = None
    updated_at: datetime | None = None


class ResultColumn(ReadSchema):
    name: str
    label: str
    type: str


class ReportResultRead(ReadSchema):
    """A report's rows: `rows` are objects keyed by column name (money and numbers as JSON numbers, dates as
    ISO strings); `truncated` says more rows matched than the spec's limit."""

    name: str
    columns: list[ResultColumn]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool
    chart: dict[str, Any]
    filters: list[str] = Field(description="The filters applied, in words (overrides and record scope included).")
    today: date
    timezone: str
    generated_at: datetime
    sql_ms: float
    warehouse_version: int | None
    warehouse_built_at: datetime | None


class RunRequest(Schema):
    overrides: ReportOverrides | None = None


class AdHocRun(Schema):
    spec: ReportSpec
    overrides: ReportOverrides | None = None


# Dashboards ------------------------------------------------------------------------------------------------


class WidgetCreate(Schema):
    """A widget shows a saved report (`reportId`) or a standard one (`config.standardKey`): exactly one."""

    widget_type: WidgetType
    title: Title | None = None
    report_id: UUID | None = None
    config: dict[str, Any] | None = Field(
        None, description="Free display settings; `standardKey` names a standard report."
    )
    position_x: int = Field(0, ge=0, le=1000)
    position_y: int = Field(0, ge=0, le=100000)
    width: int = Field(6, ge=1, le=1000)
    height: int = Field(4, ge=1, le=1000)


class WidgetUpdate(Schema):
    widget_type: WidgetType | None = None
    title: Title | None = None
    report_id: UUID | None = None
    config: dict[str, Any] | None = None
    position_x: int | None = Field(None, ge=0, le=1000)
    position_y: int | None = Field(None, ge=0, le=100000)
    width: int | None = Field(None, ge=1, le=1000)
    height: int | None = Field(None, ge=1, le=1000)


class WidgetPlacement(Schema):
    id: UUID
    position_x: int = Field(ge=0, le=1000)
    position_y: int = Field(ge=0, le=100000)
    width: int | None = Field(None, ge=1, le=1000)
    height: int | None = Field(None, ge=1, le=1000)


class WidgetReorder(Schema):
    widgets: list[WidgetPlacement] = Field(
        min_length=1, max_length=100, description="Every widget of the dashboard, once, with its new place."
    )


class WidgetRead(ReadSchema):
    id: UUID
    dashboard_id: UUID
    report_id: UUID | None
    widget_type: str
    title: str | None
    config: dict[str, Any] | None
    position_x: int
    position_y: int
    width: int
    height: int
    created_at: datetime
    updated_at: datetime


class DashboardCreate(Schema):
    name: Name
    description: Description | None = None
    layout: dict[str, Any] | None = None
    filters: ReportOverrides | None = Field(None, description="Applied to every widget unless a run overrides them.")
    is_default: bool = Field(False, description="The tenant's default dashboard (public dashboards only).")
    is_public: bool = False
    widgets: list[WidgetCreate] = Field(default_factory=list, max_length=50)


class DashboardUpdate(Schema):
    name: Name | None = None
    description: Description | None = None
    layout: dict[str, Any] | None = None
    filters: ReportOverrides | None = None
    is_default: bool | None = None
    is_public: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class DashboardRead(ReadSchema):
    id: UUID
    name: str
    description: str | None
    layout: dict[str, Any] | None
    filters: dict[str, Any] | None
    is_default: bool
    is_public: bool
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    widgets: list[WidgetRead] = Field(default_factory=list)


# Schedules -------------------------------------------------------------------------------------------------


class _ScheduleChecks(Schema):
    @field_validator("time_of_day", check_fields=False)
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value)
        return value

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_zone(value)
        return value

    @field_validator("subject", check_fields=False)
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n"):
            raise ValueError("must be one line: remove the line breaks")
        return value

    @field_validator("recipients", check_fields=False)
    @classmethod
    def _unique_recipients(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        seen: dict[str, str] = {}
        for address in value:
            seen.setdefault(address.lower(), address)
        return list(seen.values())


class ScheduleCreate(_ScheduleChecks):
    """Daily, weekly (needs `dayOfWeek`, 1 = Monday) or monthly (needs `dayOfMonth`; 29-31 run on the last day
    of shorter months) at `timeOfDay` in `timezone` (default: the tenant's)."""

    frequency: Frequency
    time_of_day: TimeOfDay
    day_of_week: int | None = Field(None, ge=1, le=7, description="Weekly: 1 = Monday ... 7 = Sunday.")
    day_of_month: int | None = Field(None, ge=1, le=31, description="Monthly: 1-31.")
    timezone: TimezoneName | None = None
    recipients: Recipients
    format: ExportFormat = "pdf"
    subject: Title | None = Field(None, description="Default: the report's name.")
    is_active: bool = True


class ScheduleUpdate(_ScheduleChecks):
    """PATCH: only the fields sent change; the next run is computed again. Changing the frequency clears a
    day that no longer applies."""

    frequency: Frequency | None = None
    time_of_day: TimeOfDay | None = None
    day_of_week: int | None = Field(None, ge=1, le=7)
    day_of_month: int | None = Field(None, ge=1, le=31)
    timezone: TimezoneName | None = None
    recipients: Recipients | None = None
    format: ExportFormat | None = None
    subject: Title | None = None
    is_active: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class ScheduleRead(ReadSchema):
    id: UUID
    report_id: UUID
    frequency: str
    time_of_day: str
    day_of_week: int | None
    day_of_month: int | None
    timezone: str
    recipients: list[str]
    format: str
    subject: str | None
    is_active: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


# The warehouse load log ------------------------------------------------------------------------------------


class WarehouseLoadRequest(Schema):
    full: bool = Field(False, description="Rebuild from nothing instead of loading what changed.")


class EtlRunRead(ReadSchema):
    id: UUID
    status: str
    trigger: str
    full: bool
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    tables: dict[str, Any]
    rows_in: int
    rows_out: int
    watermark: datetime | None
    warehouse_version: int | None
    error: str | None
