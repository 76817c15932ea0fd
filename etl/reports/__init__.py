"""Reports over a tenant's warehouse: specs (core.analytics.spec) compiled to parameterised DuckDB SQL
(`builder`), the standard reports every tenant gets (`standard`), the views they read (`views`), their charts
(`charts`) and exports (`export`)."""
