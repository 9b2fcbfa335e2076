"""Hostile input, measured: every route and method of every service (from the app's own
routers, so a new route is fuzzed without a change here) called with broken bodies,
query strings, headers and path ids (tests/api/fuzzvalues.py), as the admin, as project
A's member and as project B's member (tests/api/fuzzworld.py).

Every response must be below 500 and carry no traceback, Python exception name, SQL or
file path; no response to B may show an id of A's (or succeed on a path naming one);
A's resources must survive B's attempts; the process's RSS must stay bounded.

Seeded and time-bounded: STACKBOX_FUZZ_SEED (default 20261213) and
STACKBOX_FUZZ_SECONDS (default 50 on SQLite; STACKBOX_FUZZ_PG_SECONDS, default 10, on
PostgreSQL) to run longer or differently on demand. It prints the number of requests,
the requests per input class and per principal, and the responses per status class."""

from __future__ import annotations

import collections
import gc
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from stackbox.api.app import service_routers
from stackbox.api.framework import RouteSpec
from tests.api import fuzzvalues
from tests.api.fuzzgen import CLASSES, Gen
from tests.api.fuzzworld import World, make_world
from tests.conftest import pg_schema_url

SEED = int(os.environ.get("STACKBOX_FUZZ_SEED", "20261213"))
SECONDS = {
    "sqlite": float(os.environ.get("STACKBOX_FUZZ_SECONDS", "50")),
    "postgres": float(os.environ.get("STACKBOX_FUZZ_PG_SECONDS", "10")),
}
# RSS growth allowed after the warm-up. Each request may carry up to a 1 MiB body and
# a 64 KiB path or query, a quarter of them by class, so a leak of the request (or of
# its parsed body, its validation error, its response) grows by megabytes every
# second, hundreds over a run; what legitimately grows is bounded caches (compiled
# validators, token and glob caches, SQLAlchemy's statement cache) and the allocator
# keeping arenas from the largest bodies, a few tens of MiB.
RSS_BOUND_MIB = 96
MAX_URL = 65_000  # the test client refuses longer URLs
WRITES = ("POST", "PUT", "PATCH", "DELETE")
GENERIC_PARAMS = {"id", "name", "ident", "key", "tag", "tag_name", "pattern", "host"}

LEAK = re.compile(
    r"Traceback|File \"|line \d+, in |site-packages|/usr/lib/python|\.py\b[\",:]"
    r"|\b(?:Value|Type|Key|Index|Attribute|Recursion|Overflow|UnicodeEncode|UnicodeDecode"
    r"|Unicode|ZeroDivision|Assertion|Runtime|NotImplemented|JSONDecode|Integrity|Operational"
    r"|Data|Programming|InvalidRequest|Statement|DBAPI|Validation|Lookup|OS|IO|Memory)Error\b"
    r"|\b(?:NoResultFound|MultipleResultsFound|StopIteration|libvirtError)\b"
    r"|\bSELECT\b.{0,200}\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b"
    r"|sqlite3|psycopg|sqlalchemy|\[SQL:|\[parameters:",
    re.S,
)


@dataclass
class Sent:
    who: str
    cls: str
    method: str
    url: str
    headers: list[tuple[bytes, bytes]]
    content: bytes

    def brief(self) -> str:
        return f"{self.who} {self.cls} {self.method} {self.url[:160]!r} body={self.content[:160]!r}"


class ErrorLog(logging.Handler):
    """The last exceptions logged by the API (what a 500 was), for the failure report."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: collections.deque[str] = collections.deque(maxlen=1)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.last.append(f"{type(exc).__name__}: {str(exc)[:200]}")


def _routes() -> list[RouteSpec]:
    return [spec for router in service_routers() for spec in router.specs]


def _pool_key(segments: list[str], i: int) -> str:
    param = segments[i][1:-1]
    if param in GENERIC_PARAMS and i > 0:
        return segments[i - 1]
    return param


def _path(w: World, gen: Gen, spec: RouteSpec, who: str, cls: str) -> str:
    r = gen.rng
    segments = spec.path.split("/")
    hostile_at = None
    params = [i for i, s in enumerate(segments) if s.startswith("{")]
    if cls == "hostile_path_id" and params:
        hostile_at = r.choice(params)
    out = []
    for i, seg in enumerate(segments):
        if not seg.startswith("{"):
            out.append(seg)
            continue
        key = _pool_key(segments, i)
        pool = w.reads.get(key, [])
        if who != "B" and spec.method in WRITES:
            pool = w.scratch.get(key, [])
        if i == hostile_at:
            out.append(gen.path_segment())
        elif pool and r.random() < 0.85:
            out.append(quote(r.choice(pool), safe=""))
        else:
            out.append(r.choice([str(uuid.UUID(int=r.getrandbits(128))), "fz-none"]))
    return spec.router.prefix + "/".join(out)


def _body(gen: Gen, spec: RouteSpec, cls: str) -> tuple[bytes, str]:
    """(content, content type) of the request."""
    r = gen.rng
    if spec.raw_body:
        return r.randbytes(r.choice([0, 10, 5000])), "application/octet-stream"
    ctype = "application/json"
    if spec.method == "PATCH" and spec.router.name == "image":
        ctype = "application/openstack-images-v2.1-json-patch"
        body: Any = [{"op": r.choice(["add", "replace", "remove"]), "path": "/name", "value": "x"}]
    else:
        body = gen.body_for(spec)
    if cls == "invalid_json":
        return r.choice(fuzzvalues.INVALID_JSON), ctype
    if cls == "wrong_content_type":
        ctype = r.choice(fuzzvalues.CONTENT_TYPES)
    text = fuzzvalues.dump(gen.mutate(body, cls))
    content = text.encode("utf-8", "surrogatepass")
    if cls == "bad_utf8":
        at = r.randrange(len(content) + 1)
        content = (
            content[:at] + r.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"]) + content[at:]
        )
    return content, ctype


def build(w: World, gen: Gen, spec: RouteSpec, who: str, cls: str) -> Sent:
    r = gen.rng
    url = _path(w, gen, spec, who, cls)
    if cls == "hostile_query" or (spec.method == "GET" and r.random() < 0.2):
        url += "?" + gen.query(spec)
    url = url[:MAX_URL]  # a split %XX escape at the cut is one more hostile input
    token = w.tokens[who].encode()
    headers = [(b"x-auth-token", gen.token(w.tokens[who]) if cls == "bad_token" else token)]
    if cls == "bad_microversion":
        name = r.choice([b"openstack-api-version", b"x-openstack-nova-api-version"])
        value = r.choice(fuzzvalues.MICROVERSIONS)
        if name != b"openstack-api-version":
            value = value.removeprefix("compute ")
        headers.append((name, value.encode("utf-8")))
    elif r.random() < 0.5:
        headers.append((b"openstack-api-version", f"compute 2.{r.randint(1, 100)}".encode()))
    content = b""
    if spec.method in ("POST", "PUT", "PATCH") or r.random() < 0.1:
        content, ctype = _body(gen, spec, cls)
        if ctype:
            headers.append((b"content-type", ctype.encode("latin-1")))
    return Sent(who, cls, spec.method, url, headers, content)


def check(w: World, sent: Sent, status: int, text: str, errors: ErrorLog) -> list[str]:
    """What is wrong with one response (empty: nothing)."""
    problems = []
    if status >= 500:
        problems.append(f"status {status} ({errors.last[-1] if errors.last else 'no log'})")
    m = LEAK.search(text)
    if m:
        problems.append(f"internal detail {text[max(0, m.start() - 60) : m.end() + 60]!r}")
    if sent.who == "B":
        asked = sent.url + sent.content.decode("utf-8", "replace")
        for secret in w.secret:
            if secret in text and (status < 400 or secret not in asked):
                problems.append(f"A's id {secret} shown to B ({status})")
            if status < 400 and quote(secret, safe="") in sent.url:
                problems.append(f"B's {sent.method} on A's {secret} succeeded ({status})")
    return problems


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fuzz(w: World, seconds: float, seed: int) -> dict[str, Any]:
    gen = Gen(random.Random(seed))
    routes = _routes()
    errors = ErrorLog()
    logging.getLogger("stackbox").addHandler(errors)
    stats: dict[str, Any] = {
        "requests": 0,
        "classes": collections.Counter(),
        "who": collections.Counter(),
        "status": collections.Counter(),
        "services": collections.Counter(),
        "failures": {},
    }
    start = time.monotonic()
    warm = start + max(5.0, seconds * 0.15)
    rss0 = None
    try:
        while time.monotonic() - start < seconds:
            if rss0 is None and time.monotonic() > warm:
                gc.collect()
                rss0 = rss_mib()
            spec = gen.rng.choice(routes)
            who = gen.rng.choice(["admin", "A", "B"])
            cls = gen.rng.choice(CLASSES)
            sent = build(w, gen, spec, who, cls)
            resp = w.client.request(
                sent.method, sent.url, headers=sent.headers, content=sent.content
            )
            stats["requests"] += 1
            stats["classes"][cls] += 1
            stats["who"][who] += 1
            stats["services"][spec.router.name] += 1
            stats["status"][f"{resp.status_code // 100}xx"] += 1
            for problem in check(w, sent, resp.status_code, resp.text, errors):
                seen = stats["failures"].setdefault(problem[:90], [0, []])
                seen[0] += 1
                if len(seen[1]) < 3:
                    seen[1].append(f"{sent.brief()} -> {problem}")
            errors.last.clear()
            if stats["requests"] % 200 == 0:
                _keep_tokens(w, stats)
    finally:
        logging.getLogger("stackbox").removeHandler(errors)
    gc.collect()
    stats["rss"] = (rss0 or rss_mib(), rss_mib())
    return stats


def _keep_tokens(w: World, stats: dict[str, Any]) -> None:
    """Log a principal in again if a fuzzed call revoked its token (counted)."""
    for who, token in list(w.tokens.items()):
        r = w.client.get(
            "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
        )
        if r.status_code != 200:
            stats.setdefault("relogins", collections.Counter())[who] += 1
            w.login(who)


def _report(backend: str, stats: dict[str, Any]) -> str:
    rss0, rss1 = stats["rss"]
    lines = [
        f"fuzz[{backend}] seed={SEED} requests={stats['requests']}",
        f"  per class: {dict(sorted(stats['classes'].items()))}",
        f"  per principal: {dict(stats['who'])}  per service: {dict(stats['services'])}",
        f"  responses: {dict(sorted(stats['status'].items()))}",
        f"  RSS after warm-up {rss0:.1f} MiB, at end {rss1:.1f} MiB (+{rss1 - rss0:.1f})",
        f"  re-logins: {dict(stats.get('relogins', {}))}",
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = None
    if request.param == "postgres":
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    yield from make_world(str(tmp_path_factory.mktemp(f"fuzz-{request.param}")), url)


def test_fuzz_every_route(
    world: World, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture
) -> None:
    backend = request.node.callspec.params["world"]
    stats = fuzz(world, SECONDS[backend], SEED)
    with capsys.disabled():
        print("\n" + _report(backend, stats))
    failures = stats["failures"]
    assert not failures, f"{len(failures)} kinds of failure:\n" + "\n".join(
        f"{n} x {kind}\n    " + "\n    ".join(examples) for kind, (n, examples) in failures.items()
    )
    for what, path in world.owned.items():
        r = world.call("A", "GET", path)
        assert r.status_code == 200, f"A's {what} did not survive the fuzzing: {r.status_code}"
    rss0, rss1 = stats["rss"]
    assert rss1 - rss0 < RSS_BOUND_MIB, _report(backend, stats)


def test_the_checks_see_what_they_look_for() -> None:
    w = World(client=None, state=None, passwords={}, secret={"aaaa-1111"})  # type: ignore[arg-type]
    sent = Sent("B", "valid_ish", "GET", "/compute/v2.1/servers", [], b"")
    none = ErrorLog()
    assert check(w, sent, 200, '{"servers": []}', none) == []
    assert check(w, sent, 500, "", none)
    assert check(w, sent, 200, '{"servers": [{"id": "aaaa-1111"}]}', none)
    assert check(w, sent, 400, 'File "/x/y.py", line 3, in f', none)
    assert check(w, sent, 400, "(sqlite3.IntegrityError) UNIQUE constraint failed", none)
    # B may be told that the id it sent was not found, never shown it on success
    asked = Sent("B", "valid_ish", "DELETE", "/compute/v2.1/servers/aaaa-1111", [], b"")
    assert check(w, asked, 404, "Instance aaaa-1111 could not be found.", none) == []
    assert check(w, asked, 204, "", none)
