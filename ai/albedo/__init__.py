"""Albedo: the assistant that answers and acts on the CRM in plain language (issue 11; docs to come)."""
