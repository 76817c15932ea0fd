"""Insights kept in the CRM: anomalies found in deals and activity, and the tenant's insight settings."""
