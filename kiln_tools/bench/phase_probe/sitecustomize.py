"""`kiln bench --phases`: where each request of a rendered service spends its time.

Python imports this file at start-up when its directory is on PYTHONPATH. With KILN_PHASES set
to a directory, it wraps a few library calls in the server process and writes one JSON line per
request: the wait from the parsed request to its task's start (`queued`), the rate limit, the
wait for a pooled connection, the statements, the session's close and the whole request, in
seconds. Every service process of the run writes its own file, so use it with a scenario that
has a single service side (`list`, `vector-search`). With KILN_PHASES_STOCK_POOL=1 the pool
uses SQLAlchemy's own asyncio queue instead of the generated `HandoffQueue`, to measure what
the fair pool changes. Never part of a render.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any

_phases: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "kiln_phases", default=None
)
_sink: list[IO[str]] = []


def _add(phase: str, seconds: float) -> None:
    phases = _phases.get()
    if phases is not None:
        phases[phase] = phases.get(phase, 0.0) + seconds


def _timed_async(owner: type, name: str, phase: str) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _add(phase, time.perf_counter() - start)

    setattr(owner, name, timed)


def _timed_sync(owner: type, name: str, phase: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _add(phase, time.perf_counter() - start)

    setattr(owner, name, timed)


def _write(phases: dict[str, float]) -> None:
    if not _sink:  # opened on the first request: the CLI's migration run writes nothing
        path = os.path.join(os.environ["KILN_PHASES"], f"{os.getpid()}.jsonl")
        _sink.append(open(path, "a", buffering=1))  # noqa: SIM115 - open for the process's life
    if "execute" in phases:
        phases["statements"] = phases.pop("execute") - phases.get("pool_wait", 0.0)
    _sink[0].write(json.dumps(phases) + "\n")


def _install() -> None:
    from limits.aio.strategies import MovingWindowRateLimiter
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.pool import QueuePool
    from sqlalchemy.util.queue import AsyncAdaptedQueue
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    cycle_init = RequestResponseCycle.__init__
    run_asgi = RequestResponseCycle.run_asgi

    def init(self: RequestResponseCycle, *args: Any, **kwargs: Any) -> None:
        cycle_init(self, *args, **kwargs)
        self.kiln_parsed_at = time.perf_counter()

    async def run(self: RequestResponseCycle, app: Any) -> None:
        start = time.perf_counter()
        phases = {"queued": start - self.kiln_parsed_at}
        _phases.set(phases)
        try:
            await run_asgi(self, app)
        finally:
            phases["request"] = time.perf_counter() - start
            _write(phases)

    RequestResponseCycle.__init__ = init
    RequestResponseCycle.run_asgi = run
    _timed_async(MovingWindowRateLimiter, "hit", "rate_limit")
    _timed_sync(QueuePool, "_do_get", "pool_wait")
    _timed_async(AsyncSession, "execute", "execute")  # the first one includes the pool wait
    _timed_async(AsyncSession, "close", "close")

    if os.environ.get("KILN_PHASES_STOCK_POOL") == "1":
        # The generated HandoffQueue gets SQLAlchemy's own get and put as it is defined. (Not a
        # wrapper around the pool's __init__: create_engine reads its signature.)
        def stock_behaviour(cls: type, **kwargs: Any) -> None:
            super(AsyncAdaptedQueue, cls).__init_subclass__(**kwargs)
            if cls.__name__ == "HandoffQueue":
                cls.get = AsyncAdaptedQueue.get
                cls.put_nowait = AsyncAdaptedQueue.put_nowait

        AsyncAdaptedQueue.__init_subclass__ = classmethod(stock_behaviour)


if os.environ.get("KILN_PHASES"):
    _install()
