"""Revenue forecasts on a demo workspace: the back-test of the method (learned pipeline + engine run-rate) beside
the CRM's usual weighted pipeline (booked + every open deal x its stage's nominal probability), and the time a run
takes.

Seeds a demo workspace (`--scale medium` by default: 20 reps in 3 teams, ~6,000 deals over three years) into a
fresh embedded cluster, loads its warehouse, then prints for each level (company, teams, reps) and period kind
(the last 12 months, 8 quarters, 3 years; fewer where the history is shorter): periods back-tested, mean absolute
percentage error, weighted absolute percentage error, bias, the worst period's error, empirical coverage of the
80% and 95% intervals, and the baseline's mean absolute percentage error; then the seconds of the live forecast
and of each back-test.

    .venv/bin/python benchmarks/revenue_forecasts.py [--scale medium|small] [--levels company,team,rep]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import services  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium"))
    parser.add_argument("--levels", default="company,team,rep")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    levels = tuple(args.levels.split(","))
    with services():
        from ai.forecasting import revenue
        from core.demo import service as demo
        from etl import pipeline, warehouse

        started = time.perf_counter()
        seeded = demo.seed(slug="bench-revenue", scale=args.scale, seed=args.seed, as_of=datetime.now(UTC).date())
        pipeline.run(seeded.tenant_id, full=True)
        print(f"seeded and loaded the {args.scale} demo in {time.perf_counter() - started:.0f} s", flush=True)
        as_of = datetime.now(UTC).date()
        with contextlib.closing(warehouse.open_tenant(seeded.tenant_id)) as con:
            forecaster = revenue.RevenueForecaster(con, currency="USD", levels=levels)
            print(f"{len(forecaster.subjects)} subjects, {forecaster.history.samples.height} learning samples")
            t0 = time.perf_counter()
            forecaster.live(as_of)
            print(f"live forecast (3 period kinds): {time.perf_counter() - t0:.1f} s", flush=True)
            header = (
                f"{'level':8} {'period':8} {'n':>3} {'MAPE%':>7} {'WAPE%':>7} {'bias%':>7} {'worst%':>7}"
                f" {'cov80':>6} {'cov95':>6} {'base MAPE%':>10}"
            )
            for kind, count in revenue.DEFAULT_BACKTEST.items():
                t0 = time.perf_counter()
                results = forecaster.backtest(as_of, kind, count)
                seconds = time.perf_counter() - t0
                print(f"\nback-test of {kind}s: {seconds:.1f} s")
                print(header)
                for level in levels:
                    by_subject: dict[str, list[revenue.SubjectForecast]] = {}
                    for r in results:
                        if r.subject.level == level:
                            by_subject.setdefault(r.subject.key, []).append(r)
                    summaries = [revenue.summarise(points, kind) for points in by_subject.values()]
                    summaries = [s for s in summaries if s["periods"]]
                    if not summaries:
                        continue

                    def mean(key: str, items: list[dict] = summaries) -> str:
                        values = [s[key] for s in items if s.get(key) is not None]
                        return f"{np.mean(values):.1f}" if values else "-"

                    print(
                        f"{level:8} {kind:8} {summaries[0]['periods']:>3} {mean('meanAbsolutePercentageError'):>7}"
                        f" {mean('weightedAbsolutePercentageError'):>7} {mean('biasPercentage'):>7}"
                        f" {mean('withinPercentage'):>7} {mean('coverage80'):>6} {mean('coverage95'):>6}"
                        f" {mean('baselineMeanAbsolutePercentageError'):>10}"
                    )
                company = [r for r in results if r.subject.level == "company"]
                if company:
                    print("company:", revenue.summarise(company, kind)["sentence"])


if __name__ == "__main__":
    main()
