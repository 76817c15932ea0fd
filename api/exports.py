"""`GET /<records>/export`: a record list as a CSV or XLSX download, streamed (see core/records/export.py).

Each record router declares one route, before its `/{id}` routes, that hands `export_response` the actor, its
`RecordExport` and the `ExportQuery`. The route is a plain `def`, so the export's checks and first query run
in a worker thread before the response exists: a bad filter is a 400 envelope, never a broken 200. The body
then comes from worker threads, one chunk at a time, and the export is closed (its session released, its
temporary file deleted, its event recorded) however the response ends, the client hanging up included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.deps import requires
from api.envelope import error_responses
from core.actor import Actor
from core.records import export
from core.records.export import MEDIA_TYPES, FileFormat, RecordExport


@dataclass(frozen=True)
class ExportRequest:
    file_format: FileFormat
    params: dict[str, list[str]]  # the list query: filters, sort, fields, search
    headers_from: Response  # the request's sub-response, where dependencies set headers (the rate-limit window)


def export_query(
    request: Request,
    response: Response,
    file_format: Annotated[
        Literal["csv", "xlsx"], Query(alias="format", description="`csv` (UTF-8 with BOM) or `xlsx`.")
    ] = "csv",
    sort: Annotated[str | None, Query(description="As the list: e.g. `-createdAt,lastName`.")] = None,
    fields: Annotated[str | None, Query(description="Only these columns (and `id`), e.g. `id,email`.")] = None,
    search: Annotated[str | None, Query(max_length=200, description="As the list: words, the last a prefix.")] = None,
) -> ExportRequest:
    """Every query parameter but `format` (filters included), as name -> values."""
    params = {key: request.query_params.getlist(key) for key in request.query_params.keys() if key != "format"}
    return ExportRequest(file_format=file_format, params=params, headers_from=response)


ExportQuery = Annotated[ExportRequest, Depends(export_query)]

EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment (`Content-Disposition`), streamed",
        "content": {
            MEDIA_TYPES["csv"].split(";")[0]: {"schema": {"type": "string"}},
            MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _from_threads(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
        if chunk:
            yield chunk


class ExportResponse(StreamingResponse):
    """A started export streamed as a download; the export is closed whatever ends the response."""

    def __init__(self, started: export.ExportFile, headers_from: Response | None = None) -> None:
        self._chunks = started.chunks
        super().__init__(
            _from_threads(started.chunks),
            media_type=started.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{started.filename}"',
                "Cache-Control": "no-store",
            },
        )
        if headers_from is not None:  # FastAPI adds them only to responses it builds itself
            self.headers.raw.extend(headers_from.headers.raw)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self._chunks.close)


def export_options(resource: str) -> dict[str, Any]:
    """The route options of `GET /<resource>/export`: both permissions, the file responses for OpenAPI."""
    return {
        "status_code": 200,
        "response_model": None,
        "response_class": ExportResponse,
        "dependencies": [requires(resource, "read"), requires(resource, "export")],
        "responses": {**error_responses(400, 401, 403), **EXPORT_DOC},
    }


def export_response(actor: Actor, source: RecordExport, query: ExportRequest) -> ExportResponse:
    """Start the export (its errors raise here, before the response) and stream it. Call from a sync route."""
    started = export.start(actor, source, query.params, file_format=query.file_format)
    return ExportResponse(started, query.headers_from)
