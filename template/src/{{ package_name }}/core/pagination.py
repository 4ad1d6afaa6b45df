"""Limit/offset pagination with `X-Total-Count` and RFC 8288 `Link` headers (B03)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]


def set_pagination_headers(request: Request, response: Response, page: Page, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)
    last_offset = max(0, (total - 1) // page.limit * page.limit)
    links = {"first": 0, "last": last_offset}
    if page.offset > 0:
        links["prev"] = max(0, page.offset - page.limit)
    if page.offset + page.limit < total:
        links["next"] = page.offset + page.limit
    response.headers["Link"] = ", ".join(
        f'<{request.url.include_query_params(limit=page.limit, offset=offset)}>; rel="{rel}"'
        for rel, offset in links.items()
    )
