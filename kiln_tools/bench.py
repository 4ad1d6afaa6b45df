"""Throughput of rendered services, side by side in one run (these machines are noisy).

Each service runs its production server (one uvicorn process) on the machine's PostgreSQL and
Redis; a small keep-alive HTTP client drives it from this process. Rounds alternate between the
services, so a slow spell of the machine costs each side alike, and the median round counts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from kiln_tools.matrix import Combination, default_combination, dimensions
from kiln_tools.steps import Workshop, running_service, sync

CONNECTIONS = 16


@dataclass
class Side:
    label: str
    url: str
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


async def _drive(host: str, port: int, path: str, seconds: float) -> int:
    """Requests answered in `seconds` over CONNECTIONS keep-alive connections."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    deadline = time.perf_counter() + seconds
    answered = 0

    async def connection() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                answered += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return answered


def measure(sides: list[Side], path: str, *, rounds: int, seconds: float) -> None:
    for side in sides:  # warm-up: routes built, connections pooled, caches filled
        _rate(side, path, 1.0)
    for _ in range(rounds):
        for side in sides:
            side.rates.append(_rate(side, path, seconds))


def _rate(side: Side, path: str, seconds: float) -> float:
    host, port = side.url.removeprefix("http://").split(":")
    started = time.perf_counter()
    answered = asyncio.run(_drive(host, int(port), path, seconds))
    return answered / (time.perf_counter() - started)


def observability_cost(*, rounds: int, seconds: float) -> tuple[Side, Side]:
    """`GET /health/live` of the default render, with `use_observability` on and off."""
    dims = dimensions()
    on = default_combination(dims)
    off = Combination(
        on.id.replace("-observability", "-noobservability"),
        {**on.answers, "use_observability": False},
    )
    workshop = Workshop()
    try:
        builds = [workshop.build(combination, dims) for combination in (on, off)]
        for build in builds:
            sync(build)
        with (
            running_service(builds[0].project, builds[0].package, "kiln_bench_on") as on_url,
            running_service(builds[1].project, builds[1].package, "kiln_bench_off") as off_url,
        ):
            sides = [Side("observability on", on_url), Side("observability off", off_url)]
            measure(sides, "/health/live", rounds=rounds, seconds=seconds)
    finally:
        workshop.close()
    return sides[0], sides[1]
