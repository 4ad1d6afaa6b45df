"""The README's commands, run verbatim as a newcomer would run them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kiln_tools.rendering import REPO_ROOT
from kiln_tools.tooling import project_environment, run

pytestmark = pytest.mark.slow


def _commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme)


def test_readme_names_the_test_command_ci_runs() -> None:
    assert "uv run pytest" in _commands()
    assert "uv run pytest" in (REPO_ROOT / ".ci" / "run").read_text()


def test_readme_render_command_works_from_a_clone(tmp_path: Path) -> None:
    clone = tmp_path / "kiln"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    render = next(command for command in _commands() if "--defaults" in command)
    completed = subprocess.run(
        ["bash", "-c", render],
        cwd=clone,
        env=project_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    project = tmp_path / "my-service"
    assert (project / "src" / "my_service" / "main.py").is_file()
    assert (project / "uv.lock").is_file()
    run(project, "uv", "run", "my_service", "--help")
