"""List endpoints of record types: the query parameters they document and the page they answer with.

Filters are dynamic (`leadStatus=new,qualified`, `leadScore[gte]=50`, `cf.tier=gold`), so the service reads
every query parameter; the reserved ones are declared here for the OpenAPI document. An offset page carries
`pagination{page, limit, total, totalPages, hasNext, hasPrev}`; a cursor page (`cursor=`, empty to start)
carries `pagination{limit, nextCursor, hasNext}` and no total.

A page answers as ready JSON bytes (`list_response`): a dict returned by a route would first be walked value by
value by FastAPI's `jsonable_encoder`, on the event loop, which costs more than everything else a list page does
in Python. The items are JSON-ready already, so nothing is lost by skipping it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, create_model
from pydantic.alias_generators import to_camel
from pydantic_core import to_json

from api.envelope import CursorPagination, Meta, Pagination, cursor_paged, paged
from core.records.listing import RecordPage

T = TypeVar("T")

# The request's sub-response, where dependencies put headers (the rate-limit window); `list_params` records it
# so that `list_response` can carry those headers, as FastAPI does for the routes that return a dict.
_headers_from: ContextVar[Response | None] = ContextVar("clientforge_list_headers_from", default=None)


async def list_params(
    request: Request,
    response: Response,
    page: Annotated[int | None, Query(ge=1, le=100_000, description="Offset pages: the page number.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100, description="Items per page (default 20).")] = None,
    cursor: Annotated[
        str | None, Query(description="Keyset pages, stable under inserts: empty to start, then `nextCursor`.")
    ] = None,
    sort: Annotated[str | None, Query(description="e.g. `-createdAt,lastName` (`-` descending).")] = None,
    fields: Annotated[str | None, Query(description="Only these fields in each item, e.g. `id,email`.")] = None,
    search: Annotated[str | None, Query(max_length=200, description="Words, the last as a prefix.")] = None,
) -> dict[str, list[str]]:
    """Every query parameter (filters included), as name -> values. (On the event loop: it does no I/O, and
    the context variable it sets must reach the route.)"""
    _headers_from.set(response)
    return {key: request.query_params.getlist(key) for key in request.query_params.keys()}


ListParams = Annotated[dict[str, list[str]], Depends(list_params)]


def list_response(result: RecordPage) -> Response:
    """The page in the envelope, as the JSON response itself (the same bytes FastAPI would send for the dict),
    with the headers the request's dependencies set."""
    if result.cursor:
        body = cursor_paged(result.items, limit=result.limit, next_cursor=result.next_cursor)
    else:
        body = paged(result.items, page=result.page, limit=result.limit, total=result.total or 0)
    response = Response(to_json(body), media_type="application/json")
    dependencies = _headers_from.get()
    if dependencies is not None:
        response.headers.raw.extend(dependencies.headers.raw)
    return response


class ListEnvelope(BaseModel, Generic[T]):
    """A list page (OpenAPI): offset or cursor pagination; items hold only the `fields=` asked for."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    success: bool = True
    data: list[T]
    pagination: Pagination | CursorPagination
    meta: Meta


def partial_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """`model` with every field optional: a list item when `fields=` selects some of them."""
    optional: dict[str, Any] = {
        field_name: (info.annotation | None, None)  # type: ignore[operator]
        for field_name, info in model.model_fields.items()
    }
    return create_model(name, __base__=model, **optional)


def list_doc(item: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    """The 200 response of a list route, for `responses=` (the route returns the dict unvalidated)."""
    return {200: {"model": ListEnvelope[item], "description": description}}  # type: ignore[valid-type]
