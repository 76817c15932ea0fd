from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api import metrics
from api.envelope import error_body, ok
from core.db import app_engine
from core.redis import get_redis

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict:
    return ok({"status": "ok"})


@router.get("/ready", summary="Readiness: PostgreSQL and Redis answer", responses={503: {"description": "Not ready"}})
def ready() -> JSONResponse:
    checks = {}
    try:
        with app_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:  # report, do not raise: this endpoint exists to say what is down
        checks["postgres"] = f"unavailable: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse(ok({"status": "ready", "checks": checks}))
    return JSONResponse(error_body("SERVICE_UNAVAILABLE", "Not ready", checks), status_code=503)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
