"""The bare FastAPI baseline of `kiln bench`: the same work as the generated service, nothing else.

No middleware, no settings, no ORM: a JSON endpoint, and the generated service's list and
search queries run through an asyncpg pool (the search with the vector
`BENCH_VECTOR` and `BENCH_EF_SEARCH` candidates). It is served by the rendered project's own
interpreter and uvicorn, with the production server's options, so only the stack differs:

    python -m uvicorn baseline_app:app --app-dir kiln_tools/bench/scripts --loop uvloop \
        --http httptools --no-access-log --no-server-header

`DATABASE_URL` (a plain `postgresql://` URL) is the database the generated service migrated.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Query, Response

NOTES_PAGE = (
    "SELECT id, title, body, archived, word_count, created_at, updated_at FROM notes"
    " ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
)
NOTES_TAGS = (
    "SELECT note_tags.note_id, tags.name FROM note_tags JOIN tags ON tags.id = note_tags.tag_id"
    " WHERE note_tags.note_id = ANY($1::uuid[]) ORDER BY tags.name"
)
NOTES_COUNT = "SELECT count(*) FROM notes"
EF_SEARCH = "SELECT set_config('hnsw.ef_search', $1, true)"
NEAREST = (
    "SELECT id, title, body, embedded_at, embedding <=> $1::vector AS distance FROM documents"
    " WHERE embedding IS NOT NULL ORDER BY embedding <=> $1::vector LIMIT $2"
)
EMBEDDED_COUNT = "SELECT count(*) FROM documents WHERE embedding IS NOT NULL"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=5, max_size=15)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/api/v1/bench/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/notes")
async def list_notes(
    response: Response, limit: int = Query(20, le=100), offset: int = 0
) -> list[dict[str, Any]]:
    async with app.state.pool.acquire() as connection:
        rows = await connection.fetch(NOTES_PAGE, limit, offset)
        tags = await connection.fetch(NOTES_TAGS, [row["id"] for row in rows])
        total = await connection.fetchval(NOTES_COUNT)
    names: dict[Any, list[str]] = {}
    for tag in tags:
        names.setdefault(tag["note_id"], []).append(tag["name"])
    response.headers["X-Total-Count"] = str(total)
    return [{**dict(row), "tags": names.get(row["id"], [])} for row in rows]


@app.get("/api/v1/documents/search")
async def search(limit: int = 10) -> list[dict[str, Any]]:
    """The nearest documents to the vector the bench embedded with the project's own embedder."""
    async with app.state.pool.acquire() as connection, connection.transaction():
        await connection.execute(EF_SEARCH, os.environ["BENCH_EF_SEARCH"])
        rows = await connection.fetch(NEAREST, os.environ["BENCH_VECTOR"], limit)
        await connection.fetchval(EMBEDDED_COUNT)
    return [dict(row) for row in rows]
