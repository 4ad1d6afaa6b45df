"""The questionnaire refuses bad answers with a message that says what to type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kiln_tools.rendering import render

REFUSED = [
    ({"project_name": "   "}, "Type a name, e.g. Orders API"),
    ({"project_name": " Orders"}, "Remove the spaces at either end."),
    ({"project_name": 'Say "hi"'}, 'Type it without " or \\.'),
    ({"project_name": "Two\nlines"}, "Type it on a single line."),
    ({"project_name": "Tab\there"}, "Type only printable characters."),
    ({"project_name": "Right\u202eto left"}, "Type only printable characters."),
    ({"project_name": "Zero\u200bwidth"}, "Type only printable characters."),
    ({"project_name": "x" * 61}, "Type at most 60 characters."),
    ({"project_name": "\u6771" * 29 + " API"}, "Shorten it: wide letters count 2."),
    ({"project_name": "!!!"}, "Use Latin letters, e.g. Orders API"),
    ({"project_name": "\u6771\u4eac"}, "Use Latin letters, e.g. Orders API"),
    ({"project_name": "3D Printing"}, "Begin with a word, not a digit."),
    ({"project_slug": "Not A Slug"}, "Type only a-z, 0-9 and dashes."),
    ({"project_slug": "1orders"}, "Start with a letter (a-z)."),
    ({"project_slug": "double--dash"}, "Put one dash between words."),
    ({"project_slug": "trailing-"}, "Put one dash between words."),
    ({"project_slug": "a" * 33}, "Type at most 32 characters."),
    ({"project_slug": "pyjwt"}, "Add a word: a dependency has it."),
    ({"project_slug": "opentelemetry-sdk"}, "Add a word: a dependency has it."),
    ({"project_slug": "pydantic-settings"}, "Add a word: a dependency has it."),
    ({"package_name": "1orders"}, "Start with a letter (a-z)."),
    ({"package_name": "Orders"}, "Type only a-z, 0-9 and _."),
    ({"package_name": "caf\u00e9"}, "Type only a-z, 0-9 and _."),
    ({"package_name": "class"}, "A Python keyword: try class_api"),
    ({"package_name": "nonlocal"}, "A Python keyword: try nonlocal_api"),
    ({"package_name": "match"}, "A Python keyword: try match_api"),
    ({"package_name": "type"}, "A Python keyword: try type_api"),
    ({"package_name": "json"}, "Add a word: it shadows the stdlib."),
    ({"package_name": "typing"}, "Add a word: it shadows the stdlib."),
    ({"package_name": "test"}, "Add a word: it shadows the stdlib."),
    ({"package_name": "sitecustomize"}, "Add a word: it shadows the stdlib."),
    ({"package_name": "fastapi"}, "Add a word: it shadows a library."),
    ({"package_name": "redis"}, "Add a word: it shadows a library."),
    ({"package_name": "celery"}, "Add a word: it shadows a library."),
    ({"package_name": "alembic"}, "Add a word: it shadows a library."),
    ({"package_name": "dramatiq"}, "Add a word: it shadows a library."),
    ({"package_name": "pgvector"}, "Add a word: it shadows a library."),
    ({"package_name": "click"}, "Add a word: it shadows a library."),
    ({"package_name": "python"}, "Add a word: .venv/bin has it."),
    ({"package_name": "pip"}, "Add a word: it shadows a library."),
    ({"package_name": "activate"}, "Add a word: .venv/bin has it."),
    ({"package_name": "tests"}, "Add a word: the project uses it."),
    ({"package_name": "migrations"}, "Add a word: the project uses it."),
    ({"package_name": "loadtest"}, "Add a word: the project uses it."),
    ({"package_name": "a" * 33}, "Type at most 32 characters."),
    # Names whose package the questionnaire derives, and refuses.
    ({"project_name": "Test"}, "Add a word: it shadows the stdlib."),
    ({"project_name": "Typing"}, "Add a word: it shadows the stdlib."),
    ({"project_name": "Celery"}, "Add a word: a dependency has it."),
    ({"project_name": "Click"}, "Add a word: a dependency has it."),
    ({"project_name": "Tests"}, "Add a word: the project uses it."),
    ({"project_name": "Class"}, "A Python keyword: try class_api"),
    ({"project_name": "Enterprise Order Fulfilment Services"}, "Type at most 32 characters."),
    ({"description": "two\nlines"}, "Type it on a single line."),
    ({"description": "x" * 201}, "Type at most 200 characters."),
    ({"author_name": "x" * 101}, "Type at most 100 characters."),
    ({"author_email": "not-an-email"}, "Type one like jane@example.com"),
    ({"python_version": "3.10"}, "3.10"),
    ({"use_auth": "maybe"}, "Type true/false or yes/no."),
    ({"use_cache": "maybe"}, "Type true/false or yes/no."),
    ({"task_queue": "rq"}, "'rq' is not in ['dramatiq', 'celery', 'none']"),
    ({"use_pgvector": "maybe"}, "Type true/false or yes/no."),
    ({"use_observability": "maybe"}, "Type true/false or yes/no."),
]
# Copier's own messages: the choices.
COPIER_MESSAGES = {"3.10", "'rq' is not in ['dramatiq', 'celery', 'none']"}


@pytest.mark.parametrize(
    ("answers", "message"),
    REFUSED,
    ids=[f"{next(iter(a))}={next(iter(a.values()))!r}" for a, _ in REFUSED],
)
def test_bad_answers_are_refused_with_what_to_type(
    template: Path, tmp_path: Path, answers: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        render(template, tmp_path / "out", answers, run_tasks=False)
    assert not (tmp_path / "out" / "pyproject.toml").exists()
    if message not in COPIER_MESSAGES:
        # At the prompt, copier shows the whole line, prefix and all, on one line of the
        # terminal, cut at its edge.
        line = str(refused.value)
        assert line.startswith("Validation error for question ")
        assert line.endswith(message)
        assert len(line) <= 80, line


def test_unicode_name_gives_ascii_slug_and_package(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "out", {"project_name": "Café Ação API"}, run_tasks=False)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "cafe-acao-api"
    assert answers["package_name"] == "cafe_acao_api"
    assert (project / "src" / "cafe_acao_api" / "main.py").is_file()
    assert 'name = "cafe-acao-api"' in (project / "pyproject.toml").read_text()


def test_answers_file_keeps_no_secret(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "out", run_tasks=False)
    secret_line = next(
        line
        for line in (project / ".env").read_text().splitlines()
        if line.startswith("SECRET_KEY=")
    )
    secret = secret_line.removeprefix("SECRET_KEY=")
    assert len(secret) >= 32
    answers_text = (project / ".copier-answers.yml").read_text()
    assert secret not in answers_text
    assert "secret" not in answers_text.lower()


def test_each_render_gets_its_own_secret(template: Path, tmp_path: Path) -> None:
    secrets = set()
    for name in ("one", "two"):
        project = render(template, tmp_path / name, run_tasks=False)
        secrets.add((project / ".env").read_text())
    assert len(secrets) == 2
