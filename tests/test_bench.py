"""`kiln bench`'s pieces that run without wrk or a render: its scripts, the probe module it
writes beside a render, and the command that serves the service with the probe routes.

The probe module mounts its routes through the app factory's `features` hook; the slow test
type-checks it with mypy --strict against a stand-in package of that interface.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln_tools.bench import servers
from kiln_tools.bench.phases import PHASE_PROBE, phase_probe_env
from kiln_tools.bench.servers import PROBE_MODULE, probe_server, script_for, write_probe
from kiln_tools.bench.wrk import SCRIPTS, write_script
from kiln_tools.matrix import Combination
from kiln_tools.rendering import REPO_ROOT
from kiln_tools.steps import Build
from kiln_tools.tooling import project_environment

PACKAGE = "enterprise_order_fulfilment_svcs"


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def _build(tmp_path: Path, package: str = PACKAGE) -> Build:
    project = tmp_path / "combination" / "project"
    project.mkdir(parents=True)
    return Build(Combination("combination", {}), [], project, package)


def test_wrk_s_script_is_the_lua_files_in_turn(tmp_path: Path) -> None:
    script = write_script(tmp_path / "report.lua").read_text()
    assert script.index("done = function(summary, latency, requests)") < script.index("WRK_METHOD")
    # One JSON object per run, on wrk's last line of output: "\n" inside the Lua string.
    assert "p99\": %f}\\n'," in script


@pytest.mark.parametrize("name", [f"{PROBE_MODULE}.py", "fill_corpus.py"])
def test_the_python_scripts_import_the_render_s_package(name: str) -> None:
    source = script_for(name, PACKAGE)
    modules = _imported_modules(source)
    assert not [module for module in modules if module.startswith("kiln_demo")]
    assert any(module.startswith(f"{PACKAGE}.") for module in modules), modules
    compile(source, name, "exec")


def test_the_probe_module_uses_the_features_hook() -> None:
    source = script_for(f"{PROBE_MODULE}.py", PACKAGE)
    modules = _imported_modules(source)
    for module in ("features", "core.features", "core.errors", "core.server"):
        assert f"{PACKAGE}.{module}" in modules, module
    assert f"from {PACKAGE} import main\n" in source
    assert "main.create_app(features=[first, *FEATURES, last])" in source


def test_the_probe_module_passes_kiln_s_ruff_as_written(tmp_path: Path) -> None:
    """As the bench writes it for its renders (all `kiln_demo`), outside Kiln's tree."""
    build = _build(tmp_path, "kiln_demo")
    probe = write_probe(build) / f"{PROBE_MODULE}.py"
    assert probe.parent == build.project.parent / "bench-probe"  # beside the render, not in it
    config = str(REPO_ROOT / "pyproject.toml")
    for command in (["check", "--no-fix"], ["format", "--check"]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--config", config, str(probe)],
            # Not the process's own: copier, rendering in the matrix's thread meanwhile, moves it
            # into folders it then deletes, and ruff refuses to start in a missing folder.
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_service_runs_the_probe_module_on_the_render_s_interpreter(tmp_path: Path) -> None:
    build = _build(tmp_path)
    probe = write_probe(build)
    env = {"DATABASE_URL": "postgresql://db", **phase_probe_env(tmp_path / "ph", stock_pool=False)}
    command, served = probe_server(build, probe, env)
    assert command == [str(build.project / ".venv" / "bin" / "python"), "-P", "-m", PROBE_MODULE]
    # The probe module first, then the phase probe's sitecustomize.
    assert served["PYTHONPATH"].split(":") == [str(probe), str(PHASE_PROBE)]
    assert served["DATABASE_URL"] == "postgresql://db"
    assert served["KILN_PHASES"] == str(tmp_path / "ph")
    command, served = probe_server(build, probe, {})
    assert served == {"PYTHONPATH": str(probe)}
    # pinned_server adds `--port N`, which the probe module's entry point takes.
    assert "--port" in (probe / f"{PROBE_MODULE}.py").read_text()


def test_the_baseline_app_is_served_from_the_scripts_folder() -> None:
    module, _, attribute = servers.BASELINE_APP.partition(":")
    assert (SCRIPTS / f"{module}.py").is_file()
    assert "\napp = FastAPI(" in (SCRIPTS / f"{module}.py").read_text()
    assert attribute == "app"


def test_the_sync_peer_is_served_from_the_scripts_folder_on_pinned_libraries() -> None:
    module, _, attribute = servers.SYNC_PEER_APP.partition(":")
    source = (SCRIPTS / f"{module}.py").read_text()
    assert "\napp = FastAPI(" in source
    assert attribute == "app"
    requirements = servers.sync_peer_requirements()
    assert {requirement.split("==")[0] for requirement in requirements} == {
        "psycopg[binary]",
        "sqlmodel",
    }
    assert all(requirement.count("==") == 1 for requirement in requirements)


# The interface the probe module is written against (issue 23), as stand-ins: the app factory's
# `features` hook, a Feature's routers, the API's error responses and the production server.
STAND_IN = {
    "__init__.py": "",
    "core/__init__.py": "",
    "core/errors.py": """
        from typing import Any

        ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid"}}
    """,
    "core/features.py": """
        from collections.abc import Callable, Sequence
        from dataclasses import dataclass
        from typing import Any

        from fastapi import APIRouter

        type Responses = dict[int | str, dict[str, Any]]


        @dataclass(frozen=True)
        class Feature:
            name: str
            routers: Callable[[], Sequence[tuple[APIRouter, Responses]]] | None = None
            settings: type | None = None
    """,
    "features.py": """
        from kiln_demo.core.features import Feature

        FEATURES: tuple[Feature, ...] = (Feature(name="notes"),)


        class Settings:
            shutdown_grace_seconds: int = 10


        def get_settings() -> Settings:
            return Settings()
    """,
    "core/server.py": """
        import uvicorn
        from fastapi import FastAPI

        from kiln_demo.features import Settings

        APP_FACTORY = "kiln_demo.main:create_app"


        def uvicorn_config(
            settings: Settings, *, host: str, port: int, workers: int, app: FastAPI | None = None
        ) -> uvicorn.Config:
            return uvicorn.Config(app or APP_FACTORY, factory=app is None, host=host, port=port)
    """,
    "main.py": """
        from collections.abc import Sequence

        from fastapi import FastAPI

        from kiln_demo.features import Settings
        from kiln_demo.core.features import Feature
        from kiln_demo.features import FEATURES


        def create_app(
            settings: Settings | None = None, *, features: Sequence[Feature] = FEATURES
        ) -> FastAPI:
            app = FastAPI()
            for feature in features:
                for router, responses in feature.routers() if feature.routers else ():
                    app.include_router(router, prefix="/api/v1", responses=responses)
            return app
    """,
    "py.typed": "",
}


def _pin(name: str) -> str:
    spec = importlib.util.spec_from_file_location("kiln_pins", REPO_ROOT / "extensions/kiln.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return f"{name}=={module.PINS[name]}"


@pytest.mark.slow
def test_the_probe_module_type_checks_against_the_features_interface(tmp_path: Path) -> None:
    """mypy --strict, at the template's pins, on the probe module as written and a stand-in
    `kiln_demo` of the interface it uses; then the app it builds answers both probe routes."""
    for name, text in STAND_IN.items():
        path = tmp_path / "kiln_demo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    build = _build(tmp_path / "bench", "kiln_demo")
    probe = write_probe(build)
    tools = ["fastapi", "uvicorn", "mypy", "httpx"]
    uv = ["uv", "run", "--isolated", "--no-project", "--python", "3.12"]
    uv += [argument for tool in tools for argument in ("--with", _pin(tool))]
    environment = project_environment({"PYTHONPATH": f"{probe}:{tmp_path}"})

    def with_the_tools(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*uv, *command], cwd=tmp_path, env=environment, capture_output=True, text=True
        )

    checked = with_the_tools(
        "mypy", "--strict", "--no-incremental", str(probe / f"{PROBE_MODULE}.py")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    answered = with_the_tools("python", "-c", ROUTES_ANSWER)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert answered.stdout.split() == [
        "/api/v1/bench/ping",
        "200",
        "/api/v1/bench-last/ping",
        "200",
    ]


ROUTES_ANSWER = """
from fastapi.testclient import TestClient
import kiln_bench_probe

client = TestClient(kiln_bench_probe.create_app())
for path in ("/api/v1/bench/ping", "/api/v1/bench-last/ping"):
    print(path, client.get(path).status_code)
"""


def test_bench_jobs_reads_columns_the_jobs_table_has() -> None:
    source = (SCRIPTS / "job_times.py").read_text()
    compile(source, "job_times.py", "exec")
    jobs_models = [
        path
        for path in (REPO_ROOT / "template" / "src").rglob("models.py.jinja")
        if '__tablename__ = "jobs"' in path.read_text()
    ]
    (jobs_model,) = jobs_models
    columns = jobs_model.read_text()
    for column in ("status", "started_at", "finished_at"):
        assert f"{column}:" in columns
        assert column in source
    assert "'succeeded'" in source
    assert 'SUCCEEDED = "succeeded"' in columns
