"""The Render build wrappers, run for real (`bash bin/render-build-...`) against the three servers
of the `cluster` fixture, with a stand-in app in tmp_path: its manage.py appends its argv to an
events file, and the promptsync virtualenv's python appends each `python -m promptsync.render`
call to the same file, so a test sees what ran and in which order. The steps themselves are
promptsync.render's (the build an application's own repository runs: test_app_repository.py);
`steps` are the titles of the steps the log announced.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STAMPED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ")
CHECK = "manage.py check"
MIGRATE = "manage.py migrate --noinput"
COLLECTSTATIC = "manage.py collectstatic --noinput"
KEEP_LIVE = "the previous version stays live"
INSTALL_PROMPTSYNC = "install promptsync into"
INSTALL_APP = "install the app's Python dependencies"
CHECK_STEP = "check the app (manage.py check"
UNPACK = "unpack the bundled PostgreSQL client tools"
MIGRATE_STEP = "migrate the database"
COLLECT_STEP = "collect static files"
SYNC_STEP = "sync prompts: staging -> production"
APP_STEPS = [INSTALL_PROMPTSYNC, INSTALL_APP, CHECK_STEP, UNPACK, MIGRATE_STEP, COLLECT_STEP]

MANAGE_PY = """\
import os
import sys

with open(os.environ["BUILD_EVENTS"], "a") as events:
    events.write(" ".join(["manage.py", *sys.argv[1:]]) + "\\n")
if sys.argv[1:2] == [os.environ.get("FAIL_MANAGE_COMMAND")]:
    sys.exit(f"CommandError: {sys.argv[1]} went wrong")
print(f"{sys.argv[1]}: ok")
"""

# The wrappers run "$PROMPTSYNC_VENV/bin/python -m promptsync.render ...": this one records the
# call and runs the test's own interpreter, where promptsync is already installed.
VENV_PYTHON = """\
#!/bin/sh
if [ "$1" = -m ] && [ "$2" = promptsync.render ]; then
  (shift; echo "$*") >> "$BUILD_EVENTS"
fi
exec {python} "$@"
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PROMPTSYNC_VENV that bin/bootstrap finds up to date, so it installs nothing."""
    venv = tmp_path_factory.mktemp("promptsync-venv")
    python = venv / "bin" / "python"
    python.parent.mkdir()
    python.write_text(VENV_PYTHON.format(python=shlex.quote(sys.executable)))
    python.chmod(0o755)
    stamp = venv / ".installed"
    stamp.touch()
    newer = max(time.time(), (ROOT / "pyproject.toml").stat().st_mtime) + 86400
    os.utime(stamp, (newer, newer))
    return venv


@dataclass
class Build:
    result: subprocess.CompletedProcess[str]
    events: list[str]

    @property
    def lines(self) -> list[str]:
        return self.result.stderr.splitlines()

    @property
    def steps(self) -> list[str]:
        """The steps announced (`==> TITLE`), each as the first of the known titles it starts
        with (the title itself when none)."""
        titles = [line.split(" ==> ", 1)[1] for line in self.lines if " ==> " in line]
        known = [*APP_STEPS, SYNC_STEP]
        return [next((k for k in known if t.startswith(k)), t) for t in titles]

    @property
    def manage(self) -> list[str]:
        return [event for event in self.events if event.startswith("manage.py")]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    app = tmp_path / "server"
    app.mkdir()
    (app / "requirements.txt").write_text("# the stand-in app needs no packages\n")
    (app / "manage.py").write_text(MANAGE_PY)
    return app


@pytest.fixture
def seeded(cluster):
    """Staging holds the new prompts, production old ones."""
    cluster.sql(
        "staging",
        "INSERT INTO prompts (name, prompt_type, body) VALUES "
        "('greeting', 'system', 'Hello, new'), ('coach', 'user', E'tab\\there'), "
        "('farewell', 'system', 'Bye')",
    )
    cluster.sql(
        "production",
        "INSERT INTO prompts (name, prompt_type, body) VALUES ('greeting', 'system', 'Hello, old')",
    )
    assert cluster.rows("staging") != cluster.rows("production")
    return cluster


@pytest.fixture
def build(cluster, venv: Path, tmp_path: Path) -> Callable[..., Build]:
    """build(SCRIPT, *ARGS, **ENV): run `bash bin/SCRIPT ARGS` from the repository root with
    the cluster's environment, APP_DIR=tmp_path/server and ENV; check what every build must
    do (nothing on stdout, every stderr line timestamped, no password shown)."""

    def run(script: str, *args: str, **env: str) -> Build:
        events = tmp_path / "events"
        events.write_text("")
        environment = cluster.env(
            PROMPTSYNC_VENV=str(venv),
            APP_DIR=str(tmp_path / "server"),
            PYTHON=sys.executable,
            BUILD_EVENTS=str(events),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
            **env,
        )
        for name in ("PROMPT_SYNC_OPTIONAL", "FAIL_MANAGE_COMMAND", "RENDER_GIT_COMMIT"):
            if name not in env:
                environment.pop(name, None)
        result = subprocess.run(
            ["bash", f"bin/{script}", *args],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        done = Build(result, events.read_text().splitlines())
        assert result.stdout == "", result.stdout
        unstamped = [line for line in done.lines if not STAMPED.match(line)]
        assert unstamped == [], result.stderr
        for server in cluster.servers.values():
            assert server.password not in result.stderr
        return done

    return run


def test_production_build_checks_migrates_collects_then_syncs(build, seeded, app, venv):
    """promptsync.render does the steps in the app's directory, with the app's Python."""
    done = build("render-build-production", RENDER_GIT_COMMIT="abc123")
    assert done.result.returncode == 0, done.result.stderr
    assert done.steps == [*APP_STEPS, SYNC_STEP]
    assert done.events == [
        f"promptsync.render build-production --app-dir {app} --app-python {sys.executable}",
        CHECK,
        MIGRATE,
        COLLECTSTATIC,
    ]
    assert seeded.rows("production") == seeded.rows("staging")
    out = done.result.stderr
    assert "commit abc123" in out
    assert "migrate: ok" in out and f"install promptsync into {venv}" in out
    assert (
        "promptsync.render build-production: done: this code goes live with staging's"
        in (done.lines[-1])
    )


def test_production_build_fails_when_the_sync_fails(build, seeded, app):
    before = seeded.state("production")
    done = build("render-build-production", PROD_DB_PASSWORD="wrong")
    assert done.result.returncode == 4
    assert done.steps == [*APP_STEPS, SYNC_STEP]
    assert done.manage == [CHECK, MIGRATE, COLLECTSTATIC]
    assert seeded.state("production") == before
    assert "promptsync.render build-production: the prompt sync failed (exit 4)" in done.lines[-1]
    assert KEEP_LIVE in done.lines[-1]
    assert "WARNING" not in done.result.stderr


def test_prompt_sync_optional_warns_and_deploys(build, seeded, app):
    before = seeded.state("production")
    done = build(
        "render-build-production",
        PROD_DB_PASSWORD="wrong",
        PROMPT_SYNC_OPTIONAL="1",
    )
    assert done.result.returncode == 0, done.result.stderr
    assert done.steps == [*APP_STEPS, SYNC_STEP]
    assert seeded.state("production") == before
    warnings = [line for line in done.lines if "WARNING: the prompt sync FAILED (exit 4)" in line]
    assert len(warnings) == 1, done.result.stderr
    assert "WARNING" in done.lines[-1]


def test_failing_migrate_fails_the_build_before_any_sync(build, seeded, app):
    before = seeded.state("production")
    done = build("render-build-production", FAIL_MANAGE_COMMAND="migrate")
    assert done.result.returncode == 4
    assert done.manage == [CHECK, MIGRATE]
    assert SYNC_STEP not in done.steps
    assert seeded.state("production") == before
    assert "CommandError: migrate went wrong" in done.result.stderr
    assert "build-production: manage.py migrate failed (exit 1)" in done.lines[-1]
    assert KEEP_LIVE in done.lines[-1]


def test_a_failing_check_fails_the_build_before_migrate(build, seeded, app):
    before = seeded.state("production")
    done = build("render-build-production", FAIL_MANAGE_COMMAND="check")
    assert done.result.returncode == 4
    assert done.manage == [CHECK]
    assert done.steps == [INSTALL_PROMPTSYNC, INSTALL_APP, CHECK_STEP]
    assert seeded.state("production") == before
    assert "build-production: manage.py check failed (exit 1)" in done.lines[-1]


def test_without_the_app_the_app_steps_are_skipped_and_the_sync_runs(build, seeded):
    done = build("render-build-production")  # no server/ in tmp_path
    assert done.result.returncode == 0, done.result.stderr
    assert done.events == ["promptsync.render build-production --no-app"]
    assert done.steps == [INSTALL_PROMPTSYNC, UNPACK, SYNC_STEP]
    assert "has no requirements.txt or no manage.py: skipping" in done.result.stderr
    assert seeded.rows("production") == seeded.rows("staging")


def test_app_only_then_sync_only_as_with_a_pre_deploy_command(build, seeded, app):
    before = seeded.state("production")
    done = build("render-build-production", "--app-only")
    assert done.result.returncode == 0, done.result.stderr
    assert done.manage == [CHECK, MIGRATE, COLLECTSTATIC]
    assert done.steps == APP_STEPS
    assert seeded.state("production") == before
    assert done.lines[-1].endswith("the prompt sync is left to the pre-deploy command")
    done = build("render-build-production", "--sync-only")
    assert done.result.returncode == 0, done.result.stderr
    assert done.events == ["promptsync.render pre-deploy"]
    assert done.steps == [INSTALL_PROMPTSYNC, SYNC_STEP]
    assert seeded.rows("production") == seeded.rows("staging")


def test_staging_build_runs_the_app_steps_and_prints_the_sync_command(build, seeded, app):
    before = {name: seeded.state(name) for name in ("staging", "production")}
    done = build("render-build-staging")
    assert done.result.returncode == 0, done.result.stderr
    assert done.manage == [CHECK, MIGRATE, COLLECTSTATIC]
    assert done.steps == APP_STEPS
    assert {name: seeded.state(name) for name in before} == before
    assert done.lines[-1].endswith(" make sync-staging FORCE=1")


def test_staging_build_fails_on_a_failing_collectstatic(build, app):
    done = build("render-build-staging", FAIL_MANAGE_COMMAND="collectstatic")
    assert done.result.returncode == 4
    assert done.manage == [CHECK, MIGRATE, COLLECTSTATIC]
    assert "build-staging: manage.py collectstatic failed (exit 1)" in done.lines[-1]
    assert KEEP_LIVE in done.lines[-1]


def test_the_last_line_says_what_happened_to_the_prompts(build, seeded, app):
    done = build("render-build-production")
    assert done.result.returncode == 0, done.result.stderr
    last = done.lines[-1]
    assert (
        "done: this code goes live with staging's prompts; prompts staging -> production: " in last
    )
    assert "2 inserted, 1 updated, 0 deleted; production now 3 rows, checksum " in last
    verified = seeded.run("verify", "staging", "production", "--json")
    after = json.loads(verified.stdout)["tables"]["public.prompts"]["production"]["checksum"]
    assert last.endswith(f"production now 3 rows, checksum {after}")

    again = build("render-build-production", "--sync-only")
    assert again.lines[-1].endswith(f"already in sync; production 3 rows, checksum {after}")


def test_after_a_failed_sync_one_line_says_production_kept_its_prompts(build, seeded, app):
    done = build("render-build-production", PROD_DB_PASSWORD="wrong")
    assert done.result.returncode != 0
    said = done.lines[-2]
    assert "build-production: prompts staging -> production: not synced, failed (exit 4)" in said
    assert "authentication failed" in said
