"""The warehouse's star schema: one DuckDB file per tenant, rebuilt from PostgreSQL at any time.

Dimensions describe who and what (users with their team, accounts, contacts, pipeline stages, dates); facts
are what happened (deals, their stage changes, activities, tasks) and `fact_pipeline_snapshot`, every open
deal as it stood at the end of each day, which forecasting back-tests read as "what we knew then".

Conventions: `<entity>_id` keys are UUIDs; timestamps are UTC (`TIMESTAMPTZ`); `*_date` columns are calendar
days in the tenant's timezone; money is `DECIMAL(18,2)` in the deal's currency. Soft-deleted and merged-away
records are not in the warehouse. `docs/analytics.md` describes every column for analysts.
"""

from __future__ import annotations

import hashlib

# Table -> its columns (name, DuckDB type), in order. The loader creates the tables from this, the transform
# produces frames with exactly these columns, and the report builder knows what it may reference from it.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "dim_date": (
        ("date_key", "DATE"),
        ("year", "INTEGER"),
        ("quarter", "INTEGER"),
        ("month", "INTEGER"),
        ("month_name", "VARCHAR"),
        ("year_month", "VARCHAR"),  # '2026-03'
        ("iso_week", "INTEGER"),
        ("week_start", "DATE"),  # the Monday of the week
        ("day_of_week", "INTEGER"),  # 1 = Monday .. 7 = Sunday
        ("day_name", "VARCHAR"),
        ("is_weekend", "BOOLEAN"),
        ("fiscal_year", "INTEGER"),
        ("fiscal_quarter", "INTEGER"),
    ),
    "dim_user": (
        ("user_id", "UUID"),
        ("email", "VARCHAR"),
        ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"),
        ("full_name", "VARCHAR"),
        ("role", "VARCHAR"),
        ("team_id", "UUID"),
        ("team_name", "VARCHAR"),
        ("team_manager_id", "UUID"),
        ("is_active", "BOOLEAN"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "dim_account": (
        ("account_id", "UUID"),
        ("name", "VARCHAR"),
        ("domain", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("company_size", "VARCHAR"),
        ("annual_revenue", "DECIMAL(18,2)"),
        ("city", "VARCHAR"),
        ("country", "VARCHAR"),
        ("parent_id", "UUID"),
        ("owner_id", "UUID"),
        ("is_active", "BOOLEAN"),
        ("tags", "VARCHAR[]"),
        ("created_at", "TIMESTAMPTZ"),
        ("created_date", "DATE"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "dim_contact": (
        ("contact_id", "UUID"),
        ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("title", "VARCHAR"),
        ("company", "VARCHAR"),
        ("account_id", "UUID"),
        ("owner_id", "UUID"),
        ("lead_source", "VARCHAR"),
        ("lead_status", "VARCHAR"),
        ("lifecycle_stage", "VARCHAR"),
        ("lead_score", "INTEGER"),
        ("city", "VARCHAR"),
        ("country", "VARCHAR"),
        ("is_active", "BOOLEAN"),
        ("tags", "VARCHAR[]"),
        ("last_contacted_at", "TIMESTAMPTZ"),
        ("created_at", "TIMESTAMPTZ"),
        ("created_date", "DATE"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "dim_pipeline_stage": (
        ("stage_id", "UUID"),
        ("pipeline_id", "UUID"),
        ("pipeline_name", "VARCHAR"),
        ("is_default_pipeline", "BOOLEAN"),
        ("stage_name", "VARCHAR"),
        ("display_order", "INTEGER"),
        ("probability", "INTEGER"),
        ("is_closed", "BOOLEAN"),
        ("is_won", "BOOLEAN"),
        ("rotting_days", "INTEGER"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "fact_deals": (
        ("deal_id", "UUID"),
        ("name", "VARCHAR"),
        ("pipeline_id", "UUID"),
        ("stage_id", "UUID"),
        ("account_id", "UUID"),
        ("contact_id", "UUID"),
        ("owner_id", "UUID"),
        ("team_id", "UUID"),  # the owner's team
        ("amount", "DECIMAL(18,2)"),
        ("currency", "VARCHAR"),
        ("probability", "INTEGER"),
        ("weighted_amount", "DECIMAL(18,2)"),  # amount x probability / 100
        ("lead_source", "VARCHAR"),
        ("industry", "VARCHAR"),  # the account's
        ("status", "VARCHAR"),  # open | won | lost
        ("is_closed", "BOOLEAN"),
        ("is_won", "BOOLEAN"),
        ("lost_reason", "VARCHAR"),
        ("expected_close_date", "DATE"),
        ("actual_close_date", "DATE"),
        ("stage_entered_at", "TIMESTAMPTZ"),
        ("days_in_stage", "INTEGER"),  # as of the load, open deals only
        ("is_rotting", "BOOLEAN"),  # open and in its stage longer than the stage's rotting_days
        ("cycle_days", "INTEGER"),  # created to closed, closed deals only
        ("activity_count", "INTEGER"),  # activities logged against the deal
        ("tags", "VARCHAR[]"),
        ("created_at", "TIMESTAMPTZ"),
        ("created_date", "DATE"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "fact_deal_stage_history": (
        ("history_id", "UUID"),
        ("deal_id", "UUID"),
        ("pipeline_id", "UUID"),
        ("from_stage_id", "UUID"),
        ("to_stage_id", "UUID"),
        ("changed_at", "TIMESTAMPTZ"),
        ("changed_date", "DATE"),
        ("changed_by", "UUID"),
        ("owner_id", "UUID"),  # the deal's owner
        ("amount", "DECIMAL(18,2)"),
        ("probability", "INTEGER"),
        ("left_at", "TIMESTAMPTZ"),  # when the deal left to_stage (the next change), NULL while it is there
        ("hours_in_stage", "DOUBLE"),  # in to_stage until left_at; NULL while the deal is still there
    ),
    "fact_activities": (
        ("activity_id", "UUID"),
        ("type", "VARCHAR"),
        ("subject", "VARCHAR"),
        ("direction", "VARCHAR"),
        ("outcome", "VARCHAR"),
        ("duration_seconds", "INTEGER"),
        ("occurred_at", "TIMESTAMPTZ"),
        ("occurred_date", "DATE"),
        ("owner_id", "UUID"),
        ("team_id", "UUID"),
        ("contact_id", "UUID"),
        ("account_id", "UUID"),
        ("deal_id", "UUID"),
        ("sentiment", "VARCHAR"),  # negative, neutral, positive (NULL: not scored yet)
        ("sentiment_score", "DOUBLE"),  # -1 .. 1: P(positive) - P(negative)
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "fact_tasks": (
        ("task_id", "UUID"),
        ("title", "VARCHAR"),
        ("priority", "VARCHAR"),
        ("status", "VARCHAR"),
        ("assignee_id", "UUID"),
        ("team_id", "UUID"),
        ("created_by", "UUID"),
        ("due_at", "TIMESTAMPTZ"),
        ("due_date", "DATE"),
        ("completed_at", "TIMESTAMPTZ"),
        ("is_overdue", "BOOLEAN"),  # open and past due at the load
        ("contact_id", "UUID"),
        ("account_id", "UUID"),
        ("deal_id", "UUID"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ),
    "fact_pipeline_snapshot": (
        ("snapshot_date", "DATE"),
        ("deal_id", "UUID"),
        ("pipeline_id", "UUID"),
        ("stage_id", "UUID"),
        ("owner_id", "UUID"),
        ("amount", "DECIMAL(18,2)"),
        ("probability", "INTEGER"),
        ("weighted_amount", "DECIMAL(18,2)"),
        ("expected_close_date", "DATE"),
    ),
}

# The key of each table (what an incremental load replaces by); the snapshot's is (snapshot_date, deal_id).
KEYS: dict[str, str] = {
    "dim_user": "user_id",
    "dim_account": "account_id",
    "dim_contact": "contact_id",
    "dim_pipeline_stage": "stage_id",
    "fact_deals": "deal_id",
    "fact_deal_stage_history": "history_id",
    "fact_activities": "activity_id",
    "fact_tasks": "task_id",
}

# Bookkeeping inside each warehouse file, so that data and watermarks change together (one file, one swap).
STATE_TABLE = "etl_state"
STATE_COLUMNS = (("name", "VARCHAR"), ("value", "VARCHAR"))


def create_statements() -> list[str]:
    """CREATE TABLE for every table of the schema and the state table (no keys: loads replace by delete+insert,
    which keeps bulk inserts free of index upkeep)."""
    out = []
    for table, columns in (*TABLES.items(), (STATE_TABLE, STATE_COLUMNS)):
        cols = ", ".join(f'"{name}" {kind}' for name, kind in columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    return out


def fingerprint() -> str:
    """Changes whenever the schema does (tables, columns, the report layer's derived tables): a warehouse file
    of another fingerprint is rebuilt by the next load instead of loaded into."""
    from etl.reports import views

    text = repr((TABLES, STATE_COLUMNS, views.statements(), views.FUNNEL_ROWS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]
