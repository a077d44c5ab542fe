"""Data on stdout: text for people, or with --json one JSON document with stable keys
(docs/usage.md, "Machine-readable output"), or with --format markdown the same data as Markdown
(promptsync.summary). Human progress and errors stay on stderr either way."""

from __future__ import annotations

import json
import sys
from typing import Any

FORMATS = ("text", "json", "markdown")

_format = "text"
_report: dict[str, Any] = {}


def set_format(name: str) -> None:
    """text, json or markdown; starts a new document."""
    global _format
    _format = name
    _report.clear()


def set_json(on: bool) -> None:
    set_format("json" if on else "text")


def put(key: str, value: Any) -> None:
    """A field of the document (JSON, Markdown summary); not printed in text mode."""
    _report[key] = value


def text(lines: list[str]) -> None:
    """Lines for people (suppressed in JSON and Markdown mode)."""
    if _format == "text" and lines:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()


def document(exit_code: int, error: str | None = None) -> dict[str, Any]:
    """The fields put so far, the exit code and any error: what --json prints."""
    found = {"exit_code": exit_code, "ok": exit_code == 0, **_report}
    if error:
        found["error"] = error
    return found


def as_json(found: dict[str, Any]) -> str:
    return json.dumps(found, indent=2, sort_keys=True) + "\n"


def emit(exit_code: int, error: str | None = None) -> None:
    """In JSON mode, write the document: the fields put so far, the exit code, any error."""
    if _format == "json":
        sys.stdout.write(as_json(document(exit_code, error)))
        sys.stdout.flush()
