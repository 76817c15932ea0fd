"""Sentiment of customer text: `sentiment(texts, examples=None)`, offline, batched, explained by a sentence.

**What a result holds.** `.label` is "negative", "neutral" or "positive"; `.score` is a signed polarity in
[-1, 1], P(positive) - P(negative) (0 is neutral or torn; its sign agrees with the label unless the label is
neutral); `.confidence` is the probability of the label; `.probabilities` maps each label to its probability;
`.sentence` is the sentence that carried it (of a text's sentences, the one that on its own reads most
strongly as the label; the whole text when it has one sentence); `.model` names what decided ("out_of_box-<v>"
or "adapted-<hash>").

**The out-of-the-box model** combines signals, none of which is good alone: VADER (lexicon and rules: negation,
intensifiers, "but", emoji) on the text and on each sentence (the most positive and most negative sentence),
similarity of the MiniLM embedding to prototype sentences written for customer and CRM text
(`sentiment_prototypes.py`: nearest and top-3 per class against the classes' average, for the text and its
best sentence), a classifier trained on those prototypes alone, counts of negations, "!" and "?". A multinomial logistic
regression weighs the 22 signals; its weights (`sentiment_weights.py`, plain literals, no texts; with the
prototype classifier's, fitted on the prototypes alone) were fitted on a seeded half of TweetEval sentiment and
are reported on the other half (benchmarks/sentiment.py prints the figures; `WEIGHTS["heldout"]` keeps those of
the shipped fit): accuracy 0.648 and macro-F1 0.631 there, against VADER's 0.534 / 0.536.

**Adapting** (`examples`, or a tenant's corrections: the same code, `adapt`): logistic regression on the
embedding whose starting point is the out-of-the-box model (its logits are an offset, with a learned scale),
with an L2 penalty on the new weights against a loss summed over the examples: a handful of examples nudges
the prior, hundreds can overrule it. The penalty is chosen among three by 3-fold cross-validation on the examples
(from 12 on). `cross_validate` measures it on the examples themselves (k-fold, the penalty chosen inside each
training fold), beside the out-of-the-box model on the same examples.

**Speed and threads.** Texts and their sentences are embedded in one batch by `ai.nlp.embeddings.embed`
(ONNX Runtime, cached per text), VADER runs per text; the rest is small matrix work. Threads: the embedder
takes `CLIENTFORGE_NLP_THREADS` (1 by default) for ONNX Runtime; the worker's sentiment handlers
(`ai/nlp/sentiment_tasks.py`, `limit_threads`) also cap BLAS/OpenMP pools at that count with threadpoolctl,
and torch's (used only by the one-time ONNX export) with `torch.set_num_threads`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ai.nlp.sentiment_prototypes import PROTOTYPES
from core.sentiment.service import normalise

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
MAX_SENTENCES = 12  # per text, for the sentence signals and the carrying sentence (long emails: the first 12)
MAX_SENTENCE_CHARS = 600
# The adapter's penalties (summed loss): on the new weights, and on the bias and the prior's scale.
PENALTIES = (1.0, 3.0, 10.0)  # on the new weights: chosen per set of examples by cross-validation
PENALTY = 3.0  # with too few examples to choose
PRIOR_PENALTY = 10.0  # on the bias and the prior's scale
CHOOSE_FROM = 12  # examples needed to choose the penalty

_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+")
_NEGATION = re.compile(r"\b(not|no|never|nothing|nobody|none|neither|nor|cannot|without)\b|n't\b", re.IGNORECASE)

FEATURES: tuple[str, ...] = (
    "vader_compound",
    "vader_pos",
    "vader_neg",
    "vader_neu",
    "vader_sentence_max",
    "vader_sentence_min",
    *(f"proto_{c}_{kind}" for c in LABELS for kind in ("max", "top3")),
    *(f"proto_{c}_sentence_top3" for c in LABELS),
    "negations",
    "exclamations",
    "questions",
    "vader_compound_negated",
    *(f"prototype_classifier_{c}" for c in LABELS),
)


class SentimentInputError(ValueError):
    """Bad `examples` (an unknown label, a non-text): the message says which and how to fix it."""


@dataclass(frozen=True)
class SentimentResult:
    label: str
    score: float
    confidence: float
    probabilities: dict[str, float]
    sentence: str
    model: str

    @property
    def reason(self) -> str:
        """One line a rep understands: the label, how sure, and the sentence behind it."""
        quote = self.sentence if len(self.sentence) <= 140 else self.sentence[:137] + "..."
        return f"{self.label.title()} ({self.confidence:.0%} sure): “{quote}”"


# Text --------------------------------------------------------------------------------------------------------


def clean(text: Any) -> str:
    """Whitespace collapsed within lines, empty lines dropped, at most 5,000 characters (the CRM's rule, so that
    a stored label's content hash is the hash of exactly what was read)."""
    return normalise(text)


def sentences(text: str) -> list[str]:
    """The text's sentences (split after . ! ? ; and at line breaks), at most `MAX_SENTENCES`."""
    found = [s.strip()[:MAX_SENTENCE_CHARS] for s in _SPLIT.split(text) if s and s.strip()]
    return found[:MAX_SENTENCES] or [text[:MAX_SENTENCE_CHARS]]


# Signals -----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


_vader_lock = threading.Lock()


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """(n, 4): VADER's compound, pos, neg, neu per text."""
    analyzer = _vader()
    out = np.zeros((len(texts), 4), dtype=np.float64)
    with _vader_lock:  # its analyzer keeps no state between calls, but be safe across request threads
        for i, text in enumerate(texts):
            s = analyzer.polarity_scores(text)
            out[i] = (s["compound"], s["pos"], s["neg"], s["neu"])
    return out


def vader_label(texts: Sequence[str]) -> list[str]:
    """The VADER baseline: compound ≥ 0.05 positive, ≤ -0.05 negative, else neutral."""
    compound = vader_scores(texts)[:, 0]
    return ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]


@lru_cache(maxsize=1)
def _prototype_vectors() -> dict[str, np.ndarray]:
    from ai.nlp.embeddings import embed

    return {c: embed(list(PROTOTYPES[c])) for c in LABELS}


def prototype_labels(vectors: np.ndarray) -> list[str]:
    """The zero-shot baseline: the class whose three nearest prototypes are nearest on average."""
    return [LABELS[i] for i in _top3(vectors).argmax(1)]


def _top3(vectors: np.ndarray) -> np.ndarray:
    """(n, 3): per class, the mean cosine to its three nearest prototypes."""
    return np.stack([np.sort(vectors @ _prototype_vectors()[c].T, axis=1)[:, -3:].mean(1) for c in LABELS], 1).astype(
        np.float64
    )


def _prototype_similarities(vectors: np.ndarray) -> np.ndarray:
    """(n, 6): per class, the nearest and the top-3 mean cosine to its prototypes, each less the average over the
    classes: what sets a class apart, not how much the text looks like business writing in general (CRM text is
    nearer to every prototype than tweets are)."""
    nearest = np.stack([(vectors @ _prototype_vectors()[c].T).max(1) for c in LABELS], 1)
    top = _top3(vectors)
    nearest = nearest - nearest.mean(1, keepdims=True)
    top = top - top.mean(1, keepdims=True)
    return np.column_stack([np.column_stack([nearest[:, i], top[:, i]]) for i in range(len(LABELS))]).astype(np.float64)


@dataclass
class _Batch:
    """What the signals need for a batch of texts: each text's sentences and their row numbers."""

    texts: list[str]
    sentences: list[list[str]]
    text_vectors: np.ndarray
    sentence_vectors: list[np.ndarray]
    text_vader: np.ndarray
    sentence_vader: list[np.ndarray]


def _prepare(texts: Sequence[str]) -> _Batch:
    from ai.nlp.embeddings import embed

    cleaned = [clean(t) for t in texts]
    split = [sentences(t) if t else [""] for t in cleaned]
    unique = list(dict.fromkeys([*cleaned, *(s for parts in split for s in parts)]))
    vectors = embed(unique)
    row = {text: i for i, text in enumerate(unique)}
    vader = vader_scores(unique)
    return _Batch(
        texts=cleaned,
        sentences=split,
        text_vectors=vectors[[row[t] for t in cleaned]],
        sentence_vectors=[vectors[[row[s] for s in parts]] for parts in split],
        text_vader=vader[[row[t] for t in cleaned]],
        sentence_vader=[vader[[row[s] for s in parts]] for parts in split],
    )


def _signals(
    texts: Sequence[str],
    vectors: np.ndarray,
    vader: np.ndarray,
    part_vectors: np.ndarray,
    part_vader: np.ndarray,
    starts: np.ndarray,
    classifier: dict[str, Any] | None = None,
) -> np.ndarray:
    """(n, len(FEATURES)): the signals of n texts whose sentences are rows `starts[i]:starts[i+1]` of the
    part arrays."""
    if not len(texts):
        return np.zeros((0, len(FEATURES)))
    part_top3 = _top3(part_vectors)
    part_top3 = part_top3 - part_top3.mean(1, keepdims=True)
    negations = np.array([len(_NEGATION.findall(t)) for t in texts], dtype=np.float64)
    return np.column_stack(
        [
            vader,
            np.maximum.reduceat(part_vader[:, 0], starts),
            np.minimum.reduceat(part_vader[:, 0], starts),
            _prototype_similarities(vectors),
            np.maximum.reduceat(part_top3, starts, axis=0),
            negations,
            [t.count("!") for t in texts],
            [t.count("?") for t in texts],
            vader[:, 0] * (negations > 0),
            _prototype_classifier(vectors, classifier),
        ]
    )


def _prototype_classifier(vectors: np.ndarray, classifier: dict[str, Any] | None = None) -> np.ndarray:
    if classifier is None:
        from ai.nlp.sentiment_weights import WEIGHTS

        classifier = WEIGHTS["prototype_classifier"]
    coef = np.asarray(classifier["coef"], dtype=np.float64)
    return np.asarray(vectors @ coef.T + np.asarray(classifier["intercept"]))


def feature_matrix(batch: _Batch, classifier: dict[str, Any] | None = None) -> np.ndarray:
    """(n, len(FEATURES)) raw signals of each text of the batch."""
    counts = np.array([len(parts) for parts in batch.sentences], dtype=int)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int) if len(counts) else counts
    parts = np.vstack(batch.sentence_vectors) if batch.sentence_vectors else np.zeros((0, 384))
    part_vader = np.vstack(batch.sentence_vader) if batch.sentence_vader else np.zeros((0, 4))
    return _signals(batch.texts, batch.text_vectors, batch.text_vader, parts, part_vader, starts, classifier)


def _sentence_features(batch: _Batch, i: int) -> np.ndarray:
    """The signals of each sentence of text i as if it were a text of its own."""
    parts = batch.sentences[i]
    vectors, vader = batch.sentence_vectors[i], batch.sentence_vader[i]
    return _signals(parts, vectors, vader, vectors, vader, np.arange(len(parts)))


# Models ------------------------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(1, keepdims=True))


def out_of_box_version() -> str:
    from ai.nlp.sentiment_weights import WEIGHTS

    return f"out_of_box-{WEIGHTS['version']}"


def prior_logits(features: np.ndarray) -> np.ndarray:
    """The out-of-the-box model's logits (n, 3) from raw signals."""
    from ai.nlp.sentiment_weights import WEIGHTS

    combine = WEIGHTS["combination"]
    z = (features - np.asarray(combine["mean"])) / np.asarray(combine["scale"])
    return np.asarray(z @ np.asarray(combine["coef"]).T + np.asarray(combine["intercept"]))


@dataclass(frozen=True)
class Adapter:
    """What a tenant's examples taught: weights on the embedding added to the out-of-the-box logits (scaled).
    Stored as JSON (`to_json`/`from_json`), never pickled."""

    weights: np.ndarray  # (384, 3)
    bias: np.ndarray  # (3,)
    prior_scale: float
    examples: int
    per_class: dict[str, int]
    prior_version: str
    penalty: float = PENALTY
    digest: str = field(default="")

    @property
    def version(self) -> str:
        return f"adapted-{self.digest[:12]}"

    def logits(self, vectors: np.ndarray, prior: np.ndarray) -> np.ndarray:
        return np.asarray(self.prior_scale * prior + vectors @ self.weights + self.bias)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "sentiment-adapter",
            "labels": list(LABELS),
            "weights": np.round(self.weights, 6).tolist(),
            "bias": np.round(self.bias, 6).tolist(),
            "prior_scale": round(float(self.prior_scale), 6),
            "examples": self.examples,
            "per_class": self.per_class,
            "prior_version": self.prior_version,
            "penalty": self.penalty,
            "prior_penalty": PRIOR_PENALTY,
        }

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> Adapter:
        if content.get("kind") != "sentiment-adapter" or list(content.get("labels", [])) != list(LABELS):
            raise SentimentInputError("not a sentiment adapter artefact")
        weights = np.asarray(content["weights"], dtype=np.float64)
        if weights.shape[1:] != (len(LABELS),):
            raise SentimentInputError("the adapter's weights have the wrong shape")
        return cls(
            weights=weights,
            bias=np.asarray(content["bias"], dtype=np.float64),
            prior_scale=float(content["prior_scale"]),
            examples=int(content["examples"]),
            per_class=dict(content["per_class"]),
            prior_version=str(content["prior_version"]),
            penalty=float(content.get("penalty", PENALTY)),
            digest=_digest(content),
        )


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_examples(examples: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(text, label) pairs, cleaned; refuses unknown labels and empty texts, naming the pair."""
    checked = []
    for i, pair in enumerate(examples):
        try:
            text, label = pair
        except (TypeError, ValueError):
            raise SentimentInputError(f"example {i} must be a (text, label) pair") from None
        label = str(label).strip().lower()
        if label not in LABELS:
            raise SentimentInputError(f"example {i} has label {label!r}: use one of {', '.join(LABELS)}")
        text = clean(text)
        if not text:
            raise SentimentInputError(f"example {i} has no text")
        checked.append((text, label))
    return checked


def _fit(
    vectors: np.ndarray, prior: np.ndarray, targets: np.ndarray, penalty: float
) -> tuple[np.ndarray, np.ndarray, float]:
    from scipy.optimize import minimize

    n, p = vectors.shape
    k = len(LABELS)
    onehot = np.eye(k)[targets]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        weights = w[: p * k].reshape(p, k)
        bias = w[p * k : p * k + k]
        scale = w[-1]
        probs = _softmax(scale * prior + vectors @ weights + bias)
        value = -float((onehot * np.log(probs + 1e-12)).sum())
        value += penalty * float((weights**2).sum()) / 2
        value += PRIOR_PENALTY * (float((bias**2).sum()) + (scale - 1) ** 2) / 2
        g = probs - onehot
        grad = np.concatenate(
            [
                (vectors.T @ g + penalty * weights).ravel(),
                g.sum(0) + PRIOR_PENALTY * bias,
                [float((g * prior).sum()) + PRIOR_PENALTY * (scale - 1)],
            ]
        )
        return value, grad

    start = np.zeros(p * k + k + 1)
    start[-1] = 1.0
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w = result.x
    return w[: p * k].reshape(p, k), w[p * k : p * k + k], float(w[-1])


def _folds(labels: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """A fold number per example, each label dealt round-robin over the folds (stratified)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    for c in LABELS:
        rows = np.flatnonzero(np.asarray(labels) == c)
        fold[rng.permutation(rows)] = np.arange(len(rows)) % k
    return fold


def choose_penalty(vectors: np.ndarray, prior: np.ndarray, labels: Sequence[str]) -> float:
    """The penalty among `PENALTIES` that predicts held-out examples best (3-fold, ties to the stronger one);
    `PENALTY` below `CHOOSE_FROM` examples."""
    if len(labels) < CHOOSE_FROM:
        return PENALTY
    targets = np.array([LABELS.index(label) for label in labels])
    fold = _folds(labels, 3)
    best, best_right = PENALTY, -1
    for penalty in sorted(PENALTIES, reverse=True):
        right = 0
        for f in range(3):
            test, train = fold == f, fold != f
            weights, bias, scale = _fit(vectors[train], prior[train], targets[train], penalty)
            predicted = (scale * prior[test] + vectors[test] @ weights + bias).argmax(1)
            right += int((predicted == targets[test]).sum())
        if right > best_right:
            best, best_right = penalty, right
    return best


def _adapter_from(
    vectors: np.ndarray, prior: np.ndarray, labels: Sequence[str], penalty: float | None = None
) -> Adapter:
    targets = np.array([LABELS.index(label) for label in labels])
    penalty = choose_penalty(vectors, prior, labels) if penalty is None else penalty
    weights, bias, scale = _fit(vectors, prior, targets, penalty)
    per_class = {c: int((targets == i).sum()) for i, c in enumerate(LABELS)}
    adapter = Adapter(weights, bias, scale, len(labels), per_class, out_of_box_version(), penalty)
    return Adapter.from_json(adapter.to_json())  # rounded as stored, with its digest: the same model either way


def adapt(examples: Iterable[tuple[str, str]]) -> Adapter:
    """Fit the adapter on (text, label) examples (a tenant's corrections or a notebook's list)."""
    checked = check_examples(examples)
    if not checked:
        raise SentimentInputError("adapting needs at least one (text, label) example")
    batch = _prepare([t for t, _ in checked])
    prior = prior_logits(feature_matrix(batch))
    return _adapter_from(batch.text_vectors.astype(np.float64), prior, [label for _, label in checked])


_adapters: dict[str, Adapter] = {}
_adapters_lock = threading.Lock()


def _adapter_for(examples: Sequence[tuple[str, str]]) -> Adapter:
    key = _digest({"examples": [list(e) for e in examples]})
    with _adapters_lock:
        cached = _adapters.get(key)
    if cached is None:
        cached = adapt(examples)
        with _adapters_lock:
            if len(_adapters) > 32:
                _adapters.clear()
            _adapters[key] = cached
    return cached


def sentiment(
    texts: Sequence[str], examples: Iterable[tuple[str, str]] | None = None, *, adapter: Adapter | None = None
) -> list[SentimentResult]:
    """One result per text, in order (see the module docstring for what a result holds).

    `examples`, (text, label) pairs, adapt the model first (exactly as a tenant's corrections do; the fit is
    cached per list of examples in the process); `adapter`, an already fitted one (the tenant's stored model).
    An empty text is neutral with confidence 1/3."""
    if isinstance(texts, str):
        raise TypeError("sentiment takes a sequence of texts, not one string")
    if examples is not None:
        listed = check_examples(examples)
        if listed:
            adapter = _adapter_for(listed)
    if not texts:
        return []
    batch = _prepare(list(texts))
    features = feature_matrix(batch)
    logits = prior_logits(features)
    if adapter is not None:
        logits = adapter.logits(batch.text_vectors.astype(np.float64), logits)
    probs = _softmax(logits)
    model = adapter.version if adapter is not None else out_of_box_version()
    results = []
    for i, text in enumerate(batch.texts):
        if not text:
            third = 1 / len(LABELS)
            results.append(SentimentResult("neutral", 0.0, third, dict.fromkeys(LABELS, third), "", model))
            continue
        p = probs[i]
        best = int(p.argmax())
        carrier = batch.sentences[i][0]
        if len(batch.sentences[i]) > 1:
            part_logits = prior_logits(_sentence_features(batch, i))
            if adapter is not None:
                part_logits = adapter.logits(batch.sentence_vectors[i].astype(np.float64), part_logits)
            carrier = batch.sentences[i][int(_softmax(part_logits)[:, best].argmax())]
        results.append(
            SentimentResult(
                label=LABELS[best],
                score=round(float(p[2] - p[0]), 4),
                confidence=round(float(p[best]), 4),
                probabilities={c: round(float(p[j]), 4) for j, c in enumerate(LABELS)},
                sentence=carrier,
                model=model,
            )
        )
    return results


# Measuring ---------------------------------------------------------------------------------------------------


def accuracy_and_f1(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 over the three labels (a label never predicted nor present counts 0 F1 only when
    present in the truth)."""
    t = np.asarray(truth)
    p = np.asarray(predicted)
    if len(t) == 0:
        return 0.0, 0.0
    f1s = []
    for c in LABELS:
        tp = float(((p == c) & (t == c)).sum())
        fp = float(((p == c) & (t != c)).sum())
        fn = float(((p != c) & (t == c)).sum())
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float((t == p).mean()), float(np.mean(f1s)) if f1s else 0.0


def cross_validate(examples: Iterable[tuple[str, str]], *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """How the adapted model does on examples it was not fitted on (k-fold, stratified), beside the out-of-the-box
    model on the same examples. Returns accuracy and macro-F1 of both, examples per class and the folds used
    (fewer than `folds` when a class has fewer examples; none below 2 examples in all)."""
    checked = check_examples(examples)
    labels = [label for _, label in checked]
    per_class = {c: labels.count(c) for c in LABELS}
    out: dict[str, Any] = {"examples": len(checked), "per_class": per_class, "folds": 0}
    if len(checked) < 2:
        return out
    batch = _prepare([t for t, _ in checked])
    vectors = batch.text_vectors.astype(np.float64)
    prior = prior_logits(feature_matrix(batch))
    prior_pred = [LABELS[i] for i in prior.argmax(1)]
    k = max(2, min(folds, len(checked)))
    fold = _folds(labels, k, seed)
    predicted = list(prior_pred)
    for f in range(k):
        test = np.flatnonzero(fold == f)
        train = np.flatnonzero(fold != f)
        if not len(test) or not len(train):
            continue
        adapter = _adapter_from(vectors[train], prior[train], [labels[i] for i in train])
        pred = _softmax(adapter.logits(vectors[test], prior[test])).argmax(1)
        for i, j in zip(test, pred, strict=True):
            predicted[i] = LABELS[j]
    acc, f1 = accuracy_and_f1(labels, predicted)
    base_acc, base_f1 = accuracy_and_f1(labels, prior_pred)
    out.update(folds=k, accuracy=acc, macro_f1=f1, out_of_box_accuracy=base_acc, out_of_box_macro_f1=base_f1)
    return out
