"""Views over the star schema that reports read like tables: the loader runs `statements()` on each new warehouse
version after loading it (before the swap), so every version carries them and readers (read-only) find them.

`deal_funnel`: one row per deal and per open stage of its pipeline up to the furthest one it reached (in its
stage history or now); a won deal reached every open stage. `advanced` says whether it went on from that stage
(to a later open stage, or won), so stage-to-stage conversion is the average of `advanced` per stage, and the
count per stage is how many deals reached it. A stage a deal skipped counts as reached: it got past it.
"""

from __future__ import annotations

DEAL_FUNNEL = """
CREATE OR REPLACE VIEW deal_funnel AS
WITH visits AS (
    SELECT deal_id, to_stage_id AS stage_id FROM fact_deal_stage_history
    UNION
    SELECT deal_id, stage_id FROM fact_deals
),
furthest AS (
    SELECT d.deal_id, d.pipeline_id, coalesce(d.is_won, false) AS is_won,
           max(s.display_order) FILTER (WHERE NOT s.is_closed) AS reached
    FROM fact_deals d
    LEFT JOIN visits v ON v.deal_id = d.deal_id
    LEFT JOIN dim_pipeline_stage s ON s.stage_id = v.stage_id AND s.pipeline_id = d.pipeline_id
    GROUP BY d.deal_id, d.pipeline_id, d.is_won
)
SELECT f.deal_id, f.pipeline_id, o.stage_id, o.display_order AS stage_order, f.reached AS reached_order,
       (f.is_won OR o.display_order < f.reached) AS advanced
FROM furthest f
JOIN dim_pipeline_stage o
  ON o.pipeline_id = f.pipeline_id AND NOT o.is_closed AND (f.is_won OR o.display_order <= f.reached)
"""

VIEWS: dict[str, str] = {"deal_funnel": DEAL_FUNNEL}


def statements() -> list[str]:
    """CREATE OR REPLACE VIEW for every report view, in an order that satisfies their dependencies."""
    return [sql.strip() for sql in VIEWS.values()]
