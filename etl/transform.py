"""Transform: extracted frames into the star schema's rows (Polars), one function per warehouse table.

Each takes the extracted frame (live and soft-deleted rows alike: the loader removes the deleted ones) and
returns a frame with exactly the table's columns (etl/schema.py), in order. Calendar days (`*_date`) are in the
tenant's timezone. Columns that depend on other tables or on the time of the load (the owner's team, the
account's industry, days in stage, rotting, overdue) are set by the loader's refresh statements instead,
so that they stay right for rows that did not change.
"""

from __future__ import annotations

import polars as pl

from etl import schema


def _local_date(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.date()


def _full_name() -> pl.Expr:
    return pl.concat_str([pl.col("first_name"), pl.col("last_name")], separator=" ", ignore_nulls=True)


def _finish(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The table's columns in order; columns the transform leaves to the loader are typed nulls."""
    names = schema.columns(table)
    missing = [pl.lit(None).alias(name) for name in names if name not in frame.columns]
    return frame.with_columns(missing).select(names)


def live(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(~pl.col("deleted")) if "deleted" in frame.columns else frame


def dim_user(users: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(users).with_columns(
        pl.col("id").alias("user_id"),
        _full_name().alias("full_name"),
    )
    return _finish(frame, "dim_user")


def dim_pipeline_stage(stages: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(stages).with_columns(
        pl.col("id").alias("stage_id"),
        pl.col("name").alias("stage_name"),
        pl.col("is_closed_stage").alias("is_closed"),
        pl.col("is_won_stage").alias("is_won"),
    )
    return _finish(frame, "dim_pipeline_stage")


def dim_account(accounts: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(accounts).with_columns(
        pl.col("id").alias("account_id"),
        _local_date("created_at", tz).alias("created_date"),
    )
    return _finish(frame, "dim_account")


def dim_contact(contacts: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(contacts).with_columns(
        pl.col("id").alias("contact_id"),
        _full_name().alias("full_name"),
        _local_date("created_at", tz).alias("created_date"),
    )
    return _finish(frame, "dim_contact")


def fact_deals(deals: pl.DataFrame, tz: str) -> pl.DataFrame:
    created_date = _local_date("created_at", tz)
    frame = live(deals).with_columns(
        pl.col("id").alias("deal_id"),
        created_date.alias("created_date"),
        pl.when(~pl.col("is_closed"))
        .then(pl.lit("open"))
        .when(pl.col("is_won").fill_null(False))
        .then(pl.lit("won"))
        .otherwise(pl.lit("lost"))
        .alias("status"),
        (pl.col("amount") * pl.col("probability").cast(pl.Decimal(18, 2)) / 100)
        .cast(pl.Decimal(18, 2))
        .alias("weighted_amount"),
        pl.when(pl.col("is_closed") & pl.col("actual_close_date").is_not_null())
        .then((pl.col("actual_close_date") - created_date).dt.total_days())
        .alias("cycle_days"),
    )
    return _finish(frame, "fact_deals")


def fact_deal_stage_history(history: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = history.with_columns(
        pl.col("id").alias("history_id"),
        _local_date("changed_at", tz).alias("changed_date"),
    )
    return _finish(frame, "fact_deal_stage_history")


def fact_activities(activities: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(activities).with_columns(
        pl.col("id").alias("activity_id"),
        _local_date("occurred_at", tz).alias("occurred_date"),
    )
    return _finish(frame, "fact_activities")


def fact_tasks(tasks: pl.DataFrame, tz: str) -> pl.DataFrame:
    frame = live(tasks).with_columns(
        pl.col("id").alias("task_id"),
        _local_date("due_at", tz).alias("due_date"),
    )
    return _finish(frame, "fact_tasks")


# Warehouse table <- (source table, transform). Dimensions first: the refresh statements read them.
TRANSFORMS = {
    "dim_user": ("users", dim_user),
    "dim_pipeline_stage": ("stages", dim_pipeline_stage),
    "dim_account": ("accounts", dim_account),
    "dim_contact": ("contacts", dim_contact),
    "fact_deals": ("deals", fact_deals),
    "fact_deal_stage_history": ("deal_stage_history", fact_deal_stage_history),
    "fact_activities": ("activities", fact_activities),
    "fact_tasks": ("tasks", fact_tasks),
}
