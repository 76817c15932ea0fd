"""Prometheus metrics for the API: requests, latency, errors."""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("clientforge_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "clientforge_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("clientforge_http_errors_total", "HTTP responses with status >= 500", ["route"])


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
