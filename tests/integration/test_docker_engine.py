"""The real local stack: docker/docker-compose.yml brought up by pytest-docker, then a sync
from its container through the real docker CLI. Runs only where a Docker engine answers;
elsewhere (CI here has none) it is skipped with that reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docker_engine]

ROOT = Path(__file__).resolve().parents[2]


def _engine_answers() -> bool:
    docker = shutil.which("docker")
    if not docker or Path(docker).parent == ROOT / "tests" / "bin":
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


if not _engine_answers():
    pytest.skip("no Docker engine answers `docker info` here", allow_module_level=True)


@pytest.fixture(scope="session")
def docker_compose_file() -> list[str]:
    return [
        str(ROOT / "docker" / "docker-compose.yml"),
        str(ROOT / "docker" / "docker-compose.local.yml"),
    ]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return "dev-coach-local"


def test_sync_from_the_compose_container(docker_services, cluster):
    def ready() -> bool:
        probe = ["docker", "exec", "dev-coach-local-db-1", "pg_isready", "-U", "postgres"]
        return subprocess.run(probe, capture_output=True).returncode == 0

    docker_services.wait_until_responsive(timeout=120, pause=1, check=ready)
    schema = (ROOT / "sql" / "demo" / "schema.sql").read_text()
    seed = (ROOT / "sql" / "demo" / "seed.sql").read_text()
    subprocess.run(
        [
            "docker",
            "exec",
            "-i",
            "dev-coach-local-db-1",
            "psql",
            "-U",
            "postgres",
            "-d",
            "dev_coach",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
        ],
        input=f"DROP TABLE IF EXISTS prompts CASCADE;{schema}{seed}",
        text=True,
        check=True,
    )
    env = cluster.env(
        PATH=str(Path(shutil.which("docker")).parent) + ":/usr/bin:/bin",
        LOCAL_DB_PASSWORD="postgres",
    )
    result = cluster.run("sync", "local", "staging", "--force", env=env)
    assert result.returncode == 0, result.stderr
    verify = cluster.run("verify", "local", "staging", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
