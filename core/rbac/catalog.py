"""The permission catalogue (resource:action) and the system roles every tenant gets.

Adding a permission here and running `clientforge migrate` syncs the catalogue and the system roles' grants.
"""

from __future__ import annotations

CRUD = ("read", "create", "update", "delete")

RESOURCES: dict[str, tuple[str, ...]] = {
    "contacts": (*CRUD, "export", "import", "merge"),
    "accounts": (*CRUD, "export", "import", "merge"),
    "deals": (*CRUD, "export", "import"),
    "activities": (*CRUD, "export"),
    "tasks": (*CRUD, "export"),
    "notes": (*CRUD, "export"),
    "pipelines": (*CRUD,),
    "custom_fields": CRUD,
    "tags": CRUD,
    "reports": (*CRUD, "export", "schedule"),
    "dashboards": CRUD,
    "forecasts": ("read", "manage"),
    "scores": ("read", "manage"),
    "insights": ("read", "manage"),
    "albedo": ("use",),
    "warehouse": ("read",),
    "webhooks": ("read", "manage"),
    "imports": ("read", "create"),
    "jobs": ("read", "manage"),
    "users": ("read", "manage"),
    "teams": ("read", "manage"),
    "roles": ("read", "manage"),
    "api_keys": ("read", "manage"),
    "audit_logs": ("read",),
    "settings": ("read", "manage"),
}

ALL_PERMISSIONS: tuple[str, ...] = tuple(f"{r}:{a}" for r, actions in RESOURCES.items() for a in actions)

RECORDS = ("contacts", "accounts", "deals", "activities", "tasks", "notes")


def _grant(resources: tuple[str, ...], actions: tuple[str, ...]) -> set[str]:
    return {f"{r}:{a}" for r in resources for a in actions if f"{r}:{a}" in ALL_PERMISSIONS}


_ADMIN = set(ALL_PERMISSIONS)
_MANAGER = (
    _grant(RECORDS, (*CRUD, "export", "import", "merge"))
    | _grant(("pipelines", "custom_fields", "tags"), ("read",))
    | _grant(("tags",), ("create", "update"))
    | _grant(("reports", "dashboards"), (*CRUD, "export", "schedule"))
    | {
        "forecasts:read",
        "forecasts:manage",
        "scores:read",
        "insights:read",
        "insights:manage",
        "albedo:use",
        "warehouse:read",
        "imports:read",
        "imports:create",
        "jobs:read",
        "users:read",
        "teams:read",
        "roles:read",
        "webhooks:read",
    }
)
_REP = (
    _grant(RECORDS, ("read", "create", "update"))
    | {"tasks:delete", "notes:delete", "activities:delete"}
    | _grant(("pipelines", "custom_fields", "tags", "reports", "dashboards"), ("read",))
    | {
        "tags:create",
        "forecasts:read",
        "scores:read",
        "insights:read",
        "albedo:use",
        "jobs:read",
        "users:read",
        "teams:read",
        "contacts:export",
        "imports:read",
        "imports:create",
        "contacts:import",
    }
)
_ANALYST = (
    _grant((*RECORDS, "pipelines", "custom_fields", "tags"), ("read",))
    | _grant(RECORDS, ("export",))
    | _grant(("reports", "dashboards"), (*CRUD, "export", "schedule"))
    | {
        "forecasts:read",
        "scores:read",
        "insights:read",
        "albedo:use",
        "warehouse:read",
        "jobs:read",
        "users:read",
        "teams:read",
    }
)
_READ_ONLY = _grant((*RECORDS, "pipelines", "custom_fields", "tags", "reports", "dashboards"), ("read",)) | {
    "forecasts:read",
    "users:read",
    "teams:read",
}

# name -> (description, record scope, permissions)
SYSTEM_ROLES: dict[str, tuple[str, str, frozenset[str]]] = {
    "admin": ("Everything, including users, roles, API keys and settings", "all", frozenset(_ADMIN)),
    "manager": ("Runs a team: all record work for the team, reports, forecasts", "team", frozenset(_MANAGER)),
    "rep": ("Works own contacts, deals and tasks", "own", frozenset(_REP)),
    "analyst": ("Reads everything, builds reports, queries the warehouse", "all", frozenset(_ANALYST)),
    "read_only": ("Looks without touching", "all", frozenset(_READ_ONLY)),
}
