"""The scenarios of `kiln bench`: each starts its two sides, `subject` and `baseline`, and names
the budget on their ratio; `run_scenarios` measures them in turn."""

from __future__ import annotations

import json
import statistics
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message

from kiln_tools.bench.servers import Bench, script_for
from kiln_tools.bench.wrk import SCRIPTS, Side, find_wrk, measure
from kiln_tools.steps import Build
from kiln_tools.tooling import run

# Signs the sync peer's tokens: a benchmark's own, on a throwaway database.
PEER_SECRET = "kiln-bench-sync-peer-signing-key-not-a-service-secret"  # noqa: S105 - not a secret


@dataclass
class Comparison:
    """One scenario: `subject` measured against `baseline`, and the budget on their ratio."""

    name: str
    subject: Side
    baseline: Side
    budget: str
    holds: Callable[[Comparison], bool]

    @property
    def ratios(self) -> list[float]:
        return [
            subject.rate / baseline.rate
            for subject, baseline in zip(self.subject.rounds, self.baseline.rounds, strict=True)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


LOOPBACK = "http://127.0.0.1:"


def fetch(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[bytes, Message]:
    """One request to a server the bench started itself: the body and the headers."""
    assert url.startswith(LOOPBACK), url  # what makes the two calls below safe
    request = urllib.request.Request(url, data, headers or {}, method=method)  # noqa: S310 - loopback http, asserted
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback http, asserted
        return response.read(), response.headers


def call(
    url: str,
    method: str,
    path: str,
    body: dict[str, object] | None = None,
    *,
    form: bool = False,
    headers: dict[str, str] | None = None,
) -> object:
    """One request to set a scenario up; the JSON answer."""
    headers = dict(headers or {})
    data = None
    if body is not None and form:
        data = urllib.parse.urlencode(body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    payload, _ = fetch(url + path, data, headers, method)
    return json.loads(payload) if payload else None


def answer(side: Side) -> tuple[object, str | None]:
    """What a side answers its measured request with: the JSON, and the total it reports."""
    payload, headers = fetch(side.url + side.path, headers=side.headers)
    return json.loads(payload), headers.get("X-Total-Count")


def assert_same_answer(subject: Side, peer: Side) -> None:
    """Both sides answer with the same notes, tags and total: the same work, measured."""
    assert answer(subject) == answer(peer), (answer(subject), answer(peer))


def sign_in(url: str) -> dict[str, str]:
    """A new account's bearer header."""
    account = {"email": "bench@example.com", "password": "Correct-Horse-42-battery"}
    call(url, "POST", "/api/v1/auth/register", account)
    form = {"username": account["email"], "password": account["password"]}
    tokens = call(url, "POST", "/api/v1/auth/token", form, form=True)
    assert isinstance(tokens, dict), tokens
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def signed_in_user(url: str) -> tuple[dict[str, str], str]:
    """`sign_in`'s bearer header, and the account's id."""
    headers = sign_in(url)
    me = call(url, "GET", "/api/v1/users/me", headers=headers)
    assert isinstance(me, dict), me
    return headers, str(me["id"])


def sync_peer_side(bench: Bench, build: Build, database: str, user_id: str, path: str) -> Side:
    """The sync peer on `database`, signed in as `user_id` with a token of its own."""
    side = bench.sync_peer(build, database, path, PEER_SECRET=PEER_SECRET)
    python = str(build.project / ".venv" / "bin" / "python")
    script = str(SCRIPTS / "sync_peer_app.py")
    env = {"DATABASE_URL": database, "PEER_SECRET": PEER_SECRET}
    token = run(build.project, python, script, user_id, env=env).stdout.strip().splitlines()[-1]
    side.headers = {"Authorization": f"Bearer {token}"}
    return side


def add_notes(url: str, count: int, headers: dict[str, str] | None = None) -> str:
    """`count` notes with two tags each; the id of the last."""
    created: object = None
    for index in range(count):
        note = {"title": f"Note {index}", "body": "a few words", "tags": ["bench", f"t{index % 5}"]}
        created = call(url, "POST", "/api/v1/notes", note, headers=headers)
    assert isinstance(created, dict), created
    return str(created["id"])


NO_AUTH = {"use_auth": False}
ALL_ON = {"use_auth": True, "use_cache": True, "use_pgvector": True, "use_observability": True}


def stack(bench: Bench) -> Comparison:
    """A trivial JSON endpoint under /api/v1 through the whole stack, every flag on."""
    build = bench.build(**ALL_ON)
    database = bench.database(build)
    subject = bench.service(build, "every flag on", database, "/api/v1/bench/ping")
    baseline = bench.baseline(build, database, "/api/v1/bench/ping")
    return Comparison("1 stack", subject, baseline, ">= 0.5 of bare", lambda c: c.ratio >= 0.5)


def listing(bench: Bench) -> Comparison:
    """A page of 20 notes (and their tags and total) against the same queries on asyncpg."""
    build = bench.build(**NO_AUTH)
    database = bench.database(build)
    subject = bench.service(build, "defaults, no auth", database, "/api/v1/notes?limit=20")
    add_notes(subject.url, 40)
    baseline = bench.baseline(build, database, "/api/v1/notes?limit=20")
    return Comparison(
        "2 list",
        subject,
        baseline,
        ">= 0.8 of bare asyncpg, p95 < 100 ms",
        lambda c: c.ratio >= 0.8 and c.subject.median(lambda r: r.p95_ms) < 100,
    )


def peer_listing(bench: Bench) -> Comparison:
    """A signed-in user's page of 20 notes (tags and total too): the `--defaults` render against
    the sync SQLModel peer on the same tables and rows."""
    build = bench.build()
    database = bench.database(build)
    path = "/api/v1/notes?limit=20"
    subject = bench.service(build, "defaults, signed in", database, path)
    subject.headers, user_id = signed_in_user(subject.url)
    add_notes(subject.url, 40, subject.headers)
    peer = sync_peer_side(bench, build, database, user_id, path)
    assert_same_answer(subject, peer)
    return Comparison("peer list", subject, peer, ">= 2x the sync peer", lambda c: c.ratio >= 2)


def peer_read(bench: Bench) -> Comparison:
    """One note by id, signed in: the `--defaults` render's cache hit against the sync peer's
    read from PostgreSQL."""
    build = bench.build()
    database = bench.database(build)
    subject = bench.service(build, "defaults, signed in (hits)", database, "")
    subject.headers, user_id = signed_in_user(subject.url)
    subject.path = f"/api/v1/notes/{add_notes(subject.url, 1, subject.headers)}"
    peer = sync_peer_side(bench, build, database, user_id, subject.path)
    assert_same_answer(subject, peer)
    return Comparison("peer read", subject, peer, ">= 3x the sync peer", lambda c: c.ratio >= 3)


def cached_read(bench: Bench) -> Comparison:
    """One note by id, with the cache (hit path) against without it."""
    sides = []
    for label, cache in (("cache on (hits)", True), ("cache off", False)):
        build = bench.build(**NO_AUTH, use_cache=cache)
        side = bench.service(build, label, bench.database(build), "")
        side.path = f"/api/v1/notes/{add_notes(side.url, 1)}"
        sides.append(side)
    return Comparison("3 cached read", *sides, ">= 2x uncached", lambda c: c.ratio >= 2)


def authenticated_read(bench: Bench) -> Comparison:
    """One note by id (no cache), signed in against with auth off."""
    sides = []
    for label, auth in (("auth on, signed in", True), ("auth off", False)):
        build = bench.build(use_auth=auth, use_cache=False)
        side = bench.service(build, label, bench.database(build), "")
        side.headers = sign_in(side.url) if auth else {}
        side.path = f"/api/v1/notes/{add_notes(side.url, 1, side.headers)}"
        sides.append(side)
    return Comparison("4 auth read", *sides, "<= 15 % slower", lambda c: c.ratio >= 1 / 1.15)


def vector_search(bench: Bench) -> Comparison:
    """Nearest neighbours of a text in 10 000 documents, against the same SQL on asyncpg."""
    build = bench.build(**NO_AUTH, use_pgvector=True, task_queue="none")
    database = bench.database(build)
    path = "/api/v1/documents/search?q=a+red+fox&limit=10"
    subject = bench.service(build, "pgvector, 10 000 documents", database, path)
    python = str(build.project / ".venv" / "bin" / "python")
    fill = script_for("fill_corpus.py", build.package)
    prepared = run(build.project, python, "-c", fill, env={"DATABASE_URL": database}).stdout
    vector, ef_search = json.loads(prepared.strip().splitlines()[-1])
    baseline = bench.baseline(
        build, database, path, BENCH_VECTOR=json.dumps(vector), BENCH_EF_SEARCH=str(ef_search)
    )
    return Comparison("5 vector search", subject, baseline, "(figures only)", lambda c: True)


def routing(bench: Bench) -> Comparison:
    """The trivial endpoint registered after every route of the all-flags render, and before."""
    build = bench.build(**ALL_ON)
    last = bench.service(
        build, "after every route", bench.database(build), "/api/v1/bench-last/ping"
    )
    first = Side("before every route", last.url, last.pid, "/api/v1/bench/ping")
    return Comparison("routing", last, first, "(figures only)", lambda c: True)


def observability(bench: Bench) -> Comparison:
    """The trivial endpoint of the `--defaults` render with `use_observability` on and off."""
    sides = []
    for label, on in (("observability on", True), ("observability off", False)):
        build = bench.build(use_observability=on)
        sides.append(bench.service(build, label, bench.database(build), "/api/v1/bench/ping"))
    return Comparison("observability", *sides, "(figures only)", lambda c: True)


SCENARIOS: dict[str, Callable[[Bench], Comparison]] = {
    "stack": stack,
    "list": listing,
    "peer-list": peer_listing,
    "peer-read": peer_read,
    "cached-read": cached_read,
    "auth-read": authenticated_read,
    "vector-search": vector_search,
    "observability": observability,
    "routing": routing,
}


def run_scenarios(
    names: Sequence[str],
    *,
    rounds: int,
    seconds: int,
    connections: int,
    service_env: dict[str, str] | None = None,
) -> list[Comparison]:
    """Each scenario with its own servers, measured A B A B, then stopped."""
    find_wrk()
    results = []
    for name in names:
        bench = Bench(service_env)
        try:
            comparison = SCENARIOS[name](bench)
            measure(
                [comparison.subject, comparison.baseline],
                rounds=rounds,
                seconds=seconds,
                connections=connections,
                script=bench.script,
            )
            results.append(comparison)
        finally:
            bench.close()
    return results
