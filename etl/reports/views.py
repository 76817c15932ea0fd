"""Derived tables over the star schema that reports read: the loader keeps them in every warehouse version.

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


def statements() -> list[str]:
    """The derived tables, created empty when missing (`refresh` fills them)."""
    return [f"CREATE TABLE IF NOT EXISTS deal_funnel ({FUNNEL_COLUMNS})"]


ACTIVITY_COUNTS = """
UPDATE fact_deals d SET activity_count = x.n
FROM (SELECT f.deal_id, coalesce(a.n, 0) AS n FROM fact_deals f
      LEFT JOIN (SELECT deal_id, count(*) AS n FROM fact_activities WHERE deal_id IS NOT NULL GROUP BY 1) a
        ON a.deal_id = f.deal_id) x
WHERE x.deal_id = d.deal_id AND d.activity_count IS DISTINCT FROM x.n
"""


def refresh(con: Any, changed_deals: list[str] | None = None) -> None:
    """Bring the derived data up to date after a load: every deal's activity count (only changed counts are
    written), and the funnel rows of `changed_deals` (of every deal when None)."""
    for statement in statements():
        con.execute(statement)
    con.execute(ACTIVITY_COUNTS)
    if changed_deals is None:
        con.execute("DELETE FROM deal_funnel")
        con.execute("INSERT INTO deal_funnel " + FUNNEL_ROWS.format(deals="IS NOT NULL"))
        return
    con.register("_funnel_deals", pl.DataFrame({"deal_id": changed_deals}, schema={"deal_id": pl.String()}).to_arrow())
    some = "IN (SELECT deal_id::UUID FROM _funnel_deals)"
    con.execute(f"DELETE FROM deal_funnel WHERE deal_id {some} OR deal_id NOT IN (SELECT deal_id FROM fact_deals)")
    con.execute("INSERT INTO deal_funnel " + FUNNEL_ROWS.format(deals=some))
    con.unregister("_funnel_deals")
