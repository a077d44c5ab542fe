"""Unit-test fixtures. Unit tests never start a process: every promptsync module's reference
to `subprocess` or `sh` (how psql, pg_dump and docker are run) is replaced, for each test, by a
guard that fails the test when asked to run anything. The CLI tests run `python -m promptsync`
with the test's own `subprocess`, in an environment whose PATH holds only stand-ins that record
any call (see test_cli.py)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sh

import promptsync
from promptsync import config, log, toolcache
from promptsync.config import Environment, Settings

FORBIDDEN = "unit tests start no processes"
RUNNERS = ("Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput")


def promptsync_modules() -> list[ModuleType]:
    """Every module of the package (not __main__, which would run the CLI on import)."""
    names = [m.name for m in pkgutil.iter_modules(promptsync.__path__) if m.name != "__main__"]
    return [promptsync, *(importlib.import_module(f"promptsync.{n}") for n in names)]


class _NoProcesses:
    """Stands in for a module (subprocess, sh): everything but starting a process."""

    def __init__(self, real: ModuleType, where: str) -> None:
        self._real = real
        self._where = where

    def __getattr__(self, name: str) -> Any:
        if name in RUNNERS or name == "Command":
            return self._refuse
        return getattr(self._real, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # sh.docker(...) style
        return self._refuse(*args, **kwargs)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        what = args[0] if args else kwargs.get("args")
        raise AssertionError(f"{FORBIDDEN}: {self._where} tried to run {what!r}")


def _refuse_function(where: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{FORBIDDEN}: {where} tried to run {args[:1]!r}")

    return refuse


@pytest.fixture(autouse=True)
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    runners = [getattr(subprocess, name) for name in RUNNERS]
    for module in promptsync_modules():
        for attribute, value in list(vars(module).items()):
            where = f"{module.__name__}.{attribute}"
            if value is subprocess or value is sh:
                monkeypatch.setattr(module, attribute, _NoProcesses(value, where))
            elif any(value is runner for runner in runners):  # from subprocess import run
                monkeypatch.setattr(module, attribute, _refuse_function(where))
    # sh is imported where it is used (import sh inside a function): guard that import too
    monkeypatch.setitem(sys.modules, "sh", _NoProcesses(sh, "an `import sh` in promptsync"))


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No answers remembered by earlier runs (toolcache) reach a unit test."""
    monkeypatch.setenv("PROMPTSYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(toolcache, "_answers", None)
    monkeypatch.setattr(toolcache, "_places", lambda: [tmp_path / "cache" / toolcache.FILE])


@pytest.fixture(autouse=True)
def clean_log_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """log keeps registered secrets and the quiet flag in module globals: isolate each test."""
    monkeypatch.setattr(log, "_secrets", set())
    monkeypatch.setattr(log, "_quiet", False)


@pytest.fixture
def no_dotenv(tmp_path: Path) -> Path:
    """A .env path that does not exist, so no test reads a .env from the working directory."""
    return tmp_path / "absent.env"


@pytest.fixture
def settings_of(no_dotenv: Path) -> Callable[..., Settings]:
    """settings_of(STAGING_DB_HOST="h", ...) -> Settings from exactly these variables."""

    def make(**variables: str) -> Settings:
        return config.load_settings(variables, dotenv=no_dotenv)

    return make


@pytest.fixture
def env_of(settings_of: Callable[..., Settings]) -> Callable[..., Environment]:
    """env_of("staging", STAGING_DB_HOST="h", ...) -> the validated Environment."""

    def make(name: str, **variables: str) -> Environment:
        return config.environment(settings_of(**variables), name)

    return make
