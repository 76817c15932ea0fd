"""The real API plus one benchmark-only route: the same user read and the same JSON as `/api/v1/auth/me`,
with none of our layers (no authentication, no tenancy, no ORM; psycopg on the owner connection).
Comparing the two isolates what authentication and tenancy cost."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.concurrency import run_in_threadpool
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from api.main import create_app
from core.db import libpq_dsn, owner_url

app = create_app()
_pool = ConnectionPool(libpq_dsn(owner_url()), min_size=1, max_size=4, open=True)

_SQL = """
SELECT u.id::text, u.email, u.first_name, u.last_name, r.name AS role, u.team_id::text, u.timezone, u.is_active,
       u.is_verified, u.last_login_at, u.created_at, u.updated_at, u.version
  FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = %s
"""


def _read(user_id: str) -> dict:
    with _pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_SQL, (user_id,)).fetchone()
    assert row is not None
    for key in ("last_login_at", "created_at", "updated_at"):
        row[key] = row[key] and row[key].isoformat()
    return row


@app.get("/bench/raw-me/{user_id}", include_in_schema=False)
async def raw_me(user_id: str) -> dict:
    user = await run_in_threadpool(_read, user_id)
    return {"success": True, "data": {"user": user}, "meta": {"timestamp": datetime.now(UTC).isoformat()}}
