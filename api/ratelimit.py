"""Rate limits in Redis with the `limits` library: per IP, per tenant by plan, and failed logins."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerMinute, parse, storage, strategies

from core.config import PLAN_RATE_LIMITS, get_settings
from core.errors import RateLimited
from core.redis import redis_url


@dataclass
class Window:
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(self.reset),
        }


@lru_cache
def _limiter() -> strategies.FixedWindowRateLimiter:
    url = redis_url()
    if url.startswith("unix://"):
        url = "redis+unix://" + url.removeprefix("unix://")
    return strategies.FixedWindowRateLimiter(storage.storage_from_string(url))


def reset_limiter() -> None:
    _limiter.cache_clear()


def _hit(item: RateLimitItem, *keys: str, what: str) -> Window:
    limiter = _limiter()
    allowed = limiter.hit(item, *keys)
    stats = limiter.get_window_stats(item, *keys)
    window = Window(item.amount, stats.remaining, int(stats.reset_time))
    if not allowed:
        retry = max(1, window.reset - int(time.time()))
        raise RateLimited(
            f"Rate limit exceeded for {what}: {item.amount} requests per "
            f"{item.multiples} {item.GRANULARITY.name}(s). Retry in {retry} s.",
            retry_after=retry,
            limit=item.amount,
            reset=window.reset,
        )
    return window


def hit_ip(ip: str) -> Window | None:
    if not get_settings().rate_limits_enabled:
        return None
    return _hit(parse(get_settings().rate_limit_per_ip), "ip", ip, what="this address")


def hit_tenant(tenant_id: str, plan: str) -> Window | None:
    if not get_settings().rate_limits_enabled:
        return None
    item = RateLimitItemPerMinute(PLAN_RATE_LIMITS.get(plan, PLAN_RATE_LIMITS["starter"]))
    return _hit(item, "tenant", tenant_id, what=f"your {plan} plan")


def check_login(ip: str) -> None:
    """Refuse a login attempt when this address already failed too often (successes are not counted)."""
    if not get_settings().rate_limits_enabled:
        return
    item = parse(get_settings().rate_limit_login)
    limiter = _limiter()
    if not limiter.test(item, "login", ip):
        stats = limiter.get_window_stats(item, "login", ip)
        retry = max(1, int(stats.reset_time) - int(time.time()))
        raise RateLimited(
            f"Too many failed logins from this address; retry in {retry} s.",
            retry_after=retry,
            limit=item.amount,
            reset=int(stats.reset_time),
        )


def record_failed_login(ip: str) -> None:
    if get_settings().rate_limits_enabled:
        _limiter().hit(parse(get_settings().rate_limit_login), "login", ip)
