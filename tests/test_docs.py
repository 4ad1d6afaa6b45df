"""The documentation site builds strictly and describes every question."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from kiln_tools.rendering import REPO_ROOT


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "traceability" / "index.html").is_file()


def test_every_question_is_documented() -> None:
    questions = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    documented = (REPO_ROOT / "docs" / "questionnaire.md").read_text()
    for name in (key for key in questions if not key.startswith("_")):
        assert f"`{name}`" in documented, name
