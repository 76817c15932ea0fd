"""Insights on every record: anomalies, churn risk, next best actions, enrichment and field suggestions
(docs/insights.md)."""
