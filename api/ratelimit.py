"""Rate limits in Redis with the `limits` library (its asyncio API, so checks run on the event loop without a
thread hop): per IP, per tenant by plan, and failed logins."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, parse, storage
from limits.aio import strategies

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


# Async Redis connections belong to the event loop that opened them: one limiter per loop.
_limiters: dict[int, strategies.FixedWindowRateLimiter] = {}


def _limiter() -> strategies.FixedWindowRateLimiter:
    key = id(asyncio.get_running_loop())
    limiter = _limiters.get(key)
    if limiter is None:
        url = redis_url()
        url = "async+redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else "async+" + url
        limiter = _limiters[key] = strategies.FixedWindowRateLimiter(
            storage.storage_from_string(url, implementation="redispy")
        )
    return limiter


def reset_limiter() -> None:
    _limiters.clear()


def _refusal(item: RateLimitItem, reset: int, what: str) -> RateLimited:
    retry = max(1, reset - int(time.time()))
    return RateLimited(
        f"Rate limit exceeded for {what}: {item.amount} requests per {item.multiples} "
        f"{item.GRANULARITY.name}(s). Retry in {retry} s.",
        retry_after=retry,
        limit=item.amount,
        reset=reset,
    )


async def _hit(item: RateLimitItem, *keys: str, what: str) -> Window:
    limiter = _limiter()
    allowed = await limiter.hit(item, *keys)
    stats = await limiter.get_window_stats(item, *keys)
    window = Window(item.amount, stats.remaining, int(stats.reset_time))
    if not allowed:
        raise _refusal(item, window.reset, what)
    return window


async def hit_ip(ip: str) -> Window | None:
    settings = get_settings()
    if not settings.rate_limits_enabled:
        return None
    return await _hit(parse(settings.rate_limit_per_ip), "ip", ip, what="this address")


async def hit_tenant(tenant_id: str, plan: str) -> Window | None:
    if not get_settings().rate_limits_enabled:
        return None
    item = RateLimitItemPerMinute(PLAN_RATE_LIMITS.get(plan, PLAN_RATE_LIMITS["starter"]))
    return await _hit(item, "tenant", tenant_id, what=f"your {plan} plan")


async def check_login(ip: str) -> None:
    """Refuse a login attempt when this address already failed too often (successes are not counted)."""
    settings = get_settings()
    if not settings.rate_limits_enabled:
        return
    item = parse(settings.rate_limit_login)
    limiter = _limiter()
    if not await limiter.test(item, "login", ip):
        stats = await limiter.get_window_stats(item, "login", ip)
        refusal = _refusal(item, int(stats.reset_time), "failed logins from this address")
        refusal.message = f"Too many failed logins from this address; retry in {refusal.retry_after} s."
        raise refusal


async def record_failed_login(ip: str) -> None:
    settings = get_settings()
    if settings.rate_limits_enabled:
        await _limiter().hit(parse(settings.rate_limit_login), "login", ip)
