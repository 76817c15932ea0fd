"""The real API plus benchmark-only routes that answer what a real route answers with none of our layers.

`/bench/raw-me/{user_id}` (benchmarks/api_overhead.py): the same user read and the same JSON as
`/api/v1/auth/me`, with no authentication, no tenancy, no ORM (psycopg on the owner connection). It is served
by the real app, behind the platform middleware, so comparing the two isolates what authentication and tenancy
cost.

`/bench/bare/contacts/{tenant_id}/{user_id}` (benchmarks/records.py): the contacts list page that
`GET /api/v1/contacts?leadStatus=new,contacted&leadScore[gte]=50&sort=-leadScore,lastName&limit=50` answers
(with `?cursor=`, its first cursor page), as the minimum that produces it: a plain FastAPI app (no middleware
of ours: a dispatcher in front sends `/bench/bare/` to it), a psycopg pool, the statements copied from what the
real endpoint sends (SQLAlchemy echo) and the JSON built straight from the rows. It runs as the app role
under row-level security, in one transaction that first binds the tenant and request context with the same
`set_config` statement as the real endpoint; no authentication, no permission check, no rate limit, no query
parsing, no ORM, no pydantic models (pydantic-core's encoder writes the JSON, as the real list does).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Response
from fastapi.concurrency import run_in_threadpool
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic_core import to_json

from api.main import create_app
from core.config import get_settings
from core.db import app_url, libpq_dsn, owner_url

real = create_app()
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


@real.get("/bench/raw-me/{user_id}", include_in_schema=False)
async def raw_me(user_id: str) -> dict:
    user = await run_in_threadpool(_read, user_id)
    return {"success": True, "data": {"user": user}, "meta": {"timestamp": datetime.now(UTC).isoformat()}}


# The contacts list page, bare --------------------------------------------------------------------------------

bare = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
# As many connections as the real app has worker threads to use them.
_app_pool = ConnectionPool(
    libpq_dsn(app_url()), min_size=get_settings().api_threads, max_size=get_settings().api_threads, open=True
)

# The statements of the real endpoint, as SQLAlchemy sends them (parameters positional here).
SET_CONTEXT = (
    "SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true),"
    " set_config('app.api_key_id', %s, true), set_config('app.request_id', %s, true),"
    " set_config('app.ip', %s, true), set_config('app.user_agent', %s, true), set_config('app.via', %s, true)"
)
COLUMNS = (
    'contacts.id AS id, contacts.first_name AS "firstName", contacts.last_name AS "lastName", '
    "contacts.email AS email, contacts.phone AS phone, contacts.mobile AS mobile, contacts.title AS title, "
    'contacts.department AS department, contacts.company AS company, contacts.lead_source AS "leadSource", '
    'contacts.lead_status AS "leadStatus", contacts.lifecycle_stage AS "lifecycleStage", '
    'contacts.lead_score AS "leadScore", contacts.tags AS tags, contacts.address_street AS "addressStreet", '
    'contacts.address_city AS "addressCity", contacts.address_state AS "addressState", '
    'contacts.address_postal_code AS "addressPostalCode", contacts.address_country AS "addressCountry", '
    'contacts.social_linkedin AS "socialLinkedin", contacts.social_twitter AS "socialTwitter", '
    'contacts.social_facebook AS "socialFacebook", contacts.notes AS notes, contacts.is_active AS "isActive", '
    'contacts.owner_id AS "ownerId", contacts.account_id AS "accountId", '
    'contacts.last_contacted_at AS "lastContactedAt", contacts.created_at AS "createdAt", '
    'contacts.updated_at AS "updatedAt", contacts.version AS version'
)
WHERE = (
    "WHERE contacts.tenant_id = %s::UUID AND contacts.deleted_at IS NULL "
    "AND contacts.lead_status IN (%s::VARCHAR, %s::VARCHAR) AND contacts.lead_score >= %s::INTEGER"
)
COUNT = f"SELECT count(*) AS count_1 \nFROM (SELECT {COLUMNS} \nFROM contacts \n{WHERE}) AS anon_1"
ORDER = "ORDER BY contacts.lead_score DESC, contacts.last_name ASC, contacts.id ASC"
PAGE = f"SELECT {COLUMNS} \nFROM contacts \n{WHERE} {ORDER} \n LIMIT %s::INTEGER OFFSET %s::INTEGER"
CURSOR_PAGE = f"SELECT {COLUMNS} \nFROM contacts \n{WHERE} {ORDER} \n LIMIT %s::INTEGER"
LIMIT = 50
FILTER = ("new", "contacted", 50)
# Custom field values of the page: SQLAlchemy expands `IN` into one parameter per id.
VALUES = (
    "SELECT custom_field_values.entity_id, custom_fields.field_name, custom_fields.field_type, "
    "custom_field_values.value_text, custom_field_values.value_number, custom_field_values.value_date, "
    "custom_field_values.value_bool, custom_field_values.value_multi \n"
    "FROM custom_field_values JOIN custom_fields ON custom_fields.id = custom_field_values.custom_field_id \n"
    "WHERE custom_field_values.tenant_id = %s::UUID AND custom_fields.tenant_id = %s::UUID "
    "AND custom_field_values.entity_type = %s::VARCHAR AND custom_field_values.entity_id IN ({ids}) "
    "ORDER BY custom_fields.display_order, custom_fields.field_name"
)


def _value(field_type: str, row: tuple) -> Any:
    text, number, day, flag, multi = row[3:]
    if field_type in ("text", "select"):
        return text
    if field_type == "number":
        if number is None:
            return None
        return int(number) if number == Decimal(number).to_integral_value() else float(number)
    if field_type == "date":
        return day.isoformat() if day is not None else None
    if field_type == "boolean":
        return flag
    return list(multi or [])


def _contacts_page(tenant_id: str, user_id: str, request_id: str, ip: str, cursor: bool) -> dict[str, Any]:
    with _app_pool.connection() as conn:
        cur = conn.cursor()
        cur.execute(SET_CONTEXT, (tenant_id, user_id, "", request_id, ip, "", "api"))
        total = None
        if not cursor:
            total = cur.execute(COUNT, (tenant_id, *FILTER)).fetchone()[0]  # type: ignore[index]
            cur.execute(PAGE, (tenant_id, *FILTER, LIMIT, 0))
        else:
            cur.execute(CURSOR_PAGE, (tenant_id, *FILTER, LIMIT + 1))
        names = [c.name for c in cur.description]  # type: ignore[union-attr]
        rows = cur.fetchall()
        more = cursor and len(rows) > LIMIT
        rows = rows[:LIMIT]
        items = [dict(zip(names, row, strict=True)) for row in rows]
        values: dict[Any, dict[str, Any]] = {item["id"]: {} for item in items}
        if items:
            ids = list(values)
            sql = VALUES.format(ids=", ".join(["%s::UUID"] * len(ids)))
            for row in cur.execute(sql, (tenant_id, tenant_id, "contacts", *ids)):
                values[row[0]][row[1]] = _value(row[2], row)
    data = []
    for item in items:  # the read schema's order: customFields before createdAt
        updated, version = item.pop("updatedAt"), item.pop("version")
        created = item.pop("createdAt")
        data.append({**item, "customFields": values[item["id"]], "createdAt": created, "updatedAt": updated,
                     "version": version})  # fmt: skip
    meta = {"timestamp": datetime.now(UTC).isoformat(), "requestId": request_id}
    if cursor:
        next_cursor = None
        if more:
            last = items[-1]
            next_cursor = _cursor([last["leadScore"], last["lastName"], last["id"]])
        pagination = {"limit": LIMIT, "nextCursor": next_cursor, "hasNext": next_cursor is not None}
    else:
        pages = -(-total // LIMIT)  # type: ignore[operator]
        pagination = {"page": 1, "limit": LIMIT, "total": total, "totalPages": pages, "hasNext": 1 < pages,
                      "hasPrev": False}  # fmt: skip
    return {"success": True, "data": data, "pagination": pagination, "meta": meta}


def _cursor(values: list[Any]) -> str:
    import base64
    import json

    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@bare.get("/bench/bare/contacts/{tenant_id}/{user_id}")
async def bare_contacts(tenant_id: str, user_id: str, cursor: str | None = None) -> Response:
    request_id = f"req_{secrets.token_hex(8)}"
    body = await run_in_threadpool(_contacts_page, tenant_id, user_id, request_id, "127.0.0.1", cursor is not None)
    return Response(to_json(body), media_type="application/json")


async def app(scope: dict, receive: Any, send: Any) -> None:
    """`/bench/bare/` to the bare app; everything else (lifespan included) to the real one."""
    if scope["type"] == "http" and scope["path"].startswith("/bench/bare/"):
        await bare(scope, receive, send)
    else:
        await real(scope, receive, send)
