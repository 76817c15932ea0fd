"""Sentiment of customer text in the CRM: the label stored per note and activity, the tenant's corrections."""
