"""What only the `--defaults` render must also show: it works on a bare machine.

Its matrix case (tests/test_matrix.py) runs lint, types, imports, migrations, the production boot
and its suite on the machine's PostgreSQL. Here a render of the same answers proves the README's
commands with no database and no Redis configured (embedded PostgreSQL and Redis): a newcomer's
first hour, from `dev` and two workers to a job and Ctrl-C in each terminal, and the suite; that
nothing they started outlives them; the lock file, and production's refusal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kiln_tools.matrix import default_combination_apart, dimensions
from kiln_tools.steps import Workshop, sync
from kiln_tools.tooling import (
    free_port,
    project_environment,
    run,
    start_server,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow
PACKAGE = "kiln_demo"


@pytest.fixture(scope="module")
def project(workshop: Workshop) -> Path:
    """The `--defaults` render, in a folder of its own: the matrix checks the same combination
    meanwhile."""
    build = workshop.build(default_combination_apart(), dimensions())
    sync(build)
    return build.project


def test_the_lock_file_was_generated_at_copy_time(project: Path) -> None:
    assert (project / "uv.lock").is_file()
    run(project, "uv", "lock", "--check")


def test_the_generated_suite_passes_with_its_coverage_gate_on_embedded_services(
    project: Path,
) -> None:
    # No DATABASE_URL, no REDIS_URL: the suite starts its own servers, as on a bare machine.
    try:
        output = run(project, "uv", "run", "pytest", "-q", "-p", "no:cacheprovider").stdout
    except AssertionError as failure:
        # Whatever it left running is reported too, and stopped before the next test.
        failure.add_note(leftovers_stopped(project))
        raise
    assert "Required test coverage of 85" in output
    assert " passed" in output
    assert " failed" not in output
    # Its embedded PostgreSQL and Redis, and any worker it started, run in sessions of their
    # own: they must stop with it.
    assert_nothing_left_inside(project)


def test_production_refuses_insecure_settings_at_boot(project: Path) -> None:
    server = start_server(
        project,
        [str(project / ".venv/bin" / PACKAGE), "serve", "--port", str(free_port())],
        {"ENVIRONMENT": "production", "SECRET_KEY": "short", "DEBUG": "true"},
    )
    output = server.communicate(timeout=60)[0]
    assert server.returncode != 0
    for problem in ("SECRET_KEY", "DEBUG is on", "no database configured", "no Redis configured"):
        assert problem in output


# What would point a command at a server instead of the embedded ones, or move the worker's
# metrics off their default port.
SERVICE_SETTINGS = ("DATABASE_URL", "DB_HOST", "REDIS_URL", "BROKER_URL", "WORKER_METRICS_PORT")
PASSWORD = "Correct-Horse-42-battery"  # noqa: S105 - a test account's
STOP_SECONDS = 30


def test_a_newcomers_first_hour_on_a_bare_machine(project: Path, tmp_path: Path) -> None:
    """`dev` and two workers in three terminals, on the embedded PostgreSQL and Redis that `dev`
    starts; a job through the API; then Ctrl-C in each terminal stops everything."""
    readme = (project / "README.md").read_text()
    for command in (f"uv run {PACKAGE} dev", f"uv run {PACKAGE} worker", "uv run pytest"):
        assert command in readme
    assert_no_services_configured(project)
    # A bare machine: nothing of this project is running yet.
    assert not inside(project), leftovers_stopped(project)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    terminals: dict[str, subprocess.Popen[str]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("dev", "worker 1", "worker 2")}
    try:
        terminals["dev"] = start_server(
            project, ["uv", "run", PACKAGE, "dev", "--port", str(port)], log=logs["dev"]
        )
        status, body = wait_until_healthy(f"{base}/health/ready", seconds=90)
        assert status == 200, f"{body!r}\n{output(logs)}"
        # Every dependency is up, the embedded Redis included; not merely "degraded".
        assert json.loads(body)["status"] == "ok", body
        banner = logs["dev"].read_text()
        assert f"{base}/docs" in banner, banner
        assert re.search(r"^\s*PostgreSQL\s.*\bembedded\b", banner, re.MULTILINE), banner
        assert re.search(r"^\s*Redis\s.*\bembedded\b", banner, re.MULTILINE), banner
        assert f"uv run {PACKAGE} worker" in banner, banner

        for name in ("worker 1", "worker 2"):
            terminals[name] = start_server(
                project, ["uv", "run", PACKAGE, "worker"], log=logs[name]
            )
        for name in ("worker 1", "worker 2"):
            wait_for_log(terminals[name], logs[name], "Worker process is ready for action")

        # A new address each time: `.devdata` keeps the accounts of any earlier run.
        token = sign_up(f"{base}/api/v1", f"newcomer-{uuid.uuid4().hex[:8]}@example.com")
        status, job = call(
            f"{base}/api/v1/jobs",
            json_body={"name": "reindex_note_words", "payload": {"batch_size": 100}},
            token=token,
        )
        assert status in (201, 202), f"{status} {job}"
        finished = wait_for_job(f"{base}/api/v1/jobs/{job['id']}", token)
        assert finished.get("status") == "succeeded", f"{finished}\n{output(logs)}"

        for name, process in terminals.items():
            assert process.poll() is None, f"{name} exited ({process.returncode})\n{output(logs)}"
        # The workers found the servers `dev` started, rather than starting their own.
        running = inside(project).values()
        postgres = [command for command in running if re.search(r"/postgres -D ", command)]
        redis = [command for command in running if "/valkey-server " in command]
        assert len(postgres) == len(redis) == 1, "\n".join(running)
        # Both workers default to WORKER_METRICS_PORT; the second serves its metrics elsewhere
        # (and both do, when something else on the machine holds the port).
        workers = [logs[name].read_text() for name in ("worker 1", "worker 2")]
        assert any("worker_metrics_port_in_use" in log for log in workers), output(logs)

        # Ctrl-C in each terminal; in worker 2's, `uv run` passes the signal on once more.
        stopped_at = {name: ctrl_c(process) for name, process in terminals.items()}
        time.sleep(0.2)
        ctrl_c(terminals["worker 2"])
        times = wait_for_groups(terminals, stopped_at, seconds=STOP_SECONDS)
        print(
            "\nTime to stop after Ctrl-C: "
            + ", ".join(f"{name} {times[name]:.1f} s" for name in terminals)
            + " (worker 2: Ctrl-C twice, 0.2 s apart)"
        )
        late = {name: seconds for name, seconds in times.items() if seconds > STOP_SECONDS}
        assert not late, f"still running {STOP_SECONDS} s after Ctrl-C: {late}\n{output(logs)}"
        # The last one out stops the embedded PostgreSQL and Redis (sessions of their own).
        assert_nothing_left_inside(project, context=output(logs))
    finally:
        for process in terminals.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        kill_everything_inside(project)


def assert_no_services_configured(project: Path) -> None:
    """Neither the environment the commands get nor the project's `.env` names a server."""
    environment = project_environment()
    leaked = [name for name in SERVICE_SETTINGS if name in environment]
    assert not leaked, f"set in the environment: {leaked}"
    names = "|".join(SERVICE_SETTINGS)
    dotenv = (project / ".env").read_text()
    assert not re.search(rf"^\s*(export\s+)?({names})\s*=", dotenv, re.MULTILINE), dotenv


def call(
    url: str,
    *,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    token: str | None = None,
) -> tuple[int, Any]:
    """One request to the API on loopback; its status and its JSON body (or text)."""
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def sign_up(api: str, email: str) -> str:
    """Register, sign in; the access token."""
    status, user = call(f"{api}/auth/register", json_body={"email": email, "password": PASSWORD})
    assert status == 201, f"{status} {user}"
    status, tokens = call(f"{api}/auth/token", form={"username": email, "password": PASSWORD})
    assert status == 200, f"{status} {tokens}"
    token: str = tokens["access_token"]
    return token


def wait_for_job(url: str, token: str) -> dict[str, Any]:
    """The job once it has finished, or as it last was after a minute."""
    deadline = time.monotonic() + 60
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = call(url, token=token)
        # Once a second, within the API's default rate limit (120 a minute); 429: ask again later.
        assert status in (200, 429), f"{status} {body}"
        if status == 200:
            job = body
            if job["status"] in ("succeeded", "failed"):
                break
        time.sleep(1)
    return job


def wait_for_log(
    process: subprocess.Popen[str], log: Path, text: str, *, seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert process.poll() is None, f"exited ({process.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} after {seconds} s:\n{log.read_text()}"
        time.sleep(0.2)


def ctrl_c(process: subprocess.Popen[str]) -> float:
    """What Ctrl-C does in a terminal: SIGINT to its foreground process group."""
    os.killpg(process.pid, signal.SIGINT)
    return time.monotonic()


def wait_for_groups(
    terminals: Mapping[str, subprocess.Popen[str]],
    since: Mapping[str, float],
    *,
    seconds: float,
) -> dict[str, float]:
    """Seconds from each terminal's Ctrl-C until no process of its group is left (or until
    `seconds` have passed, whichever comes first: more than `seconds` means still running)."""
    times: dict[str, float] = {}
    deadline = max(since.values()) + seconds + 1
    while len(times) < len(terminals) and time.monotonic() < deadline:
        for name, process in terminals.items():
            if name in times:
                continue
            process.poll()  # reaps the group's leader, which would otherwise linger as a zombie
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                times[name] = time.monotonic() - since[name]
        time.sleep(0.05)
    for name in terminals:
        times.setdefault(name, time.monotonic() - since[name])
    return times


def output(logs: Mapping[str, Path]) -> str:
    return "\n".join(
        f"--- {name}:\n{log.read_text()[-4000:]}" for name, log in logs.items() if log.is_file()
    )


def inside(project: Path) -> dict[int, str]:
    """Every process whose command line or executable lies inside the project, by pid: the
    embedded postgres (and its backends, named by PostgreSQL), redis-server, workers, servers."""
    folder = f"{project}/"
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            try:
                executable = os.readlink(entry / "exe")
            except (PermissionError, FileNotFoundError):
                executable = ""
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if folder in command or executable.startswith(folder):
            found[int(entry.name)] = f"{command.strip()} [{executable}]"
    return found


def assert_nothing_left_inside(project: Path, *, context: str = "") -> None:
    assert not (left := leftovers_stopped(project)), f"{left}\n{context}"


def leftovers_stopped(project: Path, *, seconds: float = 10) -> str:
    """The processes still inside the project after `seconds` at most (the last one out stops
    the embedded servers), listed; and then killed. Empty when none is left."""
    deadline = time.monotonic() + seconds
    while (left := inside(project)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return ""
    listed = "\n".join(f"{pid} (session {session_of(pid)}): {cmd}" for pid, cmd in left.items())
    kill_everything_inside(project)
    return f"still running inside the project after {seconds} s:\n{listed}"


def session_of(pid: int) -> int | None:
    with contextlib.suppress(ProcessLookupError):
        return os.getsid(pid)
    return None


def kill_everything_inside(project: Path) -> None:
    for pid in inside(project):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
