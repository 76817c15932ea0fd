"""Lead scoring: `train(frame, target=…, positive=None, exclude=[…])` on any Polars frame of leads.

Returns a calibrated `ScoringModel` with `.score(frame)` (score 0–100, probability, confidence, factors in plain
words), `.metrics`, `.feature_importance` and a safe artefact round trip (`to_artefact()` / `load(...)`, JSON and
LightGBM's own model text; never pickle). See docs/scoring.md.
"""

from ai.scoring.engine import Artefact, ScoringModel, load, stratified_split, train
from ai.scoring.errors import ScoringInputError

__all__ = ["Artefact", "ScoringInputError", "ScoringModel", "load", "stratified_split", "train"]
