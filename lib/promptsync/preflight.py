"""Everything checked before a change: Docker, connections, tables, primary keys, tool versions.

Each failure is one line that says what is wrong and, where there is one, the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sh

from promptsync import argv
from promptsync.config import Environment, Table
from promptsync.errors import Failed, Refused
from promptsync.log import redact
from promptsync.session import Session, sql_text
from promptsync.tools import Tools, check_client_for_server


@dataclass(frozen=True)
class TableInfo:
    table: Table
    rel: str  # quoted, qualified name as the server spells it (and pg_dump writes it)
    pk: str  # quoted primary key columns, comma separated


@dataclass(frozen=True)
class Server:
    version_num: int
    version: str
    identity: str


def _docker(*args: str) -> sh.RunningCommand:
    return sh.Command("docker")(*args, _tty_out=False, _err_to_out=False)


def check_docker(env: Environment) -> None:
    """The old commands' checks, with their wording."""
    try:
        _docker(*argv.docker_info()[1:])
    except sh.CommandNotFound:
        raise Failed(
            "docker not found: install Docker, or set LOCAL_DB_HOST to reach the local "
            "database directly"
        ) from None
    except sh.ErrorReturnCode:
        raise Failed("Docker daemon is not running or not accessible!", transient=False) from None
    try:
        running = str(_docker(*argv.docker_inspect_running(env.container or "")[1:])).strip()
    except sh.ErrorReturnCode:
        running = "missing"
    if running != "true":
        raise Failed(f"{env.container} container is not running!")


CONNECT_REASONS = (
    (r"password authentication failed|authentication failed", "authentication failed"),
    (r"no password supplied", "a password is required (set the environment's password)"),
    (r"connection refused", "connection refused"),
    (r"timeout expired|timed out", "timeout"),
    (r"could not translate host name", "unknown host"),
    (r"database .* does not exist", None),
    (r"starting up", "the database system is starting up"),
)


def connect(env: Environment, tools: Tools, label: str | None = None) -> tuple[Session, Server]:
    """Open a session with promptsync's settings; a failure names the environment and why."""
    if env.via_docker:
        check_docker(env)
    session = Session(env, tools, label)
    try:
        session.run_file("session.sql", "connecting")
        version_num, version, identity = session.run_file("server.sql", "connecting")[0]
    except Failed as exc:
        session.abort()
        raise _connect_failure(env, exc) from None
    return session, Server(int(version_num), version, identity)


def _connect_failure(env: Environment, exc: Failed) -> Failed:
    text = str(exc)
    why = text.split(" failed: ", 1)[-1]
    for pattern, short in CONNECT_REASONS:
        if re.search(pattern, why, re.IGNORECASE):
            why = short or why
            break
    return Failed(
        redact(f"cannot connect to {env.name} ({env.display}): {why}"), transient=exc.transient
    )


def describe_tables(session: Session, tables: tuple[Table, ...]) -> dict[Table, TableInfo]:
    """Look each table up in the catalog; a missing table or primary key stops here."""
    found = {}
    for table in tables:
        rows = session.run_file(
            "table_info.sql", "looking up tables", schema=table.schema, name=table.name
        )
        if not rows:
            raise Failed(
                f"table {table} does not exist in {session.label} ({session.env.display}): "
                "run the application's migrations there, or fix PROMPTSYNC_TABLES"
            )
        rel, pk = rows[0]
        if not pk:
            raise Failed(
                f"table {table} in {session.label} has no primary key: promptsync matches "
                "rows by primary key"
            )
        found[table] = TableInfo(table, rel, pk)
    return found


def check_dump_client(env: Environment, tools: Tools, server: Server) -> str:
    """Which pg_dump reads this environment, after checking it can."""
    if env.via_docker:
        return "the container's own pg_dump"
    check_client_for_server(tools, server.version_num, f"{env.name} ({env.display})")
    return f"pg_dump {tools.major()} from {tools.origin}"


def lock(session: Session) -> None:
    """One promotion of a target at a time (held until the session ends)."""
    if session.value(sql_text("lock.sql"), "taking the promotion lock") != "t":
        raise Refused(f"another promptsync is promoting {session.label}")
