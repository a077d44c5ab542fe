"""Human output: timestamped lines on stderr, secrets masked. Data goes to stdout elsewhere."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable

_secrets: set[str] = set()
# userinfo ends at the LAST @ before the path, as urllib (and libpq) read it
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^/?#\s]*@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_quiet = False


def add_secrets(values: Iterable[str | None]) -> None:
    """Register values that must never be printed (passwords)."""
    _secrets.update(v for v in values if v)


def redact(text: str) -> str:
    """Mask passwords: registered values, URL userinfo and password=... pairs."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _KV_PASSWORD.sub(r"\1***", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def info(message: str) -> None:
    """One timestamped line on stderr."""
    if not _quiet:
        _emit(message)


def error(message: str) -> None:
    _emit(f"error: {message}")


def _emit(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    sys.stderr.write(f"{stamp} {redact(message)}\n")
    sys.stderr.flush()


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class Progress:
    """Transfer progress on stderr: a live line on a terminal, a plain line every few seconds
    otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self.last = self.start
        # PROMPTSYNC_PROGRESS_SECONDS: how often a plain line is written without a terminal
        plain = float(os.environ.get("PROMPTSYNC_PROGRESS_SECONDS", "5") or 5)
        self.interval = 0.2 if sys.stderr.isatty() else plain
        self.tty = sys.stderr.isatty()
        self.shown = False

    def update(self, rows: int, nbytes: int) -> None:
        now = time.monotonic()
        if _quiet or now - self.last < self.interval:
            return
        self.last = now
        line = self._line(rows, nbytes, now)
        if self.tty:
            sys.stderr.write(f"\r{line}\x1b[K")
            sys.stderr.flush()
            self.shown = True
        else:
            info(line)

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def _line(self, rows: int, nbytes: int, now: float) -> str:
        elapsed = max(now - self.start, 1e-6)
        rate = human_bytes(nbytes / elapsed)
        return f"  {self.label}: {rows:,} rows, {human_bytes(nbytes)}, {rate}/s, {elapsed:.0f} s"
