"""Bad input and failures: each ends with its documented exit code, one clear line on stderr,
no secret in any output, and the target exactly as it was."""

from __future__ import annotations

import socket
import subprocess
import time
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.integration

WRONG_PASSWORD = "Wr0ng-Pa55:w@rd'x"


# -- helpers ---------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error: ...` line on stderr (there must be exactly one, and no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if " error: " in f" {line}"]
    assert len(lines) == 1, result.stderr
    return lines[0]


def seed(cluster) -> None:
    """Different rows in every environment, so any sync would have something to change."""
    for n, env in enumerate(("local", "staging", "production"), start=1):
        cluster.sql(
            env,
            "INSERT INTO prompts (id, name, prompt_type, body, created_at) "
            f"SELECT i, 'p' || i, 'system', '{env} ' || i, '2024-01-01' "
            f"FROM generate_series(1, {n + 2}) AS i",
        )


def snapshot(cluster) -> dict[str, tuple[str, str]]:
    return {env: cluster.state(env) for env in ("local", "staging", "production")}


def no_secrets(cluster, result: subprocess.CompletedProcess[str], *extra: str) -> None:
    output = result.stdout + result.stderr
    passwords = [server.password for server in cluster.servers.values()]
    for secret in (*passwords, *(quote(p, safe="") for p in passwords), *extra):
        assert secret not in output, f"a password was printed: {output}"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fails(cluster, *args: str, code: int = 4, env=None, stdout_empty: bool = True) -> str:
    """Run, expect `code` with one error line, no secrets, nothing changed anywhere."""
    before = snapshot(cluster)
    result = cluster.run(*args, env=env)
    assert result.returncode == code, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    line = error_line(result)
    if stdout_empty:
        assert result.stdout == ""
    no_secrets(cluster, result)
    assert snapshot(cluster) == before
    return line


# -- Docker ----------------------------------------------------------------------------------
# Through the stand-in tests/bin/docker, so they run without an engine too; the real engine
# stages the same faults in test_docker_engine.py (stopped, removed, daemon unreachable).


def test_docker_daemon_down(cluster):
    seed(cluster)
    env = cluster.env(FAKE_DOCKER_DAEMON="down")
    line = fails(cluster, "sync", "local", "staging", "--force", env=env)
    assert line.endswith("error: Docker daemon is not running or not accessible!")
    # environments that do not need Docker still work
    result = cluster.run("sync", "staging", "production", "--force", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert cluster.rows("production") == cluster.rows("staging")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"FAKE_DOCKER_STATE": "exited"}, "dev-coach-local-db-1"),
        ({"FAKE_DOCKER_STATE": "missing"}, "dev-coach-local-db-1"),
        ({"LOCAL_DB_CONTAINER": "other"}, "other"),
    ],
    ids=["exited", "missing", "other-name"],
)
def test_container_not_running(cluster, overrides, name):
    seed(cluster)
    line = fails(cluster, "sync", "local", "staging", "--force", env=cluster.env(**overrides))
    assert line.endswith(f"error: {name} container is not running!")


def test_docker_daemon_down_when_local_is_the_target(cluster):
    seed(cluster)
    env = cluster.env(FAKE_DOCKER_DAEMON="down")
    line = fails(cluster, "sync", "staging", "local", "--force", env=env)
    assert "Docker daemon is not running" in line


# -- connections -----------------------------------------------------------------------------


def test_target_unreachable(cluster):
    seed(cluster)
    port = closed_port()
    url = f"postgresql://postgres:{quote(WRONG_PASSWORD, safe='')}@127.0.0.1:{port}/dev_coach"
    line = fails(
        cluster, "sync", "local", "staging", "--force", env=cluster.env(STAGING_DATABASE_URL=url)
    )
    assert "cannot connect to staging" in line and "connection refused" in line
    assert f"postgres@127.0.0.1:{port}/dev_coach" in line  # masked: user@host:port/db
    assert WRONG_PASSWORD not in line and quote(WRONG_PASSWORD, safe="") not in line


def test_source_unreachable(cluster):
    seed(cluster)
    port = closed_port()
    env = cluster.env(PROD_DB_PORT=str(port))
    line = fails(cluster, "sync", "production", "staging", "--force", env=env)
    assert "cannot connect to production" in line and "connection refused" in line


@pytest.mark.parametrize("form", ["url", "variables"])
def test_wrong_password(cluster, form):
    seed(cluster)
    staging = cluster.servers["staging"]
    if form == "url":
        url = staging.url().replace(
            quote(staging.password, safe=""), quote(WRONG_PASSWORD, safe="")
        )
        env = cluster.env(STAGING_DATABASE_URL=url)
    else:
        env = cluster.env(
            STAGING_DATABASE_URL="",
            STAGING_DB_HOST=staging.host,
            STAGING_DB_PORT=str(staging.port),
            STAGING_DB_NAME=staging.dbname,
            STAGING_DB_USER=staging.user,
            STAGING_DB_PASSWORD=WRONG_PASSWORD,
        )
    before = snapshot(cluster)
    result = cluster.run("sync", "local", "staging", "--force", env=env)
    assert result.returncode == 4, result.stderr
    line = error_line(result)
    assert "cannot connect to staging" in line and "authentication failed" in line
    assert result.stdout == ""
    no_secrets(cluster, result, WRONG_PASSWORD, quote(WRONG_PASSWORD, safe=""))
    assert snapshot(cluster) == before


def test_wrong_password_for_the_local_container(cluster):
    seed(cluster)
    before = snapshot(cluster)
    result = cluster.run(
        "sync", "local", "staging", "--force", env=cluster.env(LOCAL_DB_PASSWORD=WRONG_PASSWORD)
    )
    assert result.returncode == 4, result.stderr
    line = error_line(result)
    assert "cannot connect to local" in line and "authentication failed" in line
    assert "docker:dev-coach-local-db-1" in line
    no_secrets(cluster, result, WRONG_PASSWORD)
    assert WRONG_PASSWORD not in (cluster.tmp / "docker.log").read_text()
    assert snapshot(cluster) == before


def test_verify_and_check_with_an_unreachable_environment(cluster):
    seed(cluster)
    env = cluster.env(PROD_DB_PORT=str(closed_port()))
    before = snapshot(cluster)
    result = cluster.run("verify", env=env)
    assert result.returncode == 4, result.stderr
    assert "cannot connect to production" in error_line(result)
    result = cluster.run("check", env=env)
    assert result.returncode == 4, result.stderr
    assert "cannot connect to production" in error_line(result)
    assert "production: FAILED" in result.stdout
    assert "staging: ok" in result.stdout and "local: ok" in result.stdout
    no_secrets(cluster, result)
    assert snapshot(cluster) == before


def test_retries_then_gives_up(cluster):
    seed(cluster)
    port = closed_port()
    env = cluster.env(
        PROMPTSYNC_RETRIES="2",
        STAGING_DATABASE_URL=f"postgresql://postgres:x@127.0.0.1:{port}/dev_coach",
    )
    before = snapshot(cluster)
    started = time.monotonic()
    result = cluster.run("sync", "local", "staging", "--force", env=env, timeout=90)
    elapsed = time.monotonic() - started
    assert result.returncode == 4, result.stderr
    assert elapsed < 60
    assert result.stderr.count("retrying in") == 2
    assert "cannot connect to staging" in error_line(result)
    assert snapshot(cluster) == before


# -- tables ----------------------------------------------------------------------------------


def test_table_missing_in_target(cluster):
    seed(cluster)
    cluster.sql("staging", "DROP TABLE prompts")
    local = cluster.state("local")
    result = cluster.run("sync", "local", "staging", "--force")
    assert result.returncode == 4, result.stderr
    line = error_line(result)
    assert "public.prompts does not exist in staging" in line
    assert result.stdout == ""
    assert cluster.sql("staging", "SELECT to_regclass('public.prompts') IS NULL").strip() == "t"
    assert cluster.state("local") == local


def test_table_unknown_with_table_option(cluster):
    seed(cluster)
    line = fails(cluster, "--table", "nosuch", "sync", "local", "staging", "--force")
    assert "public.nosuch does not exist in local" in line


@pytest.mark.parametrize(
    ("side", "args"),
    [
        ("staging", ("sync", "local", "staging", "--force")),
        ("local", ("sync", "local", "staging", "--force")),
    ],
)
def test_table_without_primary_key(cluster, side, args):
    seed(cluster)
    cluster.sql(side, "ALTER TABLE prompts DROP CONSTRAINT prompts_pkey")
    line = fails(cluster, *args)
    assert "public.prompts" in line and "no primary key" in line and side in line


# -- guards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ddl",
    [
        "ALTER TABLE prompts ADD COLUMN owner text",
        "ALTER TABLE prompts DROP COLUMN updated_at",
        "ALTER TABLE prompts ALTER COLUMN body TYPE varchar(20)",
    ],
    ids=["extra-column", "missing-column", "other-type"],
)
def test_schema_drift_is_refused(cluster, ddl):
    seed(cluster)
    cluster.sql("staging", ddl)
    column = ddl.split("COLUMN ")[1].split()[0]
    line = fails(cluster, "sync", "local", "staging", "--force", code=3)
    assert "schemas differ" in line and column in line and "migrat" in line


def test_empty_source_is_refused(cluster):
    seed(cluster)
    cluster.sql("local", "DELETE FROM prompts")
    line = fails(cluster, "sync", "local", "staging", "--force", code=3)
    assert "empty" in line and "--allow-empty" in line


def test_mass_delete_is_refused(cluster):
    seed(cluster)
    cluster.sql("local", "DELETE FROM prompts WHERE id > 1")
    line = fails(cluster, "sync", "local", "staging", "--force", code=3)
    assert "leave 1 of 4 rows" in line and "--allow-mass-delete" in line


# -- configuration and usage -----------------------------------------------------------------


def test_unknown_environment_name(cluster):
    seed(cluster)
    line = fails(cluster, "sync", "local", "nowhere", "--force", code=2)
    assert "unknown environment 'nowhere'" in line and "NOWHERE_DATABASE_URL" in line
    line = fails(cluster, "sync", "local", "Bad Name!", "--force", code=2)
    assert "unknown environment" in line
    line = fails(cluster, "verify", "local", "nowhere", code=2)
    assert "NOWHERE_DATABASE_URL" in line


def test_missing_staging_variables(cluster):
    seed(cluster)
    line = fails(
        cluster,
        "sync",
        "local",
        "staging",
        "--force",
        code=2,
        env=cluster.env(STAGING_DATABASE_URL=""),
    )
    assert "staging is not configured" in line
    for variable in (
        "STAGING_DB_NAME",
        "STAGING_DB_USER",
        "STAGING_DB_HOST",
        "STAGING_DATABASE_URL",
    ):
        assert variable in line
    line = fails(
        cluster,
        "sync",
        "local",
        "staging",
        "--force",
        code=2,
        env=cluster.env(STAGING_DATABASE_URL="", STAGING_DB_HOST="127.0.0.1"),
    )
    assert "STAGING_DB_NAME" in line and "STAGING_DB_USER" in line
    assert "STAGING_DB_HOST" not in line


MALFORMED_URLS = [
    ("mysql://u:Sekr1tPw@127.0.0.1/dev_coach", "postgresql://"),
    ("postgresql://u:Sekr1tPw@127.0.0.1:notaport/dev_coach", "port"),
    ("postgresql://u:Sekr1tPw@127.0.0.1:5432/", "database"),
    ("postgresql://127.0.0.1:5432/dev_coach", "user"),
    ("postgresql://u:Sekr1tPw@127.0.0.1/dev_coach?password=Sekr1tPw", "password"),
    ("not a url at all", "postgresql://"),
]


def test_malformed_url(cluster):
    seed(cluster)
    before = snapshot(cluster)
    for url, why in MALFORMED_URLS:  # one test: no database is touched, so no fresh tables
        result = cluster.run(
            "sync", "local", "staging", "--force", env=cluster.env(STAGING_DATABASE_URL=url)
        )
        assert result.returncode == 2, (url, result.stderr)
        line = error_line(result)
        assert "STAGING_DATABASE_URL" in line and why in line, (url, line)
        assert result.stdout == ""
        no_secrets(cluster, result, "Sekr1tPw")
    assert snapshot(cluster) == before


def test_malformed_settings(cluster):
    seed(cluster)
    for variable, value in [
        ("PROD_DB_PORT", "54x"),
        ("PROD_DB_PORT", "70000"),
        ("PROD_DB_SSLMODE", "sometimes"),
        ("PROMPTSYNC_RETRIES", "many"),
        ("PROMPTSYNC_RETRIES", "-1"),
    ]:
        line = fails(
            cluster,
            "sync",
            "staging",
            "production",
            "--force",
            "--yes",
            code=2,
            env=cluster.env(**{variable: value}),
        )
        assert variable in line and value in line, line


def test_invalid_table_name(cluster):
    seed(cluster)
    line = fails(cluster, "--table", "prompts;drop", "sync", "local", "staging", "--force", code=2)
    assert "--table" in line and "prompts;drop" in line
    line = fails(
        cluster,
        "sync",
        "local",
        "staging",
        "--force",
        code=2,
        env=cluster.env(PROMPTSYNC_TABLES='prompts,"x"'),
    )
    assert "PROMPTSYNC_TABLES" in line


def test_bad_command_line(cluster):
    seed(cluster)
    before = snapshot(cluster)
    for args in (("sync", "local"), ("sync", "local", "staging", "--bogus"), ("nosuch",)):
        result = cluster.run(*args)
        assert result.returncode == 2, result.stderr
        assert "usage:" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert snapshot(cluster) == before


def test_no_environment_configured(cluster):
    env = {
        k: v
        for k, v in cluster.env().items()
        if not k.startswith(("LOCAL_DB", "STAGING_", "PROD_"))
    }
    result = cluster.run("verify", env=env)
    assert result.returncode == 2, result.stderr
    assert "no environment is configured" in error_line(result)


# -- same source and target ------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [("staging", "staging"), ("prod", "production")])
def test_same_source_and_target_by_name(cluster, source, target):
    seed(cluster)
    line = fails(cluster, "sync", source, target, "--force", "--yes", code=3)
    assert "source and target are both" in line


def test_same_database_under_two_names(cluster):
    seed(cluster)
    prod = cluster.servers["production"]
    url = prod.url().replace("127.0.0.1", "localhost")
    env = cluster.env(STAGING_DATABASE_URL=url)
    line = fails(cluster, "sync", "staging", "production", "--force", "--yes", code=3, env=env)
    assert "same database" in line
