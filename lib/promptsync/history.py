"""Promotion history on a target (promptsync.promotions): who promoted what, when, from where,
what changed, checksums before and after. Written in the transaction of the apply."""

from __future__ import annotations

import getpass
import os
import subprocess
from dataclasses import dataclass

from promptsync import __version__, log, output, preflight
from promptsync.config import Settings, environment
from promptsync.errors import EXIT_OK
from promptsync.session import Session, sql_text
from promptsync.tools import find_tools


@dataclass(frozen=True)
class Record:
    kind: str  # sync | rollback
    source: str
    target: str
    undoes: int | None = None


def actor() -> str:
    """Who is promoting: the Render service or CI job when there is one, else the OS user."""
    env = os.environ
    if env.get("RENDER_SERVICE_NAME"):
        return f"render:{env['RENDER_SERVICE_NAME']}"
    if env.get("GITHUB_ACTIONS"):
        return f"github-actions:{env.get('GITHUB_ACTOR', '?')}"
    if env.get("CI"):
        return "ci"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def git_commit() -> str:
    env = os.environ
    for name in ("RENDER_GIT_COMMIT", "GITHUB_SHA"):
        if env.get(name):
            return env[name]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def start(session: Session, record: Record) -> int:
    """Create the history tables if needed and record the promotion; returns its id. Tables
    that exist are left alone: they may belong to another role (sql/grants.sql)."""
    if session.value(sql_text("has_history.sql"), "reading the history") != "t":
        session.run_file("history_schema.sql", "preparing promptsync's history tables")
    if session.value("SELECT pg_catalog.to_regclass('promptsync.ledgers') IS NULL;") == "t":
        session.run_file("ledger_schema.sql", "preparing promptsync's ledgers")
    return int(
        session.value(
            sql_text("promotion_start.sql"),
            "recording the promotion",
            kind=record.kind,
            source=record.source,
            target=record.target,
            by_whom=actor(),
            tool_version=__version__,
            git_commit=git_commit(),
            undoes="" if record.undoes is None else record.undoes,
        )
    )


def show(session: Session, limit: int) -> list[list[str]]:
    """The recorded promotions, newest first, one row per table (empty without history)."""
    if session.value(sql_text("has_history.sql"), "reading the history") != "t":
        return []
    return session.run_file("history.sql", "reading the history", limit=limit)


HEADER = (
    "id",
    "when (UTC)",
    "kind",
    "from",
    "by",
    "tool",
    "commit",
    "table",
    "+ins",
    "~upd",
    "-del",
    "rows before->after",
    "checksum before->after",
)


def format_rows(rows: list[list[str]]) -> list[str]:
    """Human table of history rows (as history.sql returns them)."""
    cells = [list(HEADER)]
    for r in rows:
        (
            pid,
            when,
            kind,
            source,
            _target,
            by,
            version,
            commit,
            undoes,
            _outcome,
            table,
            ins,
            upd,
            dele,
            rows_b,
            sum_b,
            rows_a,
            sum_a,
        ) = r
        what = f"{kind} (undoes {undoes})" if undoes else kind
        cells.append(
            [
                pid,
                when,
                what,
                source,
                by,
                version,
                commit[:12] or "-",
                table,
                ins,
                upd,
                dele,
                f"{rows_b}->{rows_a}",
                f"{sum_b[:12]}->{sum_a[:12]}",
            ]
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


FIELDS = (
    "id",
    "at",
    "kind",
    "source",
    "target",
    "by",
    "tool_version",
    "git_commit",
    "undoes",
    "outcome",
    "table",
    "inserted",
    "updated",
    "deleted",
    "rows_before",
    "checksum_before",
    "rows_after",
    "checksum_after",
)
NUMBERS = {"id", "undoes", "inserted", "updated", "deleted", "rows_before", "rows_after"}


def as_dicts(rows: list[list[str]]) -> list[dict]:
    """History rows with stable keys for --json (numbers as numbers, '' as null)."""
    return [
        {
            k: (int(v) if k in NUMBERS else v) if v != "" else None
            for k, v in zip(FIELDS, row, strict=True)
        }
        for row in rows
    ]


def run(settings: Settings, target_name: str, limit: int) -> int:
    """`promptsync history TARGET`: the newest `limit` promotions recorded there."""
    target = environment(settings, target_name)
    log.add_secrets(target.secrets)
    session, _ = preflight.connect(target, find_tools(settings.get("PROMPTSYNC_PG_BIN")))
    with session:
        rows = show(session, limit)
    output.put("target", target.name)
    output.put("promotions", as_dicts(rows))
    if not rows:
        log.info(f"no promotion is recorded on {target.name} yet")
        return EXIT_OK
    output.text(format_rows(rows))
    return EXIT_OK
