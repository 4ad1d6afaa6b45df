"""The `--defaults` render behind a real PgBouncer in transaction mode, as docker compose's
`pgbouncer` profile and the Kubernetes production overlay run it (D08): migrations, the
production server, sign-in, writes and reads, with `DB_PGBOUNCER=true`.

PgBouncer is Debian's (.ci/run installs it); it listens on a port of its own, in front of the
machine's PostgreSQL, refusing what PgBouncer refuses (a start-up parameter it does not track,
such as `statement_timeout`) and moving each transaction to whichever server connection is free.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln_tools.bench.scenarios import add_notes, call, sign_in
from kiln_tools.matrix import Combination, default_combination, dimensions
from kiln_tools.steps import Workshop, running_service, sync
from kiln_tools.tooling import free_port

pytestmark = pytest.mark.slow

CONFIGURATION = """\
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 4
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"PgBouncer did not listen on {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def pgbouncer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(binary).is_file(), "PgBouncer is missing: apt-get install pgbouncer (.ci/run does)"
    folder = tmp_path_factory.mktemp("pgbouncer")
    folder.chmod(0o755)  # read by the postgres user below
    port = free_port()
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    configuration = folder / "pgbouncer.ini"
    configuration.write_text(CONFIGURATION.format(port=port, folder=folder))
    command = [binary, str(configuration)]
    if os.geteuid() == 0:
        command[1:1] = ["--user", "postgres"]  # PgBouncer refuses to run as root
    log = folder / "pgbouncer.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_d08_the_service_runs_behind_pgbouncer_in_transaction_mode(
    workshop: Workshop, pgbouncer: int
) -> None:
    default = default_combination()
    build = workshop.build(Combination(f"pgbouncer-{default.id}", default.answers), dimensions())
    sync(build)
    database = f"kiln_pgbouncer_{os.getpid()}"
    through_pgbouncer = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pgbouncer}/{database}",
        "DB_PGBOUNCER": "true",
    }
    with running_service(build.project, build.package, database, through_pgbouncer) as url:
        headers = sign_in(url) if default.answers["use_auth"] else {}
        last = add_notes(url, 25, headers)
        page = call(url, "GET", "/api/v1/notes?limit=20", headers=headers)
        assert isinstance(page, list), page
        assert len(page) == 20
        note = call(url, "GET", f"/api/v1/notes/{last}", headers=headers)
        assert isinstance(note, dict), note
        assert note["id"] == last
        ready = call(url, "GET", "/health/ready")
        assert isinstance(ready, dict), ready
        assert ready["status"] == "ok", ready
