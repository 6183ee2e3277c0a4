"""Both store backends for the tests: SQLite files and a real PostgreSQL server.

``postgres_server`` (session-scoped) runs Debian's PostgreSQL for the whole run: ``initdb``
into a temporary directory, ``postgres`` on a random loopback port with its unix socket
in that directory, one database, stopped at the end. PostgreSQL refuses to run as root,
so as root the server runs as the ``postgres`` user the Debian package creates (the
directory is handed to it). Without PostgreSQL the tests that need it skip locally, with
the reason, and fail in CI (``CI=true``): CI must test both backends.

``backend`` is parametrized over ``sqlite`` and ``postgresql``; ``new_store`` makes an
empty store of that backend (each PostgreSQL store is a fresh schema of the one database,
chosen through ``search_path`` in its URL).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from policypacks.deploy.sidecar import free_port
from policypacks.runtime.store import Store, utcnow

BACKENDS = ["sqlite", "postgresql"]


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin directory (or ``$POLICYPACKS_PG_BIN``)."""
    if os.environ.get("POLICYPACKS_PG_BIN"):
        return Path(os.environ["POLICYPACKS_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL store tests skipped: {reason}")


@dataclass
class PostgresServer:
    host: str
    port: int
    database: str
    user: str

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"
        return base + (f"?options={quote(f'-csearch_path={schema}')}" if schema else "")

    def new_schema(self) -> str:
        import psycopg
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name


class PostgresMissing(RuntimeError):
    """PostgreSQL (or its Python driver) is not installed here."""


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server on loopback (also used by benchmarks/)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise PostgresMissing("psycopg / psycopg_pool not installed "
                              "(pip install 'policypacks[postgres]')") from None
    bindir = postgres_bin()
    if bindir is None:
        raise PostgresMissing("no /usr/lib/postgresql/*/bin (apt-get install -y postgresql, "
                              "or bash scripts/install-postgres.sh)")
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresMissing("running as root and there is no 'postgres' user to run "
                                  "the server as (postgres refuses root)") from None
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="policypacks-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, sockets, port, user = root / "data", root / "sockets", free_port(), "policypacks"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    server = None
    try:
        run("mkdir", "-p", str(sockets))
        run(str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions")
        log = root / "postgres.log"
        with open(log, "wb") as log_file:
            server = subprocess.Popen(
                [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
                 "-h", "127.0.0.1", "-k", str(sockets), "-c", "fsync=off",
                 "-c", "max_connections=200", "-c", "synchronous_commit=off"],
                stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1",
                                    "-p", str(port), "-U", user], capture_output=True)
            if ready.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", user, "policypacks_test"], check=True, capture_output=True)
        yield PostgresServer("127.0.0.1", port, "policypacks_test", user)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        cluster = postgres_cluster()
        server = cluster.__enter__()
    except PostgresMissing as exc:
        missing(str(exc))
        raise AssertionError from None  # unreachable: missing() raises
    try:
        yield server
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty store of the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.new_schema())


@pytest.fixture
def new_store(store_url: str) -> Iterator[Callable[..., Store]]:
    """``new_store(clock=...)``: a Store on the backend's new store (closed at the end)."""
    opened: list[Store] = []

    def make(clock: Callable[[], datetime] = utcnow) -> Store:
        store = Store(store_url, clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
