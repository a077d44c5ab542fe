"""promptsync as Python functions: each returns the documented exit code (0 done, 1
differences, 2 usage or configuration, 3 refused, 4 failed) and writes what the command line
writes (stderr: progress and errors; stdout: text, JSON or Markdown). The CLI and the Django
management commands (promptsync.django) both run through run() here: one code path.

run() loads the configuration once, maps every promptsync error to its exit code, and then
publishes the document the command collected (output.put):
- on stdout, as JSON (--format json) or Markdown (--format markdown);
- appended as Markdown to the file GITHUB_STEP_SUMMARY names (set by GitHub Actions), for
  sync and verify;
- as JSON to the file PROMPTSYNC_JSON_FILE names (a build script reads it back).
A report that cannot be written is said on stderr; it never changes the exit code.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from promptsync import log, output
from promptsync.config import Settings, load_settings, parse_tables
from promptsync.errors import EXIT_FAILED, PromptsyncError, UsageError

if TYPE_CHECKING:  # imported where used: a command loads only what it runs
    from promptsync.guards import References
    from promptsync.sync import Options

FORMATS = output.FORMATS
Action = Callable[[Settings], int]


def sync(
    source: str,
    target: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    allow_empty: bool = False,
    allow_mass_delete: bool = False,
    interactive: bool | None = None,
    only: Sequence[str] = (),
    discard_target_edits: bool = False,
    references: References | None = None,
    expect_plan: str = "",
    tables: Sequence[str] = (),
    fmt: str = "text",
    quiet: bool = False,
) -> int:
    """`promptsync sync SOURCE TARGET`. `interactive` (default: stdin and stderr are a
    terminal) decides whether --force asks for confirmation; `references` what may happen to
    rows of other tables that point at prompts the sync deletes (default: refuse)."""
    from promptsync import guards, sync

    options = sync.Options(
        force=force,
        dry_run=dry_run,
        yes=yes,
        interactive=is_interactive() if interactive is None else interactive,
        allow_empty=allow_empty,
        allow_mass_delete=allow_mass_delete,
        only=tuple(only),
        discard_target_edits=discard_target_edits,
        references=references or guards.References(),
        expect_plan=expect_plan,
    )
    action: Action = lambda settings: run_sync(settings, source, target, options)  # noqa: E731
    return run("sync", action, tables=tables, fmt=fmt, quiet=quiet)


def run_sync(settings: Settings, source: str, target: str, options: Options) -> int:
    """sync.run, with the names as given in the document until the sync knows better (so a
    sync that fails before it connects still says what it was doing)."""
    from promptsync import sync

    output.put("source", source)
    output.put("target", target)
    return sync.run(settings, source, target, options)


def verify(
    envs: Sequence[str] = (),
    *,
    tables: Sequence[str] = (),
    fmt: str = "text",
    quiet: bool = False,
) -> int:
    """`promptsync verify [ENV...]`: default every configured environment."""
    from promptsync import verify as verifying

    action: Action = lambda settings: verifying.verify(settings, list(envs))  # noqa: E731
    return run("verify", action, tables=tables, fmt=fmt, quiet=quiet)


def is_interactive() -> bool:
    """A person at a terminal who can answer a confirmation."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def run(
    command: str,
    action: Action,
    *,
    tables: Sequence[str] = (),
    fmt: str = "text",
    quiet: bool = False,
) -> int:
    """Run one command's action with the loaded settings; the exit code, never an exception
    for a promptsync error or Ctrl-C."""
    log.set_quiet(quiet)
    output.set_format(fmt)
    output.put("command", command)
    code, error = EXIT_FAILED, None
    try:
        if fmt not in FORMATS:
            raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        code = action(_with_tables(load_settings(), tables))
    except PromptsyncError as exc:
        error, code = str(exc), exc.exit_code
        log.error(error)
    except KeyboardInterrupt:
        error = "interrupted: nothing was committed"
        log.error(error)
    error = error and log.redact(error)
    output.emit(code, error)
    _publish(command, output.document(code, error), fmt)
    return code


def _with_tables(settings: Settings, tables: Sequence[str]) -> Settings:
    if not tables:
        return settings
    if not all(name.strip() for name in tables):
        raise UsageError("--table: '' is not a table name (expected name or schema.name)")
    return dataclasses.replace(settings, tables=parse_tables(",".join(tables), "--table"))


def _publish(command: str, document: dict, fmt: str) -> None:
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "markdown" or step_summary:
        _publish_markdown(command, document, fmt, step_summary)
    json_file = os.environ.get("PROMPTSYNC_JSON_FILE")
    if json_file:
        _write(json_file, output.as_json(document), "w", "PROMPTSYNC_JSON_FILE")


def _publish_markdown(command: str, document: dict, fmt: str, step_summary: str | None) -> None:
    from promptsync import summary

    if fmt == "markdown":
        sys.stdout.write(summary.markdown(document))
        sys.stdout.flush()
    if step_summary and command in summary.SUMMARIZED:
        _write(step_summary, summary.markdown(document) + "\n", "a", "GITHUB_STEP_SUMMARY")


def _write(path: str, text: str, mode: str, setting: str) -> None:
    try:
        with open(path, mode, encoding="utf-8") as report:
            report.write(text)
    except OSError as exc:
        log.error(f"{setting}: cannot write {path}: {exc.strerror or exc}")
