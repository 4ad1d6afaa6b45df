"""`copier copy` driven through its real prompts, including a refused answer."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from pexpect.popen_spawn import PopenSpawn

COPIER = (sys.executable, "-m", "copier")
CLEAR_LINE = "\x15"  # Ctrl-U: the prompts come pre-filled with their default


def test_interactive_copy_answers_every_prompt(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "interactive"
    child = PopenSpawn(
        [*COPIER, "copy", "--trust", "--skip-tasks", str(template), str(destination)],
        timeout=30,
        encoding="utf-8",
    )
    child.expect("Human-readable name of the service")
    child.sendline("Interactive Demo")
    child.expect("Distribution and repository name")
    child.send(CLEAR_LINE)
    child.sendline("Not A Slug")
    child.expect("not a valid slug")
    child.send(CLEAR_LINE)
    child.sendline("interactive-demo")
    for prompt in (
        "Python import name",
        "One-line description",
        "Author or team name",
        "Author or team email",
        "Python version",
    ):
        child.expect(prompt)
        child.sendline("")
    child.expect("Users and authentication")
    child.send("n")  # a yes/no prompt takes the key alone
    child.expect("Redis cache")
    child.send("y")
    child.expect("Background jobs")
    child.sendline("")  # a choice: Enter takes the default
    child.expect("Vector search with pgvector")
    child.send("y")
    child.expect("Observability: Prometheus")
    child.send("n")
    child.expect("is ready in")
    assert child.wait() == 0
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "interactive-demo"
    assert answers["package_name"] == "interactive_demo"
    assert answers["python_version"] == "3.12"
    assert answers["use_auth"] is False
    assert answers["use_cache"] is True
    assert answers["task_queue"] == "dramatiq"
    assert answers["use_pgvector"] is True
    assert answers["use_observability"] is False
    assert (destination / "src" / "interactive_demo" / "main.py").is_file()
    assert not (destination / "src" / "interactive_demo" / "users").exists()
