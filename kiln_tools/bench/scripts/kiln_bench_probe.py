"""`kiln bench`'s probe routes, mounted through the app factory's `features` hook.

Never part of a render: the bench copies this module beside its copy of a render (with the
render's package in place of `kiln_demo`, the package of every render it makes) and puts that
folder on PYTHONPATH. Two features wrap the service's own, in the order `create_app` mounts
features under /api/v1:

- "bench", first: `GET /api/v1/bench/ping`, a trivial JSON endpoint through the whole stack;
- "bench-last", last: `GET /api/v1/bench-last/ping`, the same after every route of the API
  (the pair measures what routing costs).

Both document the API's error responses and sit behind its rate limit like any other route.

    python -P -m kiln_bench_probe --port PORT

serves `create_app` below on the production server's own configuration (`core/server.py`,
as `<package> serve` builds it), with `create_app` in place of the service's factory.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from kiln_demo import main
from kiln_demo.core.errors import ERROR_RESPONSES
from kiln_demo.core.features import Feature
from kiln_demo.features import FEATURES

Routers = Sequence[tuple[APIRouter, dict[int | str, dict[str, Any]]]]

first_router = APIRouter(prefix="/bench", tags=["bench"])
last_router = APIRouter(prefix="/bench-last", tags=["bench"])


@first_router.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@last_router.get("/ping")
async def ping_last() -> dict[str, str]:
    return {"status": "ok"}


def first_routers() -> Routers:
    return [(first_router, ERROR_RESPONSES)]


def last_routers() -> Routers:
    return [(last_router, ERROR_RESPONSES)]


first = Feature(name="bench", routers=first_routers)
last = Feature(name="bench-last", routers=last_routers)


def create_app() -> FastAPI:
    """The service's app, with the probe routes before and after every feature's."""
    return main.create_app(features=[first, *FEATURES, last])


def serve(port: int) -> None:
    """One process of the production server on 127.0.0.1, serving `create_app`."""
    import uvicorn
    from kiln_demo.core.server import uvicorn_config
    from kiln_demo.features import get_settings

    config = uvicorn_config(get_settings(), host="127.0.0.1", port=port, workers=1)
    assert config.factory, "the production server no longer builds its app from a factory"
    config.app = create_app
    uvicorn.Server(config).run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The service with kiln bench's probe routes.")
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
