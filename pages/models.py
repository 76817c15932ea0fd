"""Models (admins): which method scores the leads (the champion), the lead-scoring models with their metrics,
calibration, feature importance, comparison at training and drift; the A/B test; activate, roll back, retrain
and rescore; the points rules and the scoring settings."""

from app.ui import scoring as view
from app.ui import widgets as ui

actor = ui.page("models.py", "Lead scoring: the method that scores your leads, how well it does, and its rules.")
view.models_page(actor)
