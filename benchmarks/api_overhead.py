"""What authentication and tenancy cost per request.

Runs one uvicorn server and measures, in the same run and at the same concurrency (32 connections, wrk):
`GET /health` (no auth, no database); an authenticated `GET /api/v1/auth/me` (token verified, session and
permission freshness checked in Redis, the transaction bound to the tenant under row-level security, the user
read through the ORM); and, as the tighter reference, a benchmark-only route on the same server that runs
the same user read and returns the same JSON with none of our layers (benchmarks/bare_app.py). Prints
p50/p95/p99 and requests/s of each, at 32 connections and at one (where the per-request cost is not hidden by
queueing), and what authentication + tenancy add at p50 against the target of 2 ms.

    .venv/bin/python benchmarks/api_overhead.py [--seconds 10] [--connections 32]

Rate limiting is switched off for the run (a benchmark would exhaust any plan's per-minute budget).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import api_server, services, wrk  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install wrk")

    with services() as env:
        from tests.factories import PASSWORD, create_tenant

        world = create_tenant(plan="enterprise")
        with api_server(env, {"CLIENTFORGE_RATE_LIMITS": "false"}, app="benchmarks.bare_app:app") as base:
            login = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"email": world.admin_email, "password": PASSWORD, "tenant": world.slug},
            )
            login.raise_for_status()
            token = login.json()["data"]["accessToken"]
            assert httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            raw_url = f"{base}/bench/raw-me/{world.admin_id}"
            assert httpx.get(raw_url).status_code == 200
            rows = []
            for conns in (args.connections, 1):
                wrk(f"{base}/api/v1/auth/me", token, 2, conns)  # warm-up
                health = wrk(f"{base}/health", None, args.seconds, conns)
                raw = wrk(raw_url, None, args.seconds, conns)
                me = wrk(f"{base}/api/v1/auth/me", token, args.seconds, conns)
                rows.append((conns, health, raw, me))

    print(f"\nAPI overhead of authentication + tenancy ({args.seconds}s per run, one uvicorn worker)")
    print(f"{'connections':>11} {'endpoint':<28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>9} {'errors':>7}")
    for conns, health, raw, me in rows:
        for name, r in (("/health", health), ("same read, no layers", raw), ("/api/v1/auth/me", me)):
            print(
                f"{conns:>11} {name:<28} {r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} {r['rps']:>9.0f} "
                f"{r['errors'] + r['non2xx']:>7}"
            )
        print(
            f"{conns:>11} {'auth + tenancy add':<28} {me['p50'] - raw['p50']:>8.2f} ms at p50 (over the bare read); "
            f"{me['p50'] - health['p50']:.2f} ms over /health; throughput {me['rps'] / raw['rps']:.2f}x the bare read"
        )
    _, health, raw, me = rows[-1]
    added = me["p50"] - raw["p50"]
    print(
        f"target: authentication + tenancy add <= 2 ms at p50 (one connection): {added:.2f} ms, "
        f"{'met' if added <= 2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
