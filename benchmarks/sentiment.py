"""Sentiment benchmark on TweetEval sentiment (../shared/data/sentiment/tweeteval_sentiment.csv; never copied).

The file is split once, by a seeded permutation (seed 2026), into a fitting half and a held-out half. The
out-of-the-box model's combination weights (ai/nlp/sentiment_weights.py) are fitted on the fitting half only
(`--fit` rewrites them); every figure below is on the held-out half:

- VADER (compound, ±0.05), the zero-shot prototype classes, the out-of-the-box model: accuracy and macro-F1;
- adapted with 10, 50 and 200 examples per class drawn from the held-out half (`--draws` draws, mean), scored
  on the rest of it; the plain logistic regression on embeddings alone beside it (the README's reference);
- texts/s of `sentiment()` on 1,000 texts it has never seen (embedding included), and again cached;
- the demo generator's note templates (CRM text, ai/nlp never saw them): accuracy of the out-of-the-box model.

Threads: 1 (OMP/BLAS below, CLIENTFORGE_NLP_THREADS for ONNX Runtime).

    .venv/bin/python benchmarks/sentiment.py [--fit] [--draws 3]

`figures()` prints the same figures and returns them as a dict (benchmarks/insights.py calls it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "tweeteval_sentiment.csv"
WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "ai" / "nlp" / "sentiment_weights.py"
SEED = 2026
VERSION = "2026.11-1"


def load(path: Path = DATA) -> tuple[list[str], list[str], Any, Any]:
    """Texts, labels, and the fitting and held-out row numbers."""
    import numpy as np
    import polars as pl

    frame = pl.read_csv(path)
    texts = [str(t) for t in frame["text"].to_list()]
    labels = [str(v) for v in frame["label"].to_list()]
    order = np.random.default_rng(SEED).permutation(len(texts))
    half = len(texts) // 2
    return texts, labels, np.sort(order[:half]), np.sort(order[half:])


def fit(path: Path = DATA) -> dict[str, Any]:
    """Fit the prototype classifier (on the prototypes alone) and the combination weights (on the fitting half),
    write ai/nlp/sentiment_weights.py and return the weights."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    s = importlib.import_module("ai.nlp.sentiment")  # the module (ai.nlp.sentiment is also the function)
    from ai.nlp.embeddings import MODEL_VERSION
    from ai.nlp.sentiment_prototypes import PROTOTYPES

    texts, labels, fit_rows, _ = load(path)
    vectors = np.vstack([s._prototype_vectors()[c] for c in s.LABELS]).astype(np.float64)
    classes = np.repeat(np.arange(3), [len(PROTOTYPES[c]) for c in s.LABELS])
    proto = LogisticRegression(C=10.0, max_iter=5000).fit(vectors, classes)
    classifier = {"coef": np.round(proto.coef_, 6).tolist(), "intercept": np.round(proto.intercept_, 6).tolist()}
    batch = s._prepare([texts[i] for i in fit_rows])
    features = s.feature_matrix(batch, classifier)
    mean, scale = features.mean(0), features.std(0) + 1e-9
    targets = np.array([s.LABELS.index(labels[i]) for i in fit_rows])
    combine = LogisticRegression(C=1.0, max_iter=5000).fit((features - mean) / scale, targets)
    weights = {
        "version": VERSION,
        "embedding_model": MODEL_VERSION,
        "labels": list(s.LABELS),
        "features": list(s.FEATURES),
        "fitted_on": f"TweetEval sentiment, the seeded half (seed {SEED}, {len(fit_rows)} tweets)",
        "prototype_classifier": classifier,
        "combination": {
            "mean": np.round(mean, 6).tolist(),
            "scale": np.round(scale, 6).tolist(),
            "coef": np.round(combine.coef_, 6).tolist(),
            "intercept": np.round(combine.intercept_, 6).tolist(),
        },
    }
    _write(weights)
    return weights


def _write(weights: dict[str, Any]) -> None:
    import json

    lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in weights.items())
    WEIGHTS_FILE.write_text(
        '"""The out-of-the-box sentiment model\'s weights, written by `benchmarks/sentiment.py --fit` (no texts: the\n'
        "prototype classifier's weights on the MiniLM embedding, fitted on ai/nlp/sentiment_prototypes.py alone,\n"
        "and the combination of signals, fitted on half of TweetEval; `heldout` holds the other half's figures).\n"
        '"""\n\n'
        "# ruff: noqa: E501\n"
        "import json\n"
        "from typing import Any\n\n"
        f'WEIGHTS: dict[str, Any] = json.loads(\n    """{{\n{lines}\n}}"""\n)\n'
    )


def _draw(rows: Any, labels: Any, per_class: int, seed: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    return np.concatenate(
        [rng.choice(rows[labels[rows] == c], per_class, replace=False) for c in ("negative", "neutral", "positive")]
    )


def figures(
    path: Path = DATA, *, draws: int = 3, shots: tuple[int, ...] = (10, 50, 200), show: bool = True
) -> dict[str, Any]:
    """Every figure of the benchmark (see the module docstring), printed unless `show` is false."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    s = importlib.import_module("ai.nlp.sentiment")  # the module (ai.nlp.sentiment is also the function)
    from core.demo.truth import NOTE_TEMPLATES

    texts, labels, _, held = load(path)
    y = np.asarray(labels)
    out: dict[str, Any] = {"corpus": "TweetEval sentiment (SemEval-2017 4A), held-out half", "heldout": len(held)}

    # Speed first, on texts no cache has seen.
    sample = [texts[i] for i in held[:1000]]
    start = time.perf_counter()
    s.sentiment(sample)
    out["texts_per_second"] = round(len(sample) / (time.perf_counter() - start), 1)
    start = time.perf_counter()
    s.sentiment(sample)
    out["texts_per_second_cached"] = round(len(sample) / (time.perf_counter() - start), 1)

    held_texts = [texts[i] for i in held]
    truth = y[held]
    batch = s._prepare(held_texts)
    prior = s.prior_logits(s.feature_matrix(batch))
    vectors = batch.text_vectors.astype(np.float64)
    rows: dict[str, tuple[float, float]] = {}
    rows["vader"] = s.accuracy_and_f1(truth, s.vader_label(held_texts))
    rows["prototypes_zero_shot"] = s.accuracy_and_f1(truth, s.prototype_labels(batch.text_vectors))
    rows["out_of_box"] = s.accuracy_and_f1(truth, [s.LABELS[i] for i in prior.argmax(1)])
    position = np.arange(len(held))
    for k in shots:
        adapted, plain = [], []
        for d in range(draws):
            pick = _draw(position, truth, k, seed=100 + d)
            rest = np.setdiff1d(position, pick)
            adapter = s._adapter_from(vectors[pick], prior[pick], list(truth[pick]))
            pred = s._softmax(adapter.logits(vectors[rest], prior[rest])).argmax(1)
            adapted.append(s.accuracy_and_f1(truth[rest], [s.LABELS[i] for i in pred]))
            lr = LogisticRegression(C=1.0, max_iter=3000).fit(vectors[pick], truth[pick])
            plain.append(s.accuracy_and_f1(truth[rest], list(lr.predict(vectors[rest]))))
        rows[f"adapted_{k}_per_class"] = tuple(np.mean(adapted, axis=0))  # type: ignore[assignment]
        rows[f"embedding_lr_{k}_per_class"] = tuple(np.mean(plain, axis=0))  # type: ignore[assignment]
    out["rows"] = {
        name: {"accuracy": round(float(a), 3), "macro_f1": round(float(f), 3)} for name, (a, f) in rows.items()
    }

    fill = {"first": "Dana", "company": "Northwind", "product": "the platform"}
    notes = [(t.format(**fill), label) for label, templates in NOTE_TEMPLATES.items() for t in templates]
    found = s.sentiment([t for t, _ in notes])
    acc, f1 = s.accuracy_and_f1([label for _, label in notes], [r.label for r in found])
    out["demo_note_templates"] = {"texts": len(notes), "accuracy": round(acc, 3), "macro_f1": round(f1, 3)}
    vader_acc, _ = s.accuracy_and_f1([label for _, label in notes], s.vader_label([t for t, _ in notes]))
    out["demo_note_templates"]["vader_accuracy"] = round(vader_acc, 3)
    if show:
        _print(out)
    return out


def _print(result: dict[str, Any]) -> None:
    print(f"{result['corpus']}: {result['heldout']:,} tweets (the weights were fitted on the other half)")
    print(f"{'method':32s} {'accuracy':>9s} {'macro-F1':>9s}")
    for name, row in result["rows"].items():
        print(f"{name:32s} {row['accuracy']:9.3f} {row['macro_f1']:9.3f}")
    print(
        f"texts/s (1 thread, embedding included): {result['texts_per_second']:,.0f} new, "
        f"{result['texts_per_second_cached']:,.0f} cached"
    )
    demo = result["demo_note_templates"]
    print(
        f"demo note templates ({demo['texts']} CRM texts): accuracy {demo['accuracy']:.3f}, "
        f"macro-F1 {demo['macro_f1']:.3f}, VADER accuracy {demo['vader_accuracy']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--fit", action="store_true", help="refit the out-of-the-box weights first")
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    if args.fit:
        fit(args.data)
        import ai.nlp.sentiment_weights

        importlib.reload(ai.nlp.sentiment_weights)
    result = figures(args.data, draws=args.draws, show=False)
    if args.fit:  # the shipped weights carry their held-out figures (the model status shows them)
        from ai.nlp.sentiment_weights import WEIGHTS

        _write({**WEIGHTS, "heldout": result["rows"]})
    _print(result)


if __name__ == "__main__":
    main()
