"""`copier copy` driven through its real prompts in an 80-column terminal, a refused answer too.

What the questionnaire prints must read whole there: every line within 80 columns, every prompt
and validation message drawn entire (not cut at the edge), the "Next steps" comments aligned.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from pathlib import Path

import pexpect
import yaml

from kiln_tools.matrix import load_questions

COPIER = (sys.executable, "-m", "copier")
CLEAR_LINE = "\x15"  # Ctrl-U: the prompts come pre-filled with their default
COLUMNS, LINES = 80, 24
QMARK = "\N{MICROPHONE} "  # copier's, before each question
# Escape sequences: a cursor move or an erase ends a run of text written left to right (a line
# break, for what is measured); colours and modes are dropped.
CURSOR = re.compile(r"\x1b\[[0-9;?]*[ABCDEFGHJKfd]|\r")
ESCAPE = re.compile(r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b[=>]")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def runs(transcript: str) -> list[str]:
    """The runs of text the terminal was given, each written left to right on one row."""
    return ESCAPE.sub("", CURSOR.sub("\n", transcript)).split("\n")


def test_interactive_copy_answers_every_prompt(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "svc"
    env = {
        **os.environ,
        "COLUMNS": str(COLUMNS),
        "LINES": str(LINES),
        "TERM": "xterm",
        # Nobody answers prompt_toolkit's cursor position requests here: each would wait.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    child = pexpect.spawn(
        COPIER[0],
        [*COPIER[1:], "copy", "--trust", "--skip-tasks", str(template), str(destination)],
        env=env,
        dimensions=(LINES, COLUMNS),
        timeout=30,
        encoding="utf-8",
    )
    transcript: list[str] = []
    child.logfile_read = Transcript(transcript)
    child.expect("Human-readable name of the service")
    child.sendline("Interactive Demo")
    child.expect("Distribution and repository name")
    # At once: the refusal is drawn whole the first time it shows (later, only what changed).
    child.send(f"{CLEAR_LINE}Not A Slug\r")
    child.expect_exact(
        "Validation error for question 'project_slug': Type only a-z, 0-9 and dashes."
    )
    child.send(f"{CLEAR_LINE}interactive-demo\r")
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
    child.expect("A Redis cache")
    child.send("y")
    child.expect("Background jobs")
    child.sendline("")  # a choice: Enter takes the default
    child.expect("Vector search with pgvector")
    child.send("y")
    child.expect("Observability")
    child.send("n")
    child.expect("is ready")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "interactive-demo"
    assert answers["package_name"] == "interactive_demo"
    assert answers["python_version"] == "3.14"
    assert answers["use_auth"] is False
    assert answers["use_cache"] is True
    assert answers["task_queue"] == "dramatiq"
    assert answers["use_pgvector"] is True
    assert answers["use_observability"] is False
    assert (destination / "src" / "interactive_demo" / "main.py").is_file()
    assert not (destination / "src" / "interactive_demo" / "users").exists()

    printed = runs("".join(transcript))
    too_wide = [line for line in printed if width(line) > COLUMNS]
    assert not too_wide, too_wide
    # Each prompt drawn whole: every line of every question's help is a run of its own.
    stripped = {line.removeprefix(QMARK).strip() for line in printed}
    for name, question in load_questions().items():
        for line in str(question.get("help", "")).splitlines():
            assert line.strip() in stripped, (name, line)
    next_steps = printed[printed.index("Next steps:") :]
    comments = [line for line in next_steps if "#" in line]
    assert len(comments) == 3  # the API, the worker (a queue was chosen), the tests
    assert len({line.index("#") for line in comments}) == 1, comments
    commands = [line.strip() for line in next_steps]
    assert "uv run interactive_demo dev" in commands
    assert "uv run interactive_demo worker" in commands
    assert "uv run pytest" in commands


class Transcript:
    """A file-like sink for pexpect that keeps everything the child printed."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    def write(self, data: str) -> None:
        self.chunks.append(data)

    def flush(self) -> None:
        pass
