"""The Redis client: sessions, rate limits, caches. Only what may be lost lives there."""

from __future__ import annotations

import asyncio
from functools import lru_cache

import redis
import redis.asyncio as aioredis

from core.config import get_settings


def redis_url() -> str:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set and no embedded Redis was started")
    return url


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(redis_url(), decode_responses=True, health_check_interval=30)


def reset_redis() -> None:
    get_redis.cache_clear()
    _async_clients.clear()


_async_clients: dict[int, aioredis.Redis] = {}


def get_async_redis() -> aioredis.Redis:
    """The asyncio client of the running event loop (connections cannot cross loops)."""
    key = id(asyncio.get_running_loop())
    client = _async_clients.get(key)
    if client is None:
        client = _async_clients[key] = aioredis.Redis.from_url(redis_url(), decode_responses=True)
    return client
