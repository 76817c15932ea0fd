"""Issue 11's figures for Albedo's offline engine: latency per question and accuracy per intent.

1. A medium demo workspace (seeded once into `--data-dir` and reused; its warehouse, lead scores, next best actions,
   anomalies, revenue forecasts and, unless `--no-embed`, embeddings prepared as the evaluation's are).
2. Warm-up: the engine answers a few questions first (model load, picklists, caches), not measured.
3. Latency: every read case's first question of the evaluation set (tests/albedo/cases.yaml, or `--cases PATH`, e.g.
   the held-out set tests/albedo/heldout.yaml), asked `--rounds` times
   through `ai.albedo.chat.send(engine="offline")` as the case's user, each in a fresh conversation and its own
   transaction (the stored messages included, as the page and the API pay for them): p50/p95 per question group
   (the case's intent) and overall, next to the target (p95 < 300 ms after warm-up).
4. Accuracy: the evaluation's read cases checked by the same code as the test suite (tests/albedo/evaluation.py)
   against SQL truth on this workspace, per intent. Write cases are left out unless `--with-writes` (they change
   the reused workspace).

    .venv/bin/python benchmarks/albedo.py [--scale medium] [--data-dir DIR] [--rounds 5] [--no-embed] [--with-writes]
        [--cases tests/albedo/heldout.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import services  # noqa: E402

TARGET_P95_MS = 300.0
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = ROOT / "tests" / "albedo" / "cases.yaml"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def latency(world: object, rounds: int, cases_path: Path = DEFAULT_CASES) -> None:
    from tests.albedo import evaluation

    fixtures, cases = evaluation.load(cases_path)
    reads = [c for c in cases if not c.writes]
    questions = []
    for case in reads:
        turn = case.turns[0]
        if "ask" not in turn:
            continue
        params = evaluation.base_params(world, case.user)  # type: ignore[arg-type]
        try:
            labels = evaluation.resolve(world, fixtures, case, params)  # type: ignore[arg-type]
        except LookupError:
            continue
        questions.append((case, evaluation.fill(turn["ask"], labels)))
    actors = world.actors  # type: ignore[attr-defined]
    for case, question in questions[:5]:  # warm-up
        evaluation.ask(actors[case.user], evaluation.start_conversation(actors[case.user]), question)
    by_group: dict[str, list[float]] = defaultdict(list)
    by_question: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for case, question in questions:
            actor = actors[case.user]
            conversation_id = evaluation.start_conversation(actor)
            t0 = time.perf_counter()
            evaluation.ask(actor, conversation_id, question)
            ms = (time.perf_counter() - t0) * 1000
            by_group[case.intent].append(ms)
            by_question[f"{case.id}: {question}"].append(ms)
    print(f"\nlatency over {len(questions)} questions x {rounds} rounds (ms, after warm-up)")
    print(f"{'group':<18} {'n':>5} {'p50':>8} {'p95':>8}")
    for group in sorted(by_group):
        values = by_group[group]
        print(f"{group:<18} {len(values):>5} {_percentile(values, 50):>8.1f} {_percentile(values, 95):>8.1f}")
    everything = [v for values in by_group.values() for v in values]
    p95 = _percentile(everything, 95)
    verdict = "meets" if p95 < TARGET_P95_MS else "MISSES"
    print(
        f"{'overall':<18} {len(everything):>5} {_percentile(everything, 50):>8.1f} {p95:>8.1f}"
        f"   target p95 < {TARGET_P95_MS:.0f} ms: {verdict}"
    )
    slowest = sorted(by_question.items(), key=lambda kv: -statistics.median(kv[1]))[:10]
    print("\nslowest questions (median ms):")
    for question, values in slowest:
        print(f"  {statistics.median(values):8.1f}  {question[:100]}")


def accuracy(world: object, with_writes: bool, cases_path: Path = DEFAULT_CASES) -> None:
    from tests.albedo import evaluation

    fixtures, cases = evaluation.load(cases_path)
    chosen = cases if with_writes else [c for c in cases if not c.writes]
    t0 = time.perf_counter()
    outcomes = evaluation.run(world, fixtures, chosen)  # type: ignore[arg-type]
    print(f"\naccuracy on {_shown(cases_path)} ({len(chosen)} cases, {time.perf_counter() - t0:.0f} s)")
    print(evaluation.report(outcomes))


def _shown(path: Path) -> str:
    """The cases file as the report names it: relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _cases_path(value: str) -> Path:
    """A cases file as given, else relative to the repository root (the benchmark may run from anywhere)."""
    path = Path(value)
    if not path.exists() and not path.is_absolute() and (ROOT / path).exists():
        path = ROOT / path
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such cases file: {value}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the seeded cluster here and reuse it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-embed", action="store_true", help="skip embedding every record (search falls back)")
    parser.add_argument("--with-writes", action="store_true", help="also run the write cases (they change data)")
    parser.add_argument("--skip", default="", help="comma separated: latency,accuracy")
    parser.add_argument(
        "--cases",
        type=_cases_path,
        default=DEFAULT_CASES,
        help="the evaluation set to ask and check (default tests/albedo/cases.yaml; e.g. tests/albedo/heldout.yaml)",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    with services(args.data_dir, fresh=False) if args.data_dir else services():
        from tests.albedo import evaluation

        t0 = time.perf_counter()
        world = evaluation.build_world(
            scale=args.scale, seed=42, slug=f"albedo-{args.scale}", embed=not args.no_embed, forecasts=True
        )
        print(f"{args.scale} demo workspace ready in {time.perf_counter() - t0:.0f} s", flush=True)
        if "latency" not in skip:
            latency(world, args.rounds, args.cases)
        if "accuracy" not in skip:
            accuracy(world, args.with_writes, args.cases)


if __name__ == "__main__":
    main()
