"""Next best actions on a demo workspace: how long a refresh takes (with the uplifts measured again, as nightly,
and without, as after a change), how many actions of each kind it finds, and the uplifts it measured on the
workspace's own history (treated and untreated win rates, the lift used and whether history or the prior decided).

`next_action_figures(tenant_id)` (called by benchmarks/insights.py on its seeded demo, services running) prints
one line per figure and returns them.

    .venv/bin/python benchmarks/next_actions.py [--scale medium] [--seed 11]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def next_action_figures(tenant_id: UUID) -> dict[str, Any]:
    from sqlalchemy import text

    from ai.insights import actions as nba
    from core.actor import Actor
    from core.db import unit_of_work

    system = Actor.system(tenant_id)
    figures: dict[str, Any] = {}
    for label, remeasure in (("nightly (measure + refresh)", True), ("after a change (refresh)", False)):
        started = time.perf_counter()
        with unit_of_work(system) as session:
            result = nba.refresh(session, system, remeasure=remeasure)
        seconds = time.perf_counter() - started
        figures[label] = {"seconds": round(seconds, 2), **result}
        print(f"next actions, {label}: {seconds:.2f} s, {result}", flush=True)
    with unit_of_work(system) as session:
        kinds = dict(session.execute(text("SELECT kind, count(*) FROM next_best_actions GROUP BY kind")).all())
        uplifts = session.execute(
            text("SELECT metrics->'uplifts' FROM ml_models WHERE model_type = :m AND is_active"), {"m": nba.MODEL_TYPE}
        ).scalar_one()
    figures["open_by_kind"] = kinds
    figures["uplifts"] = uplifts
    print(f"next actions open by kind: {kinds}", flush=True)
    for kind, u in uplifts.items():
        t = u["treated_won"] / u["treated"] if u["treated"] else float("nan")
        n = u["untreated_won"] / u["untreated"] if u["untreated"] else float("nan")
        print(
            f"  {kind}: treated {u['treated_won']}/{u['treated']} = {t:.1%}, untreated {u['untreated_won']}/"
            f"{u['untreated']} = {n:.1%}; lift used {u['lift']:+.1%} ({u['source']})",
            flush=True,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    from benchmarks._services import services

    with services():
        from core.demo import service as demo

        started = time.perf_counter()
        seeded = demo.seed(slug=f"bench-nba-{args.scale}", scale=args.scale, seed=args.seed)
        print(f"seeded the {args.scale} demo in {time.perf_counter() - started:.0f} s", flush=True)
        next_action_figures(seeded.tenant_id)


if __name__ == "__main__":
    main()
