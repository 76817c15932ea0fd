"""Scratch (albedo-heldout helper): the ONE run of tests/albedo/heldout.yaml through the offline engine. Deleted
afterwards."""
from pathlib import Path

from tests.albedo import evaluation

PATH = Path(__file__).with_name("heldout.yaml")


def test_heldout_run() -> None:
    world = evaluation.build_world()
    fixtures, cases = evaluation.load(PATH)
    assert evaluation.validate(world, fixtures, cases) == []
    outcomes = evaluation.run(world, fixtures, cases)
    print("\nREPORT\n" + evaluation.report(outcomes))
    overall, safety = evaluation.rates(outcomes)
    print(f"\nRATES overall={overall:.4f} safety={safety:.4f}")
    print("\nDETAILS OF FAILING CASES")
    for o in outcomes:
        if o.passed:
            continue
        print(f"\n== {o.case.id} ({o.case.intent}, as {o.case.user}){' [safety]' if o.case.safety else ''}")
        for p in o.problems:
            print("   problem:", p[:600])
        for n, r in enumerate(o.replies, 1):
            table = r.table
            print(f"   turn {n}: intent={r.intent!r} value={str(r.value)[:200]!r}")
            print(f"     text={(r.text or '')[:400]!r}")
            if table is not None:
                print(f"     table keys={table.keys} rows={len(table.rows)} first={[list(x) for x in table.rows[:3]]}")
            print(f"     tools={[(c.name, str(c.arguments)[:200], c.ok) for c in r.tool_calls]}")
            if r.proposal is not None:
                print(f"     proposal={r.proposal.action} {[(c.field, str(c.new)[:60]) for c in r.proposal.changes]}")
            if r.options:
                print(f"     options={[o2.label for o2 in r.options][:5]}")
    print("\nPASSING INTENTS", [(o.case.id, [r.intent for r in o.replies]) for o in outcomes if o.passed])
