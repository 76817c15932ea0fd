"""The model registry shared by every learned thing in ai/ (see registry.py)."""

from ai.models.registry import (
    activate_model,
    active,
    get,
    list_models,
    load_artifact,
    record,
    store_artifact,
)

__all__ = ["activate_model", "active", "get", "list_models", "load_artifact", "record", "store_artifact"]
