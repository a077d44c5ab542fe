"""promptsync.errors and the CLI's mapping of error classes to exit codes (in-process: the
command's work is replaced, so nothing is run)."""

from __future__ import annotations

import os

import pytest

from promptsync import cli, errors
from promptsync.errors import (
    CommitUnknown,
    ConfigError,
    Failed,
    PromptsyncError,
    Refused,
    UsageError,
)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (UsageError, 2),
        (ConfigError, 2),
        (Refused, 3),
        (Failed, 4),
        (CommitUnknown, 4),
        (PromptsyncError, 4),
    ],
)
def test_exit_codes(cls, code):
    assert cls.exit_code == code
    assert cls("x").exit_code == code


def test_documented_exit_code_constants():
    assert (
        errors.EXIT_OK,
        errors.EXIT_DIFFERENCES,
        errors.EXIT_USAGE,
        errors.EXIT_REFUSED,
        errors.EXIT_FAILED,
    ) == (0, 1, 2, 3, 4)


@pytest.mark.parametrize("cls", [UsageError, ConfigError, Refused, Failed, CommitUnknown])
def test_every_error_is_a_promptsync_error(cls):
    assert issubclass(cls, PromptsyncError)


def test_config_error_is_a_usage_error():
    assert issubclass(ConfigError, UsageError)


def test_commit_unknown_is_a_failure():
    assert issubclass(CommitUnknown, Failed)


def test_failed_is_permanent_unless_said_otherwise():
    assert Failed("x").transient is False
    assert Failed("x", transient=True).transient is True
    assert str(Failed("one line")) == "one line"


def test_transient_is_keyword_only():
    with pytest.raises(TypeError):
        Failed("x", True)  # type: ignore[misc]


# -- cli.main maps exceptions to exit codes ----------------------------------------------------


@pytest.fixture
def quiet_environment(monkeypatch, tmp_path):
    """os.environ without any environment configured and no .env file."""
    monkeypatch.setenv("PROMPTSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    for name in list(os.environ):
        if name.startswith(("LOCAL_DB_", "STAGING_", "PROD_", "PROMPTSYNC_TABLES", "PG")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (Refused("not without --force"), 3),
        (Failed("pg_dump of local failed"), 4),
        (CommitUnknown("commit broke", transient=True), 4),
        (ConfigError("STAGING_DB_HOST is not set"), 2),
        (KeyboardInterrupt(), 4),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_main_maps_errors_to_exit_codes(quiet_environment, monkeypatch, capsys, raised, code):
    def run(*_args, **_kwargs):
        raise raised

    monkeypatch.setattr("promptsync.sync.run", run)
    assert cli.main(["sync", "local", "staging"]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert " error: " in err


@pytest.mark.parametrize("returned", [0, 1])
def test_main_returns_the_commands_code(quiet_environment, monkeypatch, returned):
    monkeypatch.setattr("promptsync.verify.verify", lambda settings, names, fast=False: returned)
    assert cli.main(["verify"]) == returned


def test_main_passes_table_options_to_the_command(quiet_environment, monkeypatch):
    seen = {}

    def verify(settings, names, fast=False):
        seen["tables"] = [str(t) for t in settings.tables]
        seen["names"] = names
        seen["fast"] = fast
        return 0

    monkeypatch.setattr("promptsync.verify.verify", verify)
    args = ["--table", "prompts", "--table", "app.x", "verify", "--fast", "prod"]
    assert cli.main(args) == 0
    assert seen == {"tables": ["public.prompts", "app.x"], "names": ["prod"], "fast": True}


def test_main_rejects_a_bad_table_option(quiet_environment, monkeypatch, capsys):
    monkeypatch.setattr("promptsync.verify.verify", lambda settings, names: pytest.fail("ran"))
    assert cli.main(["--table", "x; drop table y", "verify"]) == 2
    assert "--table" in capsys.readouterr().err


def test_main_passes_sync_options(quiet_environment, monkeypatch):
    seen = {}

    def run(settings, source, target, options):
        seen.update(
            source=source,
            target=target,
            force=options.force,
            dry_run=options.dry_run,
            yes=options.yes,
        )
        return 0

    monkeypatch.setattr("promptsync.sync.run", run)
    assert cli.main(["sync", "staging", "prod", "--force", "--dry-run", "-y"]) == 0
    assert seen == dict(source="staging", target="prod", force=True, dry_run=True, yes=True)


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["sync", "local"], ["sync", "--bogus"]])
def test_main_usage_errors_exit_2(quiet_environment, args, capsys):
    with pytest.raises(SystemExit) as excinfo:
        cli.main(args)
    assert excinfo.value.code == 2
    assert capsys.readouterr().out == ""
