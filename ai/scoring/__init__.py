"""Lead scoring: `train(frame, target=…, positive=None, exclude=[…])` on any Polars frame of leads.

Returns a calibrated `ScoringModel` with `.score(frame)` (score 0–100, probability, confidence, factors in plain
words), `.metrics`, `.feature_importance` and a safe artefact round trip (`to_artefact()` / `load(...)`, JSON and
LightGBM's own model text; never pickle). The A/B split and report, and drift, are in `evaluation`; the CRM's
leads, rules, training and rescoring in `leads`, `rules`, `crm` and `tasks`. See docs/scoring.md.
"""

from ai.scoring.engine import Artefact, ScoringModel, load, stratified_split, train
from ai.scoring.errors import ScoringInputError
from ai.scoring.evaluation import ab_report, arm_of, arms_of, drift_report, psi, psi_level

__all__ = [
    "Artefact",
    "ScoringInputError",
    "ScoringModel",
    "ab_report",
    "arm_of",
    "arms_of",
    "drift_report",
    "load",
    "psi",
    "psi_level",
    "stratified_split",
    "train",
]
