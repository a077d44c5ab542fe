"""A build's log: every line on stderr led by the date, time and UTC offset (as Render's own
lines are not, so promptsync's stand out), and a step runner that stamps each line its command
prints and says how the step ended. Passwords are masked as in promptsync's own output."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from promptsync import log


def say(message: str) -> None:
    """One line on stderr: `2026-12-02T18:45:29+0000 message`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stderr.write(f"{stamp} {log.redact(message)}\n")
    sys.stderr.flush()


def step(
    title: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run argv (no stdin; stdout and stderr stamped, indented), log its start and end, return
    its exit status (127 when it cannot be started)."""
    started = time.monotonic()
    say(f"==> {title}")
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        say(f"  {argv[0]}: {exc.strerror or exc.__class__.__name__}")
        code = 127
    else:
        with child:
            for line in child.stdout or ():
                say(f"  {line.rstrip()}")
        code = child.returncode
    took = f"{time.monotonic() - started:.0f} s"
    ended = f"done in {took}" if code == 0 else f"FAILED (exit {code}) after {took}"
    say(f"<== {title}: {ended}")
    return code
