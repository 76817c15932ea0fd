"""Platform behaviour every client relies on: envelope, request ids, security headers, CORS, OpenAPI and docs,
metrics, health, and bad input that is refused without changing anything."""

from __future__ import annotations

import re

import pytest

from core.config import get_settings
from tests.api.conftest import API, assert_error, assert_success, make_client, row_counts, unique

GENERATED_ID = re.compile(r"^req_[0-9a-f]{16}$")


# Health, readiness, metrics ------------------------------------------------------------------------------


def test_health_answers_ok_in_the_envelope(client):
    data = assert_success(client.get("/health"))
    assert data == {"status": "ok"}


def test_ready_reports_postgres_and_redis_ok(client):
    data = assert_success(client.get("/ready"))
    assert data["status"] == "ready"
    assert data["checks"] == {"postgres": "ok", "redis": "ok"}


def test_metrics_expose_request_counter_and_latency_histogram(client, shop_admin):
    client.get(f"{API}/users", headers=shop_admin)
    client.get("/health")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    # The route template; FastAPI reports it relative to the v1 router.
    route = 'method="GET",route="(/api/v1)?/users"'
    assert re.search(r"clientforge_http_requests_total\{" + route + r',status="200"\} [1-9]', text)
    assert re.search(r'clientforge_http_request_duration_seconds_bucket\{le="0.05",' + route, text)
    assert re.search(r"clientforge_http_request_duration_seconds_count\{" + route + r"\} [1-9]", text)
    assert 'clientforge_http_requests_total{method="GET",route="/health",status="200"}' in text


# Envelope and errors -------------------------------------------------------------------------------------


def test_unknown_endpoint_is_404_in_the_envelope(client):
    error = assert_error(client.get(f"{API}/no-such-thing"), 404, "NOT_FOUND")
    assert "/api/v1/no-such-thing" in error["message"]


def test_wrong_method_is_405_in_the_envelope(client, shop_admin):
    assert_error(client.put(f"{API}/users", headers=shop_admin, json={}), 405, "METHOD_NOT_ALLOWED")


def test_unexpected_error_is_500_in_the_envelope_without_a_trace(api_app):
    from api.main import create_app

    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at /srv/clientforge/core.py line 42")

    resp = make_client(app).get("/boom", headers={"X-Request-ID": "trace-500"})
    error = assert_error(resp, 500, "INTERNAL_ERROR")
    assert "secret internals" not in resp.text and "RuntimeError" not in resp.text
    assert "request id" in error["message"]
    assert resp.json()["meta"]["requestId"] == "trace-500"
    assert resp.headers["x-content-type-options"] == "nosniff"


# Request ids ---------------------------------------------------------------------------------------------


def test_valid_request_id_is_echoed_in_header_and_meta(client):
    resp = client.get("/health", headers={"X-Request-ID": "abc-123.trace:7"})
    assert resp.headers["x-request-id"] == "abc-123.trace:7"
    assert resp.json()["meta"]["requestId"] == "abc-123.trace:7"


def test_missing_request_id_is_generated(client):
    resp = client.get("/health")
    assert GENERATED_ID.match(resp.headers["x-request-id"])
    assert resp.json()["meta"]["requestId"] == resp.headers["x-request-id"]


@pytest.mark.parametrize("bad", ["has space", "<script>alert(1)</script>", "x" * 101, "semi;colon", ""])
def test_malformed_request_id_is_replaced(client, bad):
    resp = client.get("/health", headers={"X-Request-ID": bad})
    assert GENERATED_ID.match(resp.headers["x-request-id"])
    assert resp.json()["meta"]["requestId"] == resp.headers["x-request-id"]


def test_error_responses_carry_the_request_id_too(client):
    resp = client.get(f"{API}/users", headers={"X-Request-ID": "trace-401"})
    assert_error(resp, 401)
    assert resp.json()["meta"]["requestId"] == "trace-401"


# Security headers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", f"{API}/users", f"{API}/openapi.json", f"{API}/no-such-thing"])
def test_security_headers_on_every_response(client, path):
    resp = client.get(path)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert "default-src 'none'" in resp.headers["content-security-policy"]


def test_no_hsts_over_plain_http(client):
    assert "strict-transport-security" not in client.get("/health").headers


def test_hsts_when_forwarded_proto_is_https(client):
    resp = client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert resp.headers["strict-transport-security"].startswith("max-age=31536000")


def test_hsts_when_scheme_is_https(api_app):
    from fastapi.testclient import TestClient

    with_tls = TestClient(api_app, base_url="https://testserver", client=("10.250.0.1", 443))
    assert "max-age=" in with_tls.get("/health").headers["strict-transport-security"]


# CORS ----------------------------------------------------------------------------------------------------


def test_cors_allows_configured_origin(client):
    origin = get_settings().cors_origins[0]
    resp = client.get("/health", headers={"Origin": origin})
    assert resp.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in resp.headers["access-control-expose-headers"].lower()


def test_cors_preflight_for_configured_origin(client):
    origin = get_settings().cors_origins[0]
    resp = client.options(
        f"{API}/users",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == origin
    assert "POST" in resp.headers["access-control-allow-methods"]


def test_cors_ignores_foreign_origin(client):
    resp = client.get("/health", headers={"Origin": "https://evil.example.net"})
    assert resp.status_code == 200
    assert "access-control-allow-origin" not in resp.headers
    preflight = client.options(
        f"{API}/users",
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


# OpenAPI and docs ----------------------------------------------------------------------------------------


def _resolve_refs(node, spec, seen=None):
    """Every $ref in the document points at something that exists."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            target = spec
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
        for value in node.values():
            _resolve_refs(value, spec)
    elif isinstance(node, list):
        for value in node:
            _resolve_refs(value, spec)


def test_openapi_document_lists_routes_and_bearer_scheme(client):
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    _resolve_refs(spec, spec)
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{user_id}", "patch"),
        ("/api/v1/teams/{team_id}", "delete"),
        ("/api/v1/roles", "post"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/tenant", "patch"),
        ("/api/v1/audit-logs", "get"),
        ("/api/v1/jobs/{job_id}", "get"),
        ("/health", "get"),
        ("/ready", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"].lower() == "bearer" for s in schemes.values())
    bearer_name = next(n for n, s in schemes.items() if s["type"] == "http")
    assert {bearer_name: []} in paths["/api/v1/users"]["get"]["security"]
    error_ref = paths["/api/v1/users"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert error_ref["$ref"].endswith("ErrorEnvelope")


def test_docs_are_served_offline_from_our_own_static_files(client):
    resp = client.get(f"{API}/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert scripts, "the docs page loads no script"
    for url in scripts + styles:
        assert url.startswith(f"{API}/docs-static/"), f"{url} is not served by us"
    assert "cdn" not in html.lower()
    assert "'self'" in resp.headers["content-security-policy"]
    for url in scripts:
        js = client.get(url)
        assert js.status_code == 200
        assert "javascript" in js.headers["content-type"]
        assert len(js.content) > 1000


# Bad input changes nothing -------------------------------------------------------------------------------


def test_malformed_json_is_400_validation_error_and_changes_nothing(client, shop_admin):
    before = row_counts()
    resp = client.post(
        f"{API}/teams",
        content=b'{"name": "Broken",',
        headers={**shop_admin, "Content-Type": "application/json"},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert "JSON" in error["message"]
    assert row_counts() == before


def test_wrong_types_are_400_naming_the_fields(client, shop_admin):
    before = row_counts()
    resp = client.post(
        f"{API}/users",
        headers=shop_admin,
        json={"email": "types@example.com", "firstName": ["A"], "lastName": "B", "teamId": "not-a-uuid"},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"firstName", "teamId"}
    assert "firstName" in error["message"] and "teamId" in error["message"]
    assert row_counts() == before


def test_wrong_query_types_are_400_naming_the_parameter(client, shop_admin):
    for query, field in [("page=abc", "page"), ("limit=1000", "limit"), ("page=0", "page")]:
        resp = client.get(f"{API}/users?{query}", headers=shop_admin)
        error = assert_error(resp, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field]


def test_unknown_fields_are_400_naming_them_and_change_nothing(client, shop_admin):
    before = row_counts()
    resp = client.post(
        f"{API}/teams", headers=shop_admin, json={"name": unique("Sneaky"), "isAdmin": True, "tenantId": "x"}
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"isAdmin", "tenantId"}
    assert all("unknown field" in d["message"] for d in error["details"])
    assert row_counts() == before


@pytest.fixture
def small_body_client(settings_env):
    """An app whose body limit is 512 bytes."""
    from api.main import create_app

    settings_env(CLIENTFORGE_MAX_BODY_BYTES="512")
    assert get_settings().max_body_bytes == 512
    return make_client(create_app())


def test_oversized_body_is_413_and_changes_nothing(small_body_client, shop_admin):
    headers = shop_admin
    before = row_counts()
    resp = small_body_client.post(f"{API}/teams", headers=headers, json={"name": "Big", "description": "x" * 1000})
    error = assert_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert "512" in error["message"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert row_counts() == before
    small = small_body_client.post(f"{API}/teams", headers=headers, json={"name": unique("Small")})
    assert small.status_code == 201


def test_oversized_streamed_body_without_length_is_413(small_body_client, shop_admin):
    headers = shop_admin
    before = row_counts()
    chunks = [b'{"name": "Streamed", "description": "', b"x" * 400, b"x" * 400, b'"}']
    resp = small_body_client.post(
        f"{API}/teams", headers={**headers, "Content-Type": "application/json"}, content=iter(chunks)
    )
    assert "content-length" not in resp.request.headers
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert row_counts() == before
