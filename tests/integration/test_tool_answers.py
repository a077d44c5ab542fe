"""Choosing the client tools costs nothing on a repeat run: what each candidate said of itself
(`--version`, whether it has TLS) is remembered (toolcache.py) and asked again only when the
file changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.test_schemas import ok
from promptsync import bundled

pytestmark = pytest.mark.integration

WRAPPER = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
exec {real} "$@"
"""


@pytest.fixture
def logged_tools(tmp_path: Path) -> tuple[Path, Path]:
    """pg_dump and psql on PATH that log every call and run the bundled PostgreSQL 18 ones."""
    real = bundled.bindir()
    if real is None:
        pytest.skip("the bundled PostgreSQL tools are not installed (bin/bootstrap does it)")
    bindir, log = tmp_path / "logged-bin", tmp_path / "calls.log"
    bindir.mkdir()
    for tool in ("pg_dump", "psql"):
        (bindir / tool).write_text(WRAPPER.format(log=log, real=real / tool))
        (bindir / tool).chmod(0o755)
    return bindir, log


def test_a_repeat_run_asks_no_tool_about_itself(cluster, logged_tools, tmp_path):
    bindir, log = logged_tools
    env = cluster.env(PROMPTSYNC_CACHE_DIR=str(tmp_path / "cache"))
    env["PATH"] = f"{bindir}:{env['PATH']}"
    first = ok(cluster.run("check", "staging", env=env))
    assert f"from PATH ({bindir})" in first.stdout, first.stdout
    asked = log.read_text()
    assert "pg_dump --version" in asked and "sslmode=require" in asked
    log.write_text("")
    ok(cluster.run("check", "staging", env=env))
    again = log.read_text()
    assert "--version" not in again and "sslmode=require" not in again, again
    assert "psql -X" in again  # the connection itself
    # a tool replaced in place is asked again
    (bindir / "psql").write_text((bindir / "psql").read_text() + "# replaced\n")
    log.write_text("")
    ok(cluster.run("check", "staging", env=env))
    assert "psql --version" in log.read_text()
