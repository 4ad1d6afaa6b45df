"""The wrk driver: one side's rounds of load from LOAD_CORE, and what each round measured.

wrk runs the Lua of `scripts/`: `report.lua` prints its summary as JSON, `request.lua` turns
a side's requests into POSTs with a body when the side asks for them (WRK_METHOD, WRK_BODY).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
LUA_SCRIPTS = ("report.lua", "request.lua")
LOAD_CORE = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    rate: float  # requests per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # server CPU time per request


@dataclass
class Side:
    """One server under load, at one path: what wrk sends it, and the rounds it measured."""

    label: str
    url: str
    pid: int
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    rounds: list[Round] = field(default_factory=list)

    def median(self, metric: Callable[[Round], float]) -> float:
        return statistics.median(metric(one) for one in self.rounds)

    @property
    def errors(self) -> int:
        return sum(one.errors for one in self.rounds)


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("kiln bench needs wrk: apt-get install wrk")
    return found


def write_script(destination: Path) -> Path:
    """wrk's script, the Lua files of `scripts/` one after the other, at `destination`."""
    destination.write_text("".join((SCRIPTS / name).read_text() for name in LUA_SCRIPTS))
    return destination


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line, counted from 1.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wrk(side: Side, *, seconds: int, connections: int, script: Path) -> Round:
    url = side.url + side.path
    command = ["taskset", "-c", LOAD_CORE, "wrk", "--latency", "-t1", f"-c{connections}"]
    command += [f"-d{seconds}s", "-s", str(script), url]
    for name, value in side.headers.items():
        command += ["-H", f"{name}: {value}"]
    before = server_cpu_seconds(side.pid)
    environment = {**os.environ, "WRK_METHOD": side.method, "WRK_BODY": side.body or ""}
    finished = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    assert finished.returncode == 0, f"{' '.join(command)}: {finished.stderr}"
    output = finished.stdout
    cpu = server_cpu_seconds(side.pid) - before
    report = json.loads(output.strip().splitlines()[-1])
    requests = max(report["requests"], 1)
    return Round(
        rate=report["requests"] / report["seconds"],
        p50_ms=report["p50"] / 1000,
        p95_ms=report["p95"] / 1000,
        p99_ms=report["p99"] / 1000,
        errors=report["non_2xx"] + report["socket_errors"],
        cpu_us=cpu / requests * 1e6,
    )


def measure(
    sides: Sequence[Side], *, rounds: int, seconds: int, connections: int, script: Path
) -> None:
    """A warm-up round each, then `rounds` rounds alternating between the sides."""
    for side in sides:
        wrk(side, seconds=1, connections=connections, script=script)
    for _ in range(rounds):
        for side in sides:
            side.rounds.append(wrk(side, seconds=seconds, connections=connections, script=script))
