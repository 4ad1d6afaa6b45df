"""The questionnaire refuses bad answers with a message that says what to type."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kiln_tools.rendering import render

REFUSED = [
    ({"project_name": "   "}, "Type a project name"),
    ({"project_name": 'Say "hi"'}, "without double quotes"),
    ({"project_name": "x" * 61}, "at most 60 characters"),
    ({"project_name": "!!!"}, "at least one letter"),
    ({"project_slug": "Not A Slug"}, "not a valid slug"),
    ({"project_slug": "double--dash"}, "not a valid slug"),
    ({"project_slug": "a" * 33}, "at most 32 characters"),
    ({"package_name": "1orders"}, "not a valid package name"),
    ({"package_name": "Orders"}, "not a valid package name"),
    ({"package_name": "class"}, "is a Python keyword"),
    ({"package_name": "match"}, "is a Python keyword"),
    ({"package_name": "json"}, "shadow the standard library"),
    ({"package_name": "fastapi"}, "shadow a dependency"),
    ({"package_name": "redis"}, "shadow a dependency"),
    ({"package_name": "celery"}, "shadow a dependency"),
    ({"package_name": "dramatiq"}, "shadow a dependency"),
    ({"package_name": "pgvector"}, "shadow a dependency"),
    ({"package_name": "tests"}, "shadow a dependency or folder"),
    ({"package_name": "a" * 33}, "at most 32 characters"),
    ({"description": "two\nlines"}, "single line"),
    ({"author_email": "not-an-email"}, "not an email address"),
    ({"python_version": "3.10"}, "3.10"),
    ({"use_auth": "maybe"}, "neither yes nor no"),
    ({"use_cache": "maybe"}, "neither yes nor no"),
    ({"task_queue": "rq"}, "'rq' is not in \\['dramatiq', 'celery', 'none'\\]"),
    ({"use_pgvector": "maybe"}, "neither yes nor no"),
    ({"use_observability": "maybe"}, "neither yes nor no"),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_bad_answers_are_refused_with_what_to_type(
    template: Path, tmp_path: Path, answers: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render(template, tmp_path / "out", answers, run_tasks=False)
    assert not (tmp_path / "out" / "pyproject.toml").exists()


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
