"""One error hierarchy for every entry point; the API maps codes to HTTP statuses once, pages show messages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure. `code` is stable for clients; `message` says what to fix."""

    code = "ERROR"
    status = 400

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    status = 400


class AuthenticationFailed(DomainError):
    code = "UNAUTHENTICATED"
    status = 401


class AccountLocked(DomainError):
    code = "ACCOUNT_LOCKED"
    status = 403


class PermissionDenied(DomainError):
    code = "FORBIDDEN"
    status = 403


class PlanLimitReached(DomainError):
    code = "PLAN_LIMIT_REACHED"
    status = 403


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409


class RateLimited(DomainError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429

    def __init__(
        self, message: str, *, retry_after: int, limit: int, reset: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
        self.limit = limit
        self.reset = reset


class ServiceUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
