"""Derived tables over the star schema that reports read: the loader keeps them in every warehouse version.

`activity_counts`: one row per owner and deal (deal NULL: activities on no deal) with how many activities the
owner logged on it, the rollup the report builder answers activity summaries from when they need no other
field (activities per rep: a distinct count over 3.1 million rows becomes one over 273,000). Every load
recounts it from `fact_activities` and writes only the pairs whose count changed; `fact_deals.activity_count`
is its sum per deal.

`deal_funnel` is a table, not a view (computing it on each read cost most of the funnel report's time): the
loader builds it whole on a full load and, on an incremental one, recomputes the rows of the deals that
changed (`FUNNEL_ROWS` with a deal filter), or all of them when the pipelines' stages changed.

`deal_funnel`: one row per deal and per open stage of its pipeline up to the furthest one it reached (in its
stage history or now); a won deal reached every open stage. `advanced` says whether it went on from that stage
(to a later open stage, or won), so stage-to-stage conversion is the average of `advanced` per stage, and the
count per stage is how many deals reached it. A stage a deal skipped counts as reached: it got past it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

# The funnel rows of the deals whose id satisfies `{deals}` (`IS NOT NULL` for all, `IN (SELECT ...)` for some).
FUNNEL_ROWS = """
WITH visits AS (
    SELECT deal_id, to_stage_id AS stage_id FROM fact_deal_stage_history WHERE deal_id {deals}
    UNION
    SELECT deal_id, stage_id FROM fact_deals WHERE deal_id {deals}
),
furthest AS (
    SELECT d.deal_id, d.pipeline_id, coalesce(d.is_won, false) AS is_won,
           max(s.display_order) FILTER (WHERE NOT s.is_closed) AS reached
    FROM fact_deals d
    LEFT JOIN visits v ON v.deal_id = d.deal_id
    LEFT JOIN dim_pipeline_stage s ON s.stage_id = v.stage_id AND s.pipeline_id = d.pipeline_id
    WHERE d.deal_id {deals}
    GROUP BY d.deal_id, d.pipeline_id, d.is_won
)
SELECT f.deal_id, f.pipeline_id, o.stage_id, o.display_order AS stage_order, f.reached AS reached_order,
       (f.is_won OR o.display_order < f.reached) AS advanced
FROM furthest f
JOIN dim_pipeline_stage o
  ON o.pipeline_id = f.pipeline_id AND NOT o.is_closed AND (f.is_won OR o.display_order <= f.reached)
"""

FUNNEL_COLUMNS = (
    "deal_id UUID, pipeline_id UUID, stage_id UUID, stage_order INTEGER, reached_order INTEGER, advanced BOOLEAN"
)


ACTIVITY_COUNT_COLUMNS = "owner_id UUID, deal_id UUID, activities BIGINT"


def statements() -> list[str]:
    """The derived tables, created empty when missing (`refresh` fills them)."""
    return [
        f"CREATE TABLE IF NOT EXISTS deal_funnel ({FUNNEL_COLUMNS})",
        f"CREATE TABLE IF NOT EXISTS activity_counts ({ACTIVITY_COUNT_COLUMNS})",
    ]


_SAME_PAIR = "{a}.owner_id IS NOT DISTINCT FROM {b}.owner_id AND {a}.deal_id IS NOT DISTINCT FROM {b}.deal_id"
_TRACKED = (
    "CREATE TEMP TABLE IF NOT EXISTS _activity_pairs (owner_id UUID, deal_id UUID)",  # before the load
    "CREATE TEMP TABLE IF NOT EXISTS _activity_ids (activity_id UUID)",  # their pairs after it count too
)
# The pairs an incremental load may have changed, counted again: those its activities were in and are in now.
RECOUNT_PAIRS = [
    """CREATE OR REPLACE TEMP TABLE _pairs AS
       SELECT owner_id, deal_id FROM _activity_pairs
       UNION SELECT owner_id, deal_id FROM fact_activities
             WHERE activity_id IN (SELECT activity_id FROM _activity_ids)""",
    f"DELETE FROM activity_counts c WHERE EXISTS (SELECT 1 FROM _pairs p WHERE {_SAME_PAIR.format(a='p', b='c')})",
    f"""INSERT INTO activity_counts
        SELECT a.owner_id, a.deal_id, count(*) FROM fact_activities a
        WHERE EXISTS (SELECT 1 FROM _pairs p WHERE {_SAME_PAIR.format(a="p", b="a")}) GROUP BY ALL""",
    "DROP TABLE _pairs",
]
COUNT_ALL_PAIRS = [
    "DELETE FROM activity_counts",
    "INSERT INTO activity_counts SELECT owner_id, deal_id, count(*) FROM fact_activities GROUP BY ALL",
]
# Each deal's count, from the pairs (273,000 rows, not 3.1 million); only changed counts are written.
DEAL_ACTIVITY_COUNTS = """
UPDATE fact_deals d SET activity_count = x.n
FROM (SELECT f.deal_id, coalesce(a.n, 0) AS n FROM fact_deals f
      LEFT JOIN (SELECT deal_id, sum(activities) AS n FROM activity_counts WHERE deal_id IS NOT NULL GROUP BY 1) a
        ON a.deal_id = f.deal_id) x
WHERE x.deal_id = d.deal_id AND d.activity_count IS DISTINCT FROM x.n
"""


def track_activities(con: Any, ids: list[str]) -> None:
    """Before an incremental load replaces or removes the activities `ids`: note the owner-and-deal pairs they
    are in, so that `refresh` counts those pairs again, with the pairs their replacements are in."""
    for statement in _TRACKED:
        con.execute(statement)
    con.register("_activity_keys", pl.DataFrame({"k": ids}, schema={"k": pl.String()}).to_arrow())
    con.execute(
        "INSERT INTO _activity_pairs SELECT DISTINCT owner_id, deal_id FROM fact_activities"
        " WHERE activity_id IN (SELECT k::UUID FROM _activity_keys)"
    )
    con.execute("INSERT INTO _activity_ids SELECT k::UUID FROM _activity_keys")
    con.unregister("_activity_keys")


def refresh(con: Any, changed_deals: list[str] | None = None, *, recount: bool = True) -> None:
    """Bring the derived data up to date after a load: the activity counts per owner and deal (all of them when
    `recount`, else the pairs `track_activities` noted) and per deal (only changed counts are written), and the
    funnel rows of `changed_deals` (of every deal when None)."""
    for statement in (*statements(), *_TRACKED):
        con.execute(statement)
    for statement in COUNT_ALL_PAIRS if recount else RECOUNT_PAIRS:
        con.execute(statement)
    con.execute("DROP TABLE _activity_pairs")
    con.execute("DROP TABLE _activity_ids")
    con.execute(DEAL_ACTIVITY_COUNTS)
    if changed_deals is None:
        con.execute("DELETE FROM deal_funnel")
        con.execute("INSERT INTO deal_funnel " + FUNNEL_ROWS.format(deals="IS NOT NULL"))
        return
    con.register("_funnel_deals", pl.DataFrame({"deal_id": changed_deals}, schema={"deal_id": pl.String()}).to_arrow())
    some = "IN (SELECT deal_id::UUID FROM _funnel_deals)"
    con.execute(f"DELETE FROM deal_funnel WHERE deal_id {some} OR deal_id NOT IN (SELECT deal_id FROM fact_deals)")
    con.execute("INSERT INTO deal_funnel " + FUNNEL_ROWS.format(deals=some))
    con.unregister("_funnel_deals")
