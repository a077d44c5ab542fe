"""Data on stdout: text for people, or with --json one JSON document with stable keys
(README, "Machine-readable output"). Human progress and errors stay on stderr either way."""

from __future__ import annotations

import json
import sys
from typing import Any

_json = False
_report: dict[str, Any] = {}


def set_json(on: bool) -> None:
    global _json
    _json = on
    _report.clear()


def put(key: str, value: Any) -> None:
    """A field of the JSON document (ignored in text mode)."""
    _report[key] = value


def text(lines: list[str]) -> None:
    """Lines for people (suppressed in JSON mode)."""
    if not _json and lines:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()


def emit(exit_code: int, error: str | None = None) -> None:
    """In JSON mode, write the document: the fields put so far, the exit code, any error."""
    if _json:
        document = {"exit_code": exit_code, "ok": exit_code == 0, **_report}
        if error:
            document["error"] = error
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
