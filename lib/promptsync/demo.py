"""`make demo`: the whole flow on three throwaway PostgreSQL servers on this machine.

local has the new release's prompts, staging last release's, production an older one. The demo
runs the real front door (make verify, make sync-staging, make sync-prod) against them and
leaves the servers running for you to explore; `make demo-stop` removes them.
No cloud. Where a Docker engine answers `docker info` (DOCKER_HOST, or the default socket),
local is a container (PROMPTSYNC_DEMO_IMAGE, default postgres:15) reached through
`docker exec`, as in real use; without one, or when the image cannot be had, local is a
throwaway server reached directly (LOCAL_DB_HOST).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from promptsync.throwaway import Server, find_server_bindir, load_server, start_server

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = Path(os.environ.get("PROMPTSYNC_DEMO_DIR", ROOT / ".demo"))
NAMES = ("local", "staging", "production")
CONTAINER = "promptsync-demo-local"
IMAGE = os.environ.get("PROMPTSYNC_DEMO_IMAGE", "postgres:15")
CONFIG_PREFIXES = ("LOCAL_DB_", "STAGING_", "PROD_", "PROMPTSYNC_")

# How the older releases differ from the new one (applied after seeding).
STAGING_DRIFT = """
DELETE FROM prompts WHERE version = 3 AND coach_state IN ('celebration', 'follow_up');
UPDATE prompts SET body = replace(body, 'warm, direct tone', 'friendly tone'),
                   updated_at = timestamptz '2026-02-01 08:00:00+00'
 WHERE coach_state = 'blocked';
INSERT INTO prompts (name, coach_state, prompt_type, version, body)
VALUES ('legacy.greeting', 'onboarding', 'legacy', 1, 'Hello! (retired in the new release)');
"""
PRODUCTION_DRIFT = """
DELETE FROM prompts WHERE version = 3;
UPDATE prompts SET temperature = 0.9 WHERE prompt_type = 'evaluation';
"""


def say(text: str) -> None:
    sys.stderr.write(f"\n\033[1m== {text}\033[0m\n" if sys.stderr.isatty() else f"\n== {text}\n")
    sys.stderr.flush()


def stop(directory: Path = DEMO_DIR) -> None:
    for meta in sorted(directory.glob("*/server.json")):
        load_server(meta).destroy()
    if (directory / "container").exists() and docker_answers():
        _docker("rm", "-f", "-v", CONTAINER)
    shutil.rmtree(directory, ignore_errors=True)


def _docker(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        input=stdin,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def docker_answers() -> bool:
    """Does a Docker engine answer here (DOCKER_HOST, or the default socket)?"""
    try:
        return shutil.which("docker") is not None and _docker("info").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Container:
    """The demo's local database as a container, reached only through `docker exec` (its own
    socket; no published port). The password reaches docker through its environment."""

    user, dbname = "postgres", "dev_coach"

    def __init__(self, password: str) -> None:
        self.password = password

    def start(self, timeout: float = 120) -> str | None:
        """None once the database answers; else why not (and the container is removed)."""
        _docker("rm", "-f", "-v", CONTAINER)
        run = _docker(
            "run", "-d", "--name", CONTAINER, "--network", "none",
            "-e", "POSTGRES_PASSWORD", "-e", f"POSTGRES_DB={self.dbname}", IMAGE,
            env={"POSTGRES_PASSWORD": self.password},
        )  # fmt: skip
        if run.returncode != 0:
            return (run.stderr.strip().splitlines() or ["docker run failed"])[-1]
        probe = ("exec", CONTAINER, "pg_isready", "-h", "127.0.0.1", "-U", self.user)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # over TCP: the first-start server is socket-only
            if _docker(*probe, "-d", self.dbname).returncode == 0:
                return None
            time.sleep(0.5)
        _docker("rm", "-f", "-v", CONTAINER)
        return f"{CONTAINER} did not accept connections within {timeout:.0f} s"

    def psql(self, sql: str) -> str:
        argv = ["exec", "-i", CONTAINER, "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        r = _docker(*argv, "-U", self.user, "-d", self.dbname, "-f", "-", stdin=sql)
        if r.returncode != 0:
            raise RuntimeError(f"psql in {CONTAINER} failed: {r.stderr.strip()}")
        return r.stdout


def environment_for(servers: dict[str, Server | Container]) -> dict[str, str]:
    local, staging, prod = (servers[n] for n in NAMES)
    if isinstance(local, Container):
        where = {"LOCAL_DB_CONTAINER": CONTAINER}
    else:
        where = {"LOCAL_DB_HOST": local.host, "LOCAL_DB_PORT": str(local.port)}
    return {
        **where,
        "LOCAL_DB_NAME": local.dbname,
        "LOCAL_DB_USER": local.user,
        "LOCAL_DB_PASSWORD": local.password,
        "STAGING_DATABASE_URL": staging.url(),
        "PROD_DB_HOST": prod.host,
        "PROD_DB_PORT": str(prod.port),
        "PROD_DB_NAME": prod.dbname,
        "PROD_DB_USER": prod.user,
        "PROD_DB_PASSWORD": prod.password,
        # The demo's servers and the client tools from the same installation.
        "PROMPTSYNC_PG_BIN": str(staging.bindir),
    }


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.touch(mode=0o600)
    lines = ["# Settings of the demo's throwaway servers (make demo). Not for real databases."]
    lines += [f"{k}='{v}'" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")


def run_step(title: str, command: list[str], env: dict[str, str], succeeds: bool = True) -> str:
    """Run one make target; make turns any failure into exit 2, so only success is checked."""
    say(f"{title}\n$ {' '.join(command)}")
    started = time.monotonic()
    proc = subprocess.run(
        command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    sys.stderr.write(proc.stderr)
    if (proc.returncode == 0) != succeeds:
        raise SystemExit(f"demo: `{' '.join(command)}` exited {proc.returncode} unexpectedly")
    code = re.search(r"Error (\d+)$", proc.stderr.strip())  # make reports the tool's exit code
    status = f"promptsync exited {code.group(1)}" if code else f"exit {proc.returncode}"
    sys.stderr.write(f"   ({status}, {time.monotonic() - started:.1f} s)\n")
    return proc.stderr


def moved(stderr: str) -> tuple[int, str]:
    match = re.search(r"staged ([\d,]+) rows \(([^)]+)\)", stderr)
    return (int(match.group(1).replace(",", "")), match.group(2)) if match else (0, "0 B")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promptsync.demo", description=__doc__)
    parser.add_argument("--stop", action="store_true", help="stop the servers, delete the data")
    args = parser.parse_args(argv)
    if args.stop:
        stop()
        sys.stderr.write(f"demo: stopped and removed {DEMO_DIR}\n")
        return 0
    stop()  # a previous demo's servers
    DEMO_DIR.mkdir(parents=True)
    servers = start_servers()
    seed(servers)
    env = demo_environment(servers)
    staging, prod = walk_through(env)
    (s_rows, s_bytes), (p_rows, p_bytes) = moved(staging), moved(prod)
    say("Done")
    sys.stderr.write(
        f"   local -> staging: {s_rows} rows ({s_bytes}); staging -> production: {p_rows} rows "
        f"({p_bytes})\n"
        f"   The servers are still running. Try:\n"
        f"     PROMPTSYNC_ENV_FILE={DEMO_DIR}/demo.env bin/promptsync verify\n"
        f"   Clean up with: make demo-stop\n"
    )
    return 0


def start_servers() -> dict[str, Server | Container]:
    """Local in a container where a Docker engine answers, the rest throwaway servers."""
    bindir = find_server_bindir()
    say(f"1. Local in Docker where an engine answers; throwaway servers from {bindir}")
    servers: dict[str, Server | Container] = {}
    if docker_answers():
        container = Container(secrets.token_urlsafe(18))
        why = container.start()
        if why is None:
            (DEMO_DIR / "container").touch()  # for demo-stop
            servers["local"] = container
            version = container.psql("SHOW server_version").strip()
            sys.stderr.write(f"   local       PostgreSQL {version} in container {CONTAINER}\n")
        else:
            sys.stderr.write(f"   (no local container: {why}; local is a server instead)\n")
    else:
        sys.stderr.write("   (no Docker engine answers `docker info`: local is a server)\n")
    for name in NAMES:
        if name not in servers:
            server = start_server(name, DEMO_DIR, secrets.token_urlsafe(18), bindir=bindir)
            servers[name] = server
            where = f"127.0.0.1:{server.port}"
            sys.stderr.write(f"   {name:<11} PostgreSQL {server.major} on {where}\n")
    return servers


def seed(servers: dict[str, Server | Container]) -> None:
    say("2. Seed: local = the new release, staging = last release, production = an older one")
    schema = (ROOT / "sql" / "demo" / "schema.sql").read_text()
    rows = (ROOT / "sql" / "demo" / "seed.sql").read_text()
    drift = {"local": "", "staging": STAGING_DRIFT, "production": PRODUCTION_DRIFT}
    for name, server in servers.items():
        server.psql(schema + rows + drift[name])
        count = server.psql("SELECT count(*) FROM prompts").strip()
        sys.stderr.write(f"   {name:<11} {count} prompts\n")


def demo_environment(servers: dict[str, Server | Container]) -> dict[str, str]:
    """This process's environment without promptsync's settings, plus the demo's .env."""
    values = environment_for(servers)
    write_env_file(DEMO_DIR / "demo.env", values)
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update(values, PROMPTSYNC_ENV_FILE=str(DEMO_DIR / "demo.env"))
    return env


def walk_through(env: dict[str, str]) -> tuple[str, str]:
    """The everyday Make targets, in order; the stderr of the two promotions."""
    make = ["make", "--no-print-directory"]
    run_step(
        "3. Where do we stand? (exit 1: the environments differ)", [*make, "verify"], env, False
    )
    run_step(
        "4. What would reach staging? (a dry run changes nothing)",
        [*make, "sync-staging", "DRY_RUN=1"],
        env,
        False,
    )
    run_step(
        "5. Without FORCE=1 nothing is overwritten (exit 3)", [*make, "sync-staging"], env, False
    )
    staging = run_step("6. Promote local -> staging", [*make, "sync-staging", "FORCE=1"], env)
    prod = run_step(
        "7. Promote staging -> production (what the Render build runs)", [*make, "sync-prod"], env
    )
    run_step("8. Verify: every environment holds the same prompts", [*make, "verify"], env)
    return staging, prod


if __name__ == "__main__":
    sys.exit(main())
