"""The real CLI (`python -m promptsync`) in a subprocess with a controlled environment.

PATH holds only stand-ins for docker, psql and pg_dump that record every call in STUB_LOG and
answer like an unreachable server, so a test can prove that nothing was run (no STUB_LOG) or
see exactly what was run and with which argv.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "lib"
SECRET = "Sup3rS3cretPw"
LINE = re.compile(r"\d\d:\d\d:\d\d error: .+")

STUB = r"""#!/bin/sh
me=${0##*/}
{
  printf '%s' "$me"
  for a in "$@"; do printf ' [%s]' "$a"; done
  printf ' PGPASSWORD=%s\n' "${PGPASSWORD:+set}"
} >> "$STUB_LOG"
case "$me $1" in
  *" --version") echo "$me (PostgreSQL) 18.1"; exit 0 ;;
  "docker "*) echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
              exit 1 ;;
esac
echo "$me: error: connection to server at \"db.example.com\" (10.0.0.5), port 5432 failed: \
Connection refused" >&2
exit 2
"""


class CLI:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name in ("docker", "psql", "pg_dump"):
            path = self.bin / name
            path.write_text(STUB)
            path.chmod(0o755)
        self.log = tmp / "stub.log"

    def run(self, *args: str, **variables: str | None) -> subprocess.CompletedProcess[str]:
        """Run the CLI with a minimal environment plus `variables` (None removes one)."""
        env = {
            "PATH": str(self.bin),
            "PYTHONPATH": str(LIB),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(self.tmp),
            "LC_ALL": "C.UTF-8",
            "PROMPTSYNC_ENV_FILE": str(self.tmp / "absent.env"),
            "PROMPTSYNC_RETRIES": "0",
            "STUB_LOG": str(self.log),
            **variables,
        }
        return subprocess.run(
            [sys.executable, "-m", "promptsync", *args],
            env={k: v for k, v in env.items() if v is not None},
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=30,
        )

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def config_error(result: subprocess.CompletedProcess[str], cli: CLI) -> str:
    """Exit 2, nothing on stdout, one error line on stderr, nothing run; returns the line."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert LINE.fullmatch(lines[0]), lines[0]
    assert cli.calls == []
    return lines[0]


STAGING = {
    "STAGING_DB_HOST": "staging.example.com",
    "STAGING_DB_NAME": "appdb",
    "STAGING_DB_USER": "app",
    "STAGING_DB_PASSWORD": SECRET,
}


# -- usage -----------------------------------------------------------------------------------


def test_no_arguments_is_a_usage_error(cli):
    result = cli.run()
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage:" in result.stderr
    assert cli.calls == []


@pytest.mark.parametrize(
    "args", [["frobnicate"], ["sync"], ["sync", "local"], ["sync", "local", "staging", "--bogus"]]
)
def test_bad_command_lines_exit_2(cli, args):
    result = cli.run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage:" in result.stderr
    assert cli.calls == []


def test_version(cli):
    result = cli.run("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"promptsync \d+\.\d+\.\d+\n", result.stdout)


def test_help_documents_the_exit_codes(cli):
    result = cli.run("--help")
    assert result.returncode == 0
    for text in ("sync", "verify", "check", "2 usage or configuration error", "3 refused"):
        assert text in result.stdout


# -- configuration errors --------------------------------------------------------------------


def test_sync_to_unconfigured_staging_names_the_variable(cli):
    line = config_error(cli.run("sync", "local", "staging"), cli)
    assert "STAGING_DB_HOST" in line
    assert "STAGING_DATABASE_URL" in line


def test_sync_with_only_the_host_missing_names_only_the_host(cli):
    variables = {k: v for k, v in STAGING.items() if k != "STAGING_DB_HOST"}
    line = config_error(cli.run("sync", "local", "staging", "--force", **variables), cli)
    assert set(re.findall(r"STAGING_DB_[A-Z]+", line)) == {"STAGING_DB_HOST"}


def test_sync_to_unconfigured_production(cli):
    line = config_error(cli.run("sync", "staging", "prod", **STAGING), cli)
    assert "PROD_DB_HOST" in line


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://admin:{SECRET}@db.example.com/app",
        f"postgresql://admin:{SECRET}@db.example.com:99x/app",
        f"postgresql://admin:{SECRET}@db.example.com",
        f"postgresql://admin:{SECRET}@/app",
        f"postgresql://admin@db.example.com/app?password={SECRET}",
    ],
)
def test_malformed_staging_url(cli, url):
    result = cli.run("sync", "local", "staging", "--force", STAGING_DATABASE_URL=url)
    line = config_error(result, cli)
    assert "STAGING_DATABASE_URL" in line
    assert SECRET not in result.stdout + result.stderr


def test_bad_sslmode(cli):
    line = config_error(
        cli.run("sync", "local", "staging", **STAGING, STAGING_DB_SSLMODE="always"), cli
    )
    assert "STAGING_DB_SSLMODE" in line


def test_bad_port(cli):
    line = config_error(cli.run("sync", "local", "staging", **STAGING, STAGING_DB_PORT="54x"), cli)
    assert "STAGING_DB_PORT" in line


@pytest.mark.parametrize("name", ["nowhere", "no such", "../x"])
def test_unknown_environment(cli, name):
    line = config_error(cli.run("sync", "local", name), cli)
    assert "unknown environment" in line


def test_unknown_environment_says_how_to_define_it(cli):
    line = config_error(cli.run("verify", "nowhere"), cli)
    assert "NOWHERE_DATABASE_URL" in line


@pytest.mark.parametrize("command", ["verify", "check"])
def test_nothing_configured(cli, command):
    line = config_error(cli.run(command), cli)
    assert "no environment is configured" in line
    assert "LOCAL_DB_CONTAINER" in line


@pytest.mark.parametrize("command", [["rollback", "staging", "--force"], ["history", "staging"]])
def test_commands_on_an_unconfigured_target(cli, command):
    line = config_error(cli.run(*command), cli)
    assert "STAGING_DB_HOST" in line


def test_verify_of_an_unconfigured_environment(cli):
    line = config_error(cli.run("verify", "staging"), cli)
    assert "STAGING_DB_HOST" in line


def test_bad_promptsync_tables(cli):
    line = config_error(cli.run("verify", PROMPTSYNC_TABLES="prompts; drop table x"), cli)
    assert "PROMPTSYNC_TABLES" in line


def test_bad_table_option(cli):
    line = config_error(cli.run("--table", "x;y", "verify", **STAGING), cli)
    assert "--table" in line


def test_a_dotenv_file_is_read(cli):
    dotenv = cli.tmp / "my.env"
    dotenv.write_text("STAGING_DB_HOST=from-dotenv\n")
    line = config_error(cli.run("verify", "staging", PROMPTSYNC_ENV_FILE=str(dotenv)), cli)
    assert set(re.findall(r"STAGING_DB_[A-Z]+", line)) == {"STAGING_DB_NAME", "STAGING_DB_USER"}


def test_the_working_directorys_dotenv_is_read_by_default(cli):
    (cli.tmp / ".env").write_text("STAGING_DB_HOST=h\nSTAGING_DB_NAME=d\n")
    line = config_error(cli.run("verify", "staging", PROMPTSYNC_ENV_FILE=None), cli)
    assert set(re.findall(r"STAGING_DB_[A-Z]+", line)) == {"STAGING_DB_USER"}


# -- refused before anything runs ------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [("staging", "staging"), ("stage", "STAGING")])
def test_sync_onto_itself_is_refused(cli, source, target):
    result = cli.run("sync", source, target, "--force", **STAGING)
    assert result.returncode == 3
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "staging" in result.stderr
    assert cli.calls == []


# -- failures reach the stand-ins: one line, exit 4, the password only in the environment -----


def test_unreachable_staging_fails_with_one_line_and_no_secret(cli):
    result = cli.run(
        "sync",
        "staging",
        "prod",
        "--force",
        **STAGING,
        PROD_DATABASE_URL=f"postgresql://p:{SECRET}x@prod.example.com/db",
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if " error: " in line]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "staging" in errors[0]
    assert "connection refused" in errors[0].lower()
    assert SECRET not in result.stdout + result.stderr
    psql_calls = [  # the connections, not the version and TLS look-ups of tools.py
        c
        for c in cli.calls
        if c.startswith("psql ") and "[--version]" not in c and "promptsync-probe" not in c
    ]
    assert psql_calls, cli.calls
    for call in cli.calls:
        assert SECRET not in call
    assert psql_calls[0].endswith("PGPASSWORD=set")


def test_local_without_docker_daemon_fails_with_the_old_wording(cli):
    result = cli.run("sync", "local", "staging", "--force", **STAGING, LOCAL_DB_PASSWORD=SECRET)
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "Docker daemon is not running or not accessible!" in result.stderr
    assert SECRET not in result.stderr
    assert cli.calls and cli.calls[0].startswith("docker [info]")
    assert not any(c.startswith(("psql", "pg_dump")) for c in cli.calls)
