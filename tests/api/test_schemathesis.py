"""Property-based run of schemathesis over every route of the OpenAPI spec, authenticated as a tenant admin.

For each operation, schemathesis generates requests from the spec (the spec's examples, boundary "coverage"
cases, then hypothesis-generated valid and invalid requests) and every response must pass: no 5xx, a status code
the operation declares, a declared content type, a body matching the schema declared for that status, and the
declared response headers (e.g. Retry-After on 429).

The tenant has data (a pipeline with its stages, accounts, contacts, a deal, an activity, a task, a note, a custom
field, a webhook, a team, a role, a user, an API key and a second login session). Generated UUIDs in paths and in
bodies' id fields are swapped for real ids of the matching kind about half of the time, so that routes reach
real records and not only 404s; after an operation that deleted or merged something, the data is seeded again.

Deterministic for CI (derandomize, a fixed example budget per operation). To explore further:
SCHEMATHESIS_MAX_EXAMPLES=200 SCHEMATHESIS_RANDOM=1 pytest tests/api/test_schemathesis.py
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import API_PREFIX, create_app
from core.config import reset_settings
from tests.api.conftest import API, assert_success, login, make_client
from tests.factories import create_tenant, quiesce

# Phases per operation: the spec's examples; "coverage" cases, limited to valid ones (each field at its bounds:
# longest strings, extreme numbers, every enum value) because invalid ones per field cost most of the time and
# the fuzzing phase sends invalid requests too; then hypothesis-generated valid and invalid requests.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"generation": {"mode": "positive"}}}})

app = create_app()
schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", app, config=CONFIG).exclude(
    # Only routes whose effect would break the run itself, which authenticates every case with one access
    # token: logging out revokes it; a password change ends the admin's other sessions and, with generated
    # current passwords, counts failures towards locking the account. test_auth_api.py covers them.
    path=[f"{API_PREFIX}/auth/logout", f"{API_PREFIX}/auth/logout-all", f"{API_PREFIX}/auth/password"],
    method="POST",
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

settings.register_profile(
    "api-conformance",
    # Per operation, on top of the spec's examples and the coverage cases (which run whatever this says).
    max_examples=int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")),
    derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"),
    deadline=None,
    database=None,
    # Requests are slow next to pure functions, and generated bodies and headers are large and often filtered:
    # none of that says anything about the API.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# Real ids by kind (as path parameters name them); the `world` fixture fills it, hooks read it at draw time.
POOL: dict[str, list[str]] = {}

BODY_IDS = {
    "accountId": "account_id",
    "parentId": "account_id",
    "contactId": "contact_id",
    "dealId": "deal_id",
    "pipelineId": "pipeline_id",
    "stageId": "stage_id",
    "teamId": "team_id",
    "ownerId": "owner_id",
    "assigneeId": "owner_id",
    "managerId": "owner_id",
}
# The kind of the ids in bodies of record routes (`ids` of bulk routes, `otherId` of merges).
RECORD_KIND = {
    "contacts": "contact_id",
    "accounts": "account_id",
    "deals": "deal_id",
    "activities": "activity_id",
    "tasks": "task_id",
    "notes": "note_id",
}


def _unset(value: Any) -> None:
    """JSON for what is not data (a body that is not set): the same in every run, unlike its repr."""
    return None


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


class _Swap:
    """Swaps generated UUIDs for real ids of the same kind, about half of the time. The choice is a pure function
    of the generated request (its content salts it: the coverage phase reuses the same UUIDs in every case), so
    hypothesis can replay and shrink a case. Values that are not UUIDs (invalid data on purpose) stay."""

    def __init__(self, case: schemathesis.Case) -> None:
        self.salt = json.dumps([case.path_parameters, case.query, case.body], sort_keys=True, default=_unset)

    def __call__(self, kind: str, value: Any) -> Any:
        ids = POOL.get(kind)
        if not ids or not isinstance(value, str):
            return value
        try:
            UUID(value)
        except ValueError:
            return value
        number = _digest(f"{self.salt}|{kind}|{value}")
        return ids[(number >> 1) % len(ids)] if number % 2 == 0 else value


@schema.hook
def map_case(context: Any, case: schemathesis.Case) -> schemathesis.Case:
    """Runs on every generated case (coverage and fuzzing phases alike): real ids in paths and bodies, and a
    request-specific Idempotency-Key."""
    swap = _Swap(case)
    if case.path_parameters:
        params = {name: swap(name, value) for name, value in case.path_parameters.items()}
        if "stage_id" in params and params["stage_id"] != case.path_parameters["stage_id"]:
            params["pipeline_id"] = POOL["pipeline_id"][0]  # a real stage only exists in its own pipeline
        case.path_parameters = params
    if isinstance(case.body, dict):
        kind = RECORD_KIND.get(case.path.removeprefix(f"{API_PREFIX}/").split("/")[0], "")
        body = dict(case.body)
        for key, value in case.body.items():
            if key in BODY_IDS:
                body[key] = swap(BODY_IDS[key], value)
            elif key == "otherId":
                body[key] = swap(kind, value)
            elif key == "ids" and isinstance(value, list):
                body[key] = [swap(kind, v) for v in value]
            elif key == "stageIds" and isinstance(value, list) and value and swap("stage_id", value[0]) != value[0]:
                body[key] = list(reversed(POOL["stage_id"]))
        case.body = body
    # Generated keys repeat across cases ("0", "A", ...) and the same key on a different request is a 409 by
    # design, so most POSTs with a key would never run: a valid key gets a digest of the request appended, and
    # only an identical request repeats it (and replays the first response). Invalid keys stay as generated.
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and re.fullmatch(r"[\x21-\x7e]{1,200}", key):
        request = json.dumps([case.path, case.path_parameters, case.query, case.body], sort_keys=True, default=_unset)
        case.headers["Idempotency-Key"] = f"{key}-{_digest(request):x}"
    return case


@dataclass
class World:
    # Out of the repr: hypothesis prints a failing test's arguments, and CI logs are no place for a token.
    headers: dict[str, str] = field(repr=False)
    client: TestClient = field(repr=False)
    admin_id: str
    admin_email: str
    slug: str
    logged_in: float = field(default_factory=time.monotonic)
    # Set when an operation may have removed seeded data (or added a required custom field): seed again.
    stale: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def relaxed_ip_limit() -> Iterator[None]:
    """All cases come from one address, so the per-address limit would answer 429 long before the run ends.
    The per-tenant and failed-login limits stay as they are (429 is declared; conftest resets the counters
    after each test)."""
    saved = os.environ.get("CLIENTFORGE_RATE_LIMIT_PER_IP")
    os.environ["CLIENTFORGE_RATE_LIMIT_PER_IP"] = "1000000/minute"
    reset_settings()
    yield
    if saved is None:
        os.environ.pop("CLIENTFORGE_RATE_LIMIT_PER_IP", None)
    else:
        os.environ["CLIENTFORGE_RATE_LIMIT_PER_IP"] = saved
    reset_settings()


def seed_records(world: World) -> dict[str, list[str]]:
    """One record of every kind (two similar contacts and accounts, for duplicates and merges), through the API."""
    client, headers, tag = world.client, world.headers, secrets.token_hex(3)
    pool: dict[str, list[str]] = {}

    def get(path: str) -> Any:
        return assert_success(client.get(f"{API}{path}", headers=headers))

    def post(kind: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        record = assert_success(client.post(f"{API}{path}", json=body, headers=headers), 201)
        pool.setdefault(kind, []).append(record["id"])
        return record

    # A required custom field that the run created would make every record create without it a 400.
    for custom in get("/custom-fields"):
        if custom["isRequired"]:
            client.delete(f"{API}/custom-fields/{custom['id']}", headers=headers)
    # A fresh pipeline with the standard stages: the run may have deleted stages of the others.
    pipeline = post("pipeline_id", "/pipelines", {"name": f"Pipeline {tag}"})
    pool["stage_id"] = [stage["id"] for stage in get(f"/pipelines/{pipeline['id']}/stages")]
    account = post("account_id", "/accounts", {"name": f"Acme {tag}"})
    post("account_id", "/accounts", {"name": f"Acme {tag}"})
    person = {"firstName": "Ada", "lastName": "Lovelace", "email": f"ada-{tag}@example.com"}
    contact = post("contact_id", "/contacts", {**person, "accountId": account["id"]})
    post("contact_id", "/contacts", person)
    ids = {"accountId": account["id"], "contactId": contact["id"]}
    deal = post("deal_id", "/deals", {"name": "Deal", "amount": "10.00", "pipelineId": pipeline["id"], **ids})
    post("activity_id", "/activities", {"type": "call", "subject": "Call", **ids, "dealId": deal["id"]})
    post("task_id", "/tasks", {"title": "Follow up", "dealId": deal["id"]})
    post("note_id", f"/contacts/{contact['id']}/notes", {"body": "A note"})
    post(
        "field_id",
        "/custom-fields",
        {"entityType": "contacts", "fieldName": f"f_{tag}", "fieldLabel": "F", "fieldType": "text"},
    )
    post("webhook_id", "/webhooks", {"url": "https://hooks.invalid/in", "eventTypes": ["contact.created"]})
    post("team_id", "/teams", {"name": f"Team {tag}"})
    post("role_id", "/roles", {"name": f"role {tag}", "permissions": ["contacts:read"]})
    post("key_id", "/api-keys", {"name": f"Key {tag}", "permissions": ["contacts:read"]})
    return pool


def seed_people(world: World) -> dict[str, list[str]]:
    """A user to update and delete, and a second session of the admin to end: never the admin or the session
    whose token every case sends."""
    email = f"rep-{secrets.token_hex(3)}@{world.slug}.example.com"
    resp = world.client.post(
        f"{API}/users", json={"email": email, "firstName": "R", "lastName": "T"}, headers=world.headers
    )
    user = assert_success(resp, 201)["id"]
    session = login(world.client, world.admin_email, world.slug)["sessionId"]
    return {"user_id": [user], "owner_id": [world.admin_id, user], "session_id": [session]}


# What a successful request to a path may have removed from the pool or spoiled; any other DELETE: records.
SPOILS = {"/users/": "people", "/auth/sessions/": "people", "/custom-fields": "records", "merge": "records"}


@pytest.fixture(scope="module")
def world(relaxed_ip_limit: None) -> Iterator[World]:
    tenant = create_tenant()
    client = make_client(app)
    session = login(client, tenant.admin_email, tenant.slug)
    headers = {"Authorization": f"Bearer {session['accessToken']}"}
    found = World(headers, client, str(tenant.admin_id), tenant.admin_email, tenant.slug)
    POOL.update(seed_records(found) | seed_people(found))
    yield found
    POOL.clear()
    quiesce(tenant.tenant_id)  # its webhooks point at hosts that never answer: no retries for later tests


@pytest.fixture(autouse=True)
def restock(world: World) -> Iterator[None]:
    """Seed again what the last operation may have deleted or spoiled, so that later operations find records.
    (Once per operation, not per example: autouse keeps it out of the hypothesis test's arguments.)"""
    yield
    if time.monotonic() - world.logged_in > 600:  # long exploratory runs outlive the 15-minute access token
        world.headers["Authorization"] = f"Bearer {login(world.client, world.admin_email, world.slug)['accessToken']}"
        world.logged_in = time.monotonic()
    if "records" in world.stale:
        POOL.update(seed_records(world))
    if "people" in world.stale:
        POOL.update(seed_people(world))
    world.stale.clear()


@schema.parametrize()
@settings(settings.get_profile("api-conformance"))
def test_api_conforms_to_its_openapi_spec(case: schemathesis.Case, world: World) -> None:
    response = case.call(headers=world.headers)
    if response.status_code < 300 and case.method != "GET":
        spoiled = {kind for part, kind in SPOILS.items() if part in case.path}
        world.stale |= spoiled or ({"records"} if case.method == "DELETE" else set())
    # Raises (failing the test, with a curl reproduction) when any check in CHECKS finds a violation.
    case.validate_response(response, checks=CHECKS, headers=world.headers)
    assert response.status_code < 500, response.text[:500]
