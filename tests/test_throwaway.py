"""promptsync.throwaway servers, and the docker stand-in in tests/bin/docker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from promptsync.throwaway import Server, find_server_bindir, start_server

DOCKER = Path(__file__).parent / "bin" / "docker"
LIB = Path(__file__).parent.parent / "lib"
CONTAINER = "dev-coach-local-db-1"
PASSWORD = "s3cret pa:ss@w/rd%"  # needs quoting in a URL


def client_psql(server: Server) -> str:
    """The system's psql (the server's own where there is none)."""
    return shutil.which("psql") or str(server.bindir / "psql")


def tcp_psql(server: Server, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = password
    argv = [client_psql(server), "-X", "-A", "-t", "-h", server.host, "-p", str(server.port)]
    argv += ["-U", server.user, "-d", server.dbname, "-c", sql]
    return subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server("local", tmp_path_factory.mktemp("throwaway"), PASSWORD)
    yield s
    s.destroy()


@pytest.mark.integration
def test_two_servers_start_answer_and_go(tmp_path: Path) -> None:
    servers = [start_server(name, tmp_path, f"{PASSWORD}-{name}") for name in ("a", "b")]
    try:
        assert servers[0].port != servers[1].port
        for s in servers:
            assert s.psql("SELECT version()").startswith("PostgreSQL ")
            assert s.major == int(s.psql("SHOW server_version_num").strip()) // 10000
            assert s.psql("SELECT current_database()").strip() == "dev_coach"
            ok = tcp_psql(s, s.password, "SELECT current_user")
            assert ok.returncode == 0 and ok.stdout.strip() == "postgres", ok.stderr
            refused = tcp_psql(s, "wrong", "SELECT 1")
            assert refused.returncode != 0
            assert "password authentication failed" in refused.stderr
            url = urlsplit(s.url())
            assert (url.hostname, url.port, url.path) == ("127.0.0.1", s.port, "/dev_coach")
            assert unquote(url.password or "") == s.password
        with pytest.raises(RuntimeError, match="syntax error"):
            servers[0].psql("SELEC 1")
        servers[0].restart()
        assert servers[0].psql("SELECT 1").strip() == "1"
        servers[0].stop()
        servers[0].stop()  # already stopped: no error
    finally:
        for s in servers:
            s.destroy()
    for s in servers:
        assert not s.datadir.exists() and not s.socket_dir.exists()
    assert not any(tmp_path.iterdir())


@pytest.mark.integration
def test_cli_start_prints_urls_and_stop_stops(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    cli = [sys.executable, "-m", "promptsync.throwaway"]
    started = subprocess.run(
        [*cli, "start", "demo", "--dir", str(tmp_path)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    name, _, url = started.stdout.strip().partition("=")
    assert name == "demo" and url.startswith("postgresql://postgres:")
    assert (tmp_path / "demo" / "data" / "postmaster.pid").exists()
    assert "password" not in (tmp_path / "demo" / "server.json").read_text()
    stopped = subprocess.run(
        [*cli, "stop", "--dir", str(tmp_path)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "demo" / "data" / "postmaster.pid").exists()


def test_find_server_bindir_honours_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTSYNC_SERVER_BIN", "/nonexistent")
    with pytest.raises(RuntimeError, match="PROMPTSYNC_SERVER_BIN"):
        find_server_bindir()


def docker(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_DOCKER_", "PG"))}
    base["FAKE_DOCKER_CONTAINER"] = CONTAINER
    return subprocess.run(
        [str(DOCKER), *args],
        check=False,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_docker_daemon_down() -> None:
    for args in (["info"], ["inspect", CONTAINER], ["exec", CONTAINER, "psql"]):
        r = docker(*args, FAKE_DOCKER_DAEMON="down")
        assert r.returncode == 1
        assert "Cannot connect to the Docker daemon" in r.stderr


def test_docker_info_and_unsupported() -> None:
    assert docker("info").returncode == 0
    r = docker("ps")
    assert r.returncode == 125 and "fake docker: unsupported call: ps" in r.stderr


def test_docker_inspect_states() -> None:
    r = docker("inspect", CONTAINER)
    assert r.returncode == 0
    [obj] = json.loads(r.stdout)
    assert obj["Name"] == f"/{CONTAINER}" and obj["State"]["Status"] == "running"
    assert obj["State"]["Running"] is True
    [obj] = json.loads(docker("inspect", CONTAINER, FAKE_DOCKER_STATE="exited").stdout)
    assert obj["State"]["Status"] == "exited" and obj["State"]["Running"] is False
    for fmt in (["--format", "{{.State.Running}}"], ["-f", "{{.State.Running}}"]):
        assert docker("inspect", *fmt, CONTAINER).stdout.strip() == "true"
        assert docker("inspect", *fmt, CONTAINER, FAKE_DOCKER_STATE="exited").stdout == "false\n"
    for r in (
        docker("inspect", "other"),
        docker("inspect", CONTAINER, FAKE_DOCKER_STATE="missing"),
    ):
        assert r.returncode == 1 and "Error: No such object: " in r.stderr


def test_docker_exec_refusals() -> None:
    r = docker("exec", "-i", "other", "psql")
    assert (r.returncode, r.stderr.strip()) == (
        1,
        "Error response from daemon: No such container: other",
    )
    r = docker("exec", "-i", CONTAINER, "psql", FAKE_DOCKER_STATE="exited")
    assert r.returncode == 1 and f"container {CONTAINER} is not running" in r.stderr
    for argv in (
        ["psql", "-h", "127.0.0.1"],
        ["pg_dump", "-p", "5432"],
        ["psql", "--host=x"],
        ["pg_dump", "-d", "postgresql://u@db:5432/x"],
        ["psql", "-d", "host=db"],
    ):
        r = docker("exec", "-i", CONTAINER, *argv)
        assert r.returncode == 125 and "-h/-p must not be passed" in r.stderr, argv
    r = docker("exec", "-i", "-e", "PGPASSWORD=x", CONTAINER, "psql")
    assert r.returncode == 125 and "a secret was passed on the command line" in r.stderr


@pytest.mark.integration
def test_docker_exec_runs_psql_with_the_password_from_the_environment(
    server: Server, tmp_path: Path
) -> None:
    log = tmp_path / "docker.log"
    env = {
        "FAKE_DOCKER_PGBIN": str(server.bindir),
        "FAKE_DOCKER_PGHOST": server.host,
        "FAKE_DOCKER_PGPORT": str(server.port),
        "FAKE_DOCKER_LOG": str(log),
        "PGPASSWORD": server.password,
    }
    psql = ["psql", "-X", "-A", "-t", "-U", "postgres", "-d", "dev_coach", "-c", "select 1"]
    r = docker("exec", "-i", "-e", "PGPASSWORD", CONTAINER, *psql, **env)
    assert (r.returncode, r.stdout.strip()) == (0, "1"), r.stderr
    assert json.loads(log.read_text().splitlines()[0]) == [
        "docker",
        "exec",
        "-i",
        "-e",
        "PGPASSWORD",
        CONTAINER,
        *psql,
    ]
    # without -e the password stays out of the "container": scram refuses the connection
    r = docker("exec", "-i", CONTAINER, *psql, **env)
    assert r.returncode != 0 and "password" in r.stderr
