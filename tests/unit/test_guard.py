"""The autouse guard (conftest.no_processes): no promptsync module can start a process here."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sh

from promptsync import preflight, session, tools
from promptsync.config import Environment
from promptsync.tools import Tools

FORBIDDEN = "unit tests start no processes"
DOCKER_ENV = Environment(name="local", dbname="d", user="u", container="c")


def test_no_promptsync_module_holds_the_real_subprocess_or_sh():
    modules = {
        n: m for n, m in sys.modules.items() if n == "promptsync" or n.startswith("promptsync.")
    }
    assert {"promptsync.session", "promptsync.sync", "promptsync.preflight"} <= set(modules)
    for name, module in modules.items():
        for attribute, value in vars(module).items():
            assert value is not subprocess, f"{name}.{attribute}"
            assert value is not sh, f"{name}.{attribute}"
            assert value is not subprocess.Popen, f"{name}.{attribute}"
            assert value is not subprocess.run, f"{name}.{attribute}"


def test_opening_a_psql_session_is_refused():
    with pytest.raises(AssertionError, match=FORBIDDEN):
        session.Session(DOCKER_ENV, Tools())


def test_asking_a_tools_version_is_refused():
    with pytest.raises(AssertionError, match=FORBIDDEN):
        tools.version_of("pg_dump")


def test_docker_is_refused():
    with pytest.raises(AssertionError, match=FORBIDDEN):
        preflight.check_docker(DOCKER_ENV)


def test_git_is_refused(monkeypatch):
    history = pytest.importorskip("promptsync.history")
    monkeypatch.delenv("RENDER_GIT_COMMIT", raising=False)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    with pytest.raises(AssertionError, match=FORBIDDEN):
        history.git_commit()


def test_the_guard_keeps_the_rest_of_the_module():
    assert session.subprocess.PIPE == subprocess.PIPE
    assert session.subprocess.TimeoutExpired is subprocess.TimeoutExpired
