"""/api/v1/contacts/{id}/score and /api/v1/scoring on a small demo tenant (~500 contacts): every route's 401 / 403 /
other tenant's 404; points rules CRUD with bad input refused and changing nothing; the rules scoring leads before
any training; a training job run by the worker that records a model beating the rules, activates it and rescores
the leads with reasons; what a rep may see; settings with optimistic locking; activate / roll back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import polars as pl
import pytest

import ai.scoring.tasks  # noqa: F401  (the scoring.train / scoring.rescore jobs the API queues)
from ai.models import registry
from ai.scoring import crm, leads
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.demo import service as demo
from core.jobs import queue
from core.scoring import service as scoring
from core.scoring.schemas import RuleCreate
from tests.api.conftest import API, assert_error, assert_paginated, assert_success, login_headers, make_client
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce


@dataclass
class World:
    home: TenantWorld
    headers: dict[str, dict[str, str]]  # admin, manager, rep, read_only; away (the other tenant's admin)
    rep_id: UUID
    rep_lead: UUID  # an open lead the rep owns
    rep_lead_source: str
    others_lead: UUID  # an open lead another rep owns
    forecast_model: UUID  # a model of another type in the home tenant
    away_model: UUID
    away_rule: UUID
    away_contact: UUID


@pytest.fixture(scope="module")
def world(api_app: Any) -> Iterator[World]:
    seeded = demo.seed(slug=f"sa-{secrets.token_hex(4)}", scale="small", seed=7, password=PASSWORD)
    client = make_client(api_app)
    by_role = {u["role"]: u for u in reversed(seeded.users)}  # the first user of each role
    emails = {role: by_role[role]["email"] for role in ("admin", "manager")}
    admin_id = _user_id(seeded.tenant_id, emails["admin"])
    home = TenantWorld(seeded.tenant_id, seeded.slug, emails["admin"], admin_id)
    admin = home.admin
    with unit_of_work(admin) as session:  # the leads the scoring sees as open (not converted, lost or idle)
        frame = leads.lead_frame(session, scoring.get_settings(session, admin), as_of=datetime.now(UTC), which="open")
    reps = {_user_id(home.tenant_id, u["email"]): u["email"] for u in seeded.users if u["role"] == "rep"}
    owned = frame.filter(pl.col(leads.OWNER).is_in([str(r) for r in reps]) & pl.col("lead_source").is_not_null())
    assert owned.height, "no rep owns an open lead with a source"
    first = owned.row(0, named=True)
    rep_lead, rep_id, rep_source = UUID(first[leads.CONTACT]), UUID(first[leads.OWNER]), first["lead_source"]
    emails["rep"] = reps[rep_id]
    emails["read_only"] = f"ro-{secrets.token_hex(3)}@{home.slug}.example.com"
    home.add_user("read_only", email=emails["read_only"])
    headers = {role: login_headers(client, email, home.slug) for role, email in emails.items()}
    others = owner_rows(
        "SELECT id FROM contacts WHERE tenant_id = :t AND owner_id <> :o AND deleted_at IS NULL LIMIT 1",
        t=home.tenant_id,
        o=rep_id,
    )
    with unit_of_work(admin) as session:
        forecast = registry.record(session, admin, model_type="revenue_forecast", version="t-1", algorithm="x")
        forecast_id = forecast.id

    away = create_tenant()
    away_admin = away.admin
    with unit_of_work(away_admin) as session:
        model = crm.champion(session, away_admin).model  # its rules row, active: the only one it ever had
        rule = scoring.create_rule(session, away_admin, RuleCreate(field="lead_source", value="Web", points=5))
        contact = contacts.create(session, away_admin, ContactCreate(first_name="Theirs", last_name="Lead"))
        away_ids = (model.id, rule.id, contact.id)
    headers["away"] = login_headers(client, away.admin_email, away.slug)
    yield World(home, headers, rep_id, rep_lead, rep_source, others[0][0], forecast_id, *away_ids)
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def _user_id(tenant_id: UUID, email: str) -> UUID:
    return owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=tenant_id, e=email)[0][0]


@pytest.fixture
def client(api_app: Any) -> Any:
    return make_client(api_app)


def _drain() -> None:
    assert queue.drain(120) == 0


def _job_done(client: Any, world: World, job: dict[str, Any]) -> dict[str, Any]:
    status = assert_success(client.get(f"{API}/jobs/{job['id']}", headers=world.headers["admin"]))
    assert (status["status"], status["progress"]) == ("succeeded", 100), status
    return status


@pytest.fixture(scope="module")
def trained(api_app: Any, world: World) -> dict[str, Any]:
    """One training through the API, run by the worker: the job as it ended."""
    client = make_client(api_app)
    resp = client.post(f"{API}/scoring/models/train", json={}, headers=world.headers["admin"])
    job = assert_success(resp, 202)
    assert resp.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["status"]) == ("scoring.train", "queued")
    _drain()
    return _job_done(client, world, job)


# Every route: anonymous 401, missing permission 403, another tenant's ids 404 -------------------------------------

READ, MANAGE = "scores:read", "scores:manage"
ROUTES = [
    ("GET", "/contacts/{contact}/score", None, READ),
    ("GET", "/scoring/hottest", None, READ),
    ("GET", "/scoring/models", None, READ),
    ("GET", "/scoring/models/{model}", None, READ),
    ("POST", "/scoring/models/train", {}, MANAGE),
    ("POST", "/scoring/models/{model}/activate", None, MANAGE),
    ("POST", "/scoring/models/rollback", None, MANAGE),
    ("GET", "/scoring/ab", None, READ),
    ("GET", "/scoring/settings", None, READ),
    ("PATCH", "/scoring/settings", {"idleDays": 60}, MANAGE),
    ("POST", "/scoring/rescore", None, MANAGE),
    ("GET", "/scoring/rules", None, READ),
    ("POST", "/scoring/rules", {"field": "lead_source", "value": "Web", "points": 5}, MANAGE),
    ("GET", "/scoring/rules/{rule}", None, READ),
    ("PATCH", "/scoring/rules/{rule}", {"points": 7}, MANAGE),
    ("DELETE", "/scoring/rules/{rule}", None, MANAGE),
]


def _path(path: str, world: World) -> str:
    return API + path.format(contact=world.away_contact, model=world.away_model, rule=world.away_rule)


@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES)
def test_every_route_needs_authentication_and_its_permission(
    client: Any, world: World, method: str, path: str, body: Any, permission: str
) -> None:
    url = _path(path, world)
    assert_error(client.request(method, url, json=body), 401, "UNAUTHENTICATED")
    # read_only users hold no scores permission; managers (like reps and analysts) read scores but manage nothing
    denied = client.request(method, url, json=body, headers=world.headers["read_only"])
    assert assert_error(denied, 403, "FORBIDDEN")["details"]["required"] == permission
    if permission == MANAGE:
        denied = client.request(method, url, json=body, headers=world.headers["manager"])
        assert assert_error(denied, 403, "FORBIDDEN")["details"]["required"] == MANAGE


@pytest.mark.parametrize(("method", "path", "body", "permission"), [r for r in ROUTES if "{" in r[1]])
def test_another_tenants_contacts_models_and_rules_are_not_found(
    client: Any, world: World, method: str, path: str, body: Any, permission: str
) -> None:
    resp = client.request(method, _path(path, world), json=body, headers=world.headers["admin"])
    assert_error(resp, 404, "NOT_FOUND")
    theirs = owner_rows("SELECT points FROM scoring_rules WHERE id = :r", r=world.away_rule)
    assert theirs == [(5,)]
    assert owner_rows("SELECT is_active FROM ml_models WHERE id = :m", m=world.away_model) == [(True,)]


# Rules ---------------------------------------------------------------------------------------------------------------


def _rules(client: Any, world: World) -> list[dict[str, Any]]:
    items, _ = assert_paginated(client.get(f"{API}/scoring/rules", headers=world.headers["admin"]))
    return items


def test_rules_crud_refuses_bad_input_and_changes_nothing(client: Any, world: World) -> None:
    admin = world.headers["admin"]
    before = _rules(client, world)
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"field": "favourite_colour", "value": "red", "points": 5}, "field", "lead_source"),
        ({"field": "lead_source", "operator": "gt", "value": 5, "points": 5}, "value", "compares numbers"),
        ({"field": "lead_source", "value": "Web", "points": 0}, "points", "must not be 0"),
        ({"field": "lead_source", "value": "Web", "points": 101}, "points", "less than or equal"),
        ({"field": "lead_source", "operator": "in", "value": [], "points": 5}, "value", "non-empty list"),
        ({"field": "calls", "value": "many", "points": 5}, "value", "must be a number"),
    ]
    for body, field, words in bad:
        error = assert_error(client.post(f"{API}/scoring/rules", json=body, headers=admin), 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], error
        assert words in error["message"] + str(error["details"]), error
    unknown = client.post(f"{API}/scoring/rules", json=bad[0][0], headers=admin).json()["error"]["message"]
    assert "favourite_colour" in unknown and "days_since_last_activity" in unknown and "cf_<" in unknown

    resp = client.post(
        f"{API}/scoring/rules", json={"field": "calls", "operator": "gte", "value": 3, "points": -10}, headers=admin
    )
    rule = assert_success(resp, 201)
    assert resp.headers["Location"] == f"/api/v1/scoring/rules/{rule['id']}"
    assert (rule["field"], rule["operator"], rule["value"], rule["points"], rule["isActive"]) == (
        "calls",
        "gte",
        3,
        -10,
        True,
    )
    url = f"{API}/scoring/rules/{rule['id']}"
    assert assert_success(client.get(url, headers=world.headers["rep"]))["points"] == -10  # scores:read reads rules
    changed = assert_success(client.patch(url, json={"points": 12, "version": rule["version"]}, headers=admin))
    assert (changed["points"], changed["version"]) == (12, rule["version"] + 1)
    stale = client.patch(url, json={"points": 30, "version": rule["version"]}, headers=admin)
    assert assert_error(stale, 409, "VERSION_CONFLICT")["details"]["currentVersion"] == changed["version"]
    for body, field in (({"points": 0}, "points"), ({"operator": "contains"}, "value"), ({"field": "nope"}, "field")):
        error = assert_error(client.patch(url, json=body, headers=admin), 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], error
    after = assert_success(client.get(url, headers=admin))
    assert (after["field"], after["operator"], after["points"], after["version"]) == ("calls", "gte", 12, 2)
    assert len(_rules(client, world)) == len(before) + 1

    assert client.delete(url, headers=admin).status_code == 204
    assert_error(client.get(url, headers=admin), 404, "NOT_FOUND")
    assert _rules(client, world) == before


def test_the_rules_score_leads_until_a_model_is_trained(client: Any, world: World) -> None:
    admin = world.headers["admin"]
    body = {"field": "lead_source", "value": world.rep_lead_source, "points": 25, "label": "Good source"}
    rule = assert_success(client.post(f"{API}/scoring/rules", json=body, headers=admin), 201)
    resp = client.post(f"{API}/scoring/rescore", headers=admin)
    job = assert_success(resp, 202)
    assert (job["kind"], resp.headers["Location"]) == ("scoring.rescore", f"/api/v1/jobs/{job['id']}")
    _drain()
    _job_done(client, world, job)

    score = assert_success(client.get(f"{API}/contacts/{world.rep_lead}/score", headers=world.headers["rep"]))
    assert (score["method"], score["score"], score["algorithm"]) == ("rules", 20 + 25, "rules")
    assert score["reasons"] == [{"feature": "lead_source", "text": "Good source", "points": 25.0}]
    assert score["probability"] is None and score["current"]["score"] == 45
    assert score["history"][0]["id"] == score["current"]["id"]
    client.delete(f"{API}/scoring/rules/{rule['id']}", headers=admin)


# Training, models, scores ------------------------------------------------------------------------------------------


def test_a_training_job_records_a_model_that_beats_the_rules_and_scores_the_leads(
    client: Any, world: World, trained: dict[str, Any]
) -> None:
    result = trained["result"]
    assert (result["status"], result["activated"]) == ("trained", True), result
    assert "beats the rules" in trained["message"]
    models, pagination = assert_paginated(client.get(f"{API}/scoring/models", headers=world.headers["manager"]))
    assert [m["trainedAt"] for m in models] == sorted((m["trainedAt"] for m in models), reverse=True)
    newest = next(m for m in models if m["id"] == result["modelId"])
    assert (newest["method"], newest["isActive"], newest["version"]) == ("model", True, result["version"])
    assert [m["id"] for m in models if m["isActive"]] == [newest["id"]]
    assert any(m["method"] == "rules" for m in models) and pagination["total"] == len(models)
    comparison = newest["comparison"]
    assert (comparison["againstMethod"], comparison["beats"]) == ("rules", True)
    assert newest["rocAuc"] > comparison["againstRocAuc"] and newest["rocAuc"] >= newest["baselineRocAuc"]
    assert newest["trainingStart"] < newest["trainingEnd"] <= newest["trainedAt"]
    assert all(0 <= float(newest[k]) <= 1 for k in ("accuracy", "precision", "recall", "f1", "brier"))
    print(
        f"\nscoring API: model {newest['algorithm']} ROC AUC {newest['rocAuc']:.3f} vs rules "
        f"{comparison['againstRocAuc']:.3f}, baseline {newest['baselineRocAuc']:.3f}, {newest['outcomes']} outcomes"
    )

    detail = assert_success(client.get(f"{API}/scoring/models/{newest['id']}", headers=world.headers["admin"]))
    assert detail["calibration"] and detail["hyperparameters"] and detail["features"]
    assert {"baseline", newest["algorithm"]} <= {c["name"] for c in detail["candidates"]}
    shares = [f["importance"] for f in detail["featureImportance"]]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 1e-6
    assert all(f["label"] and f["feature"] in detail["features"] for f in detail["featureImportance"])
    assert detail["drift"]["score"]["psi"] is not None and detail["drift"]["summary"]


def test_a_contact_score_has_its_reasons_probability_and_history(
    client: Any, world: World, trained: dict[str, Any]
) -> None:
    hottest = assert_success(client.get(f"{API}/scoring/hottest?limit=10", headers=world.headers["admin"]))
    assert len(hottest) == 10
    scores = [lead["leadScore"] for lead in hottest]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    top = hottest[0]
    assert top["reasons"] and all({"feature", "text", "points"} == set(r) for r in top["reasons"])
    score = assert_success(client.get(f"{API}/contacts/{top['id']}/score", headers=world.headers["admin"]))
    assert (score["method"], score["modelVersion"]) == ("model", trained["result"]["version"])
    assert score["score"] == top["leadScore"] == round(100 * float(score["probability"]))
    assert score["reasons"] == top["reasons"]
    assert any(r["points"] > 0 for r in score["reasons"]) and all(r["text"] for r in score["reasons"])
    assert 0 <= float(score["confidence"]) <= 1 and float(score["predictedRevenue"]) > 0
    assert score["scoredAt"] == score["history"][0]["scoredAt"] and score["history"][0]["factors"] == score["reasons"]


def test_a_rep_sees_only_the_scores_of_their_own_contacts(client: Any, world: World, trained: dict[str, Any]) -> None:
    rep = world.headers["rep"]
    own = assert_success(client.get(f"{API}/contacts/{world.rep_lead}/score", headers=rep))
    assert own["contactId"] == str(world.rep_lead) and own["method"] == "model"
    assert_error(client.get(f"{API}/contacts/{world.others_lead}/score", headers=rep), 404, "NOT_FOUND")
    leads = assert_success(client.get(f"{API}/scoring/hottest?limit=100", headers=rep))
    assert leads and {lead["ownerId"] for lead in leads} == {str(world.rep_id)}
    everyone = assert_success(client.get(f"{API}/scoring/hottest?limit=100", headers=world.headers["admin"]))
    assert len({lead["ownerId"] for lead in everyone}) > 1
    mine = assert_success(client.get(f"{API}/scoring/hottest?mine=true", headers=world.headers["admin"]))
    assert all(lead["ownerId"] == str(world.home.admin_id) for lead in mine)


def test_activate_and_roll_back_switch_the_model_that_scores(
    client: Any, world: World, trained: dict[str, Any]
) -> None:
    admin = world.headers["admin"]
    model_id = trained["result"]["modelId"]
    back = assert_success(client.post(f"{API}/scoring/models/rollback", headers=admin))
    assert (back["method"], back["isActive"]) == ("rules", True) and back["rescoreJobId"]
    _drain()
    score = assert_success(client.get(f"{API}/contacts/{world.rep_lead}/score", headers=admin))
    assert score["method"] == "rules" and score["probability"] is None

    again = assert_success(client.post(f"{API}/scoring/models/{model_id}/activate", headers=admin))
    assert (again["id"], again["isActive"], again["method"]) == (model_id, True, "model")
    models, _ = assert_paginated(client.get(f"{API}/scoring/models", headers=admin))
    assert [m["id"] for m in models if m["isActive"]] == [model_id]
    _drain()
    assert assert_success(client.get(f"{API}/contacts/{world.rep_lead}/score", headers=admin))["method"] == "model"

    wrong = client.post(f"{API}/scoring/models/{world.forecast_model}/activate", headers=admin)
    assert "not a lead-scoring" in assert_error(wrong, 400, "VALIDATION_ERROR")["message"]
    nothing = client.post(f"{API}/scoring/models/rollback", headers=world.headers["away"])
    assert "no earlier model" in assert_error(nothing, 400, "VALIDATION_ERROR")["message"]
    assert owner_rows("SELECT is_active FROM ml_models WHERE id = :m", m=world.away_model) == [(True,)]


def test_settings_change_with_optimistic_locking(client: Any, world: World, trained: dict[str, Any]) -> None:
    admin = world.headers["admin"]
    settings = assert_success(client.get(f"{API}/scoring/settings", headers=world.headers["rep"]))
    assert settings["convertedStages"] == ["opportunity", "customer", "evangelist"]
    body = {"retrainEveryDays": 14, "version": settings["version"]}
    changed = assert_success(client.patch(f"{API}/scoring/settings", json=body, headers=admin))
    assert changed["retrainEveryDays"] == 14 and changed["version"] > settings["version"]
    stale = client.patch(f"{API}/scoring/settings", json={"retrainEveryDays": 30, **body}, headers=admin)
    assert assert_error(stale, 409, "VERSION_CONFLICT")["details"]["currentVersion"] == changed["version"]
    bad = client.patch(f"{API}/scoring/settings", json={"convertedStages": ["won"]}, headers=admin)
    assert "lifecycle stage" in assert_error(bad, 400, "VALIDATION_ERROR")["message"]
    assert assert_success(client.get(f"{API}/scoring/settings", headers=admin)) == changed


def test_the_ab_report_is_null_without_a_challenger_and_compares_arms_with_one(
    client: Any, world: World, trained: dict[str, Any]
) -> None:
    admin = world.headers["admin"]
    assert assert_success(client.get(f"{API}/scoring/ab", headers=world.headers["manager"])) is None
    champion = trained["result"]["modelId"]
    refused = client.patch(f"{API}/scoring/settings", json={"challengerModelId": champion}, headers=admin)
    assert "active model" in assert_error(refused, 400, "VALIDATION_ERROR")["message"]

    job = assert_success(client.post(f"{API}/scoring/models/train", json={"activate": "never"}, headers=admin), 202)
    _drain()
    second = _job_done(client, world, job)["result"]
    assert second["status"] == "trained" and second["activated"] is False and second["modelId"] != champion
    body = {"challengerModelId": second["modelId"], "challengerShare": 0.5}
    assert assert_success(client.patch(f"{API}/scoring/settings", json=body, headers=admin))["challengerModelId"]
    models, _ = assert_paginated(client.get(f"{API}/scoring/models", headers=admin))
    assert [m["id"] for m in models if m["isChallenger"]] == [second["modelId"]]
    assert_success(client.post(f"{API}/scoring/rescore", headers=admin), 202)
    _drain()
    report = assert_success(client.get(f"{API}/scoring/ab", headers=world.headers["manager"]))
    assert (report["champion"]["id"], report["challenger"]["id"], report["share"]) == (
        champion,
        second["modelId"],
        0.5,
    )
    assert set(report["arms"]) == {"champion", "challenger"} and report["verdict"]  # no lead resolved since: too few
    arms = owner_rows(
        "SELECT DISTINCT arm FROM lead_scores WHERE tenant_id = :t AND model_id = :m",
        t=world.home.tenant_id,
        m=second["modelId"],
    )
    assert arms == [("challenger",)]

    ended = assert_success(client.patch(f"{API}/scoring/settings", json={"challengerModelId": None}, headers=admin))
    assert ended["challengerModelId"] is None
    assert assert_success(client.get(f"{API}/scoring/ab", headers=admin)) is None
