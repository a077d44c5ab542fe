"""Pure functions that build argv lists and child environments. Nothing here runs anything.

Passwords never appear in an argv: they travel in the child's environment (PGPASSWORD), and
`docker exec -e PGPASSWORD` names the variable without a value so docker copies it from ours.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptsync.config import Environment, Table

APPLICATION_NAME = "promptsync"
CONNECT_TIMEOUT = "10"

# psql that reads a script from stdin: no ~/.psqlrc, quiet, unaligned, tuples only, fields
# separated by NUL, stop at the first error, never prompt for a password.
PSQL_FLAGS = ("-X", "-q", "-A", "-t", "-z", "-v", "ON_ERROR_STOP=1", "--no-password")


def conninfo(env: Environment) -> str:
    """libpq keyword/value string for a direct connection; no password in it."""
    pairs = [
        ("host", env.host or ""),
        ("port", str(env.port or 5432)),
        ("dbname", env.dbname),
        ("user", env.user),
        *env.params,
    ]
    keys = {k for k, _ in pairs}
    if "connect_timeout" not in keys:
        pairs.append(("connect_timeout", CONNECT_TIMEOUT))
    if "application_name" not in keys:
        pairs.append(("application_name", APPLICATION_NAME))
    return " ".join(f"{k}={_conn_value(v)}" for k, v in pairs)


def _conn_value(value: str) -> str:
    if value and all(c.isalnum() or c in "._-/:" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def child_env(env: Environment) -> dict[str, str]:
    """Variables to add to a child's environment for this database (the password lives here).
    The client encoding travels in the connection's startup packet (PGCLIENTENCODING), where a
    connection pooler keeps it per client, instead of a SET that would outlive a transaction."""
    extra = {
        "PGAPPNAME": APPLICATION_NAME,
        "PGCONNECT_TIMEOUT": CONNECT_TIMEOUT,
        "PGCLIENTENCODING": "UTF8",
    }
    if env.password:
        extra["PGPASSWORD"] = env.password
    return extra


def docker_exec(env: Environment, command: Sequence[str]) -> list[str]:
    """`docker exec -i [-e NAME]... CONTAINER command...`; values come from our environment."""
    argv = ["docker", "exec", "-i"]
    for name in sorted(child_env(env)):
        argv += ["-e", name]
    return [*argv, env.container or "", *command]


def psql(env: Environment, psql_path: str = "psql") -> list[str]:
    """A psql session that reads its script from stdin."""
    if env.via_docker:
        return docker_exec(env, ["psql", *PSQL_FLAGS, "-U", env.user, "-d", env.dbname])
    return [psql_path, *PSQL_FLAGS, "-d", conninfo(env)]


def dump_table_pattern(table: Table) -> str:
    """pg_dump --table pattern matching exactly this table (quoted parts match literally)."""
    return table.qualified


def pg_dump(
    env: Environment,
    tables: Sequence[Table],
    snapshot: str | None = None,
    pg_dump_path: str = "pg_dump",
) -> list[str]:
    """Data-only dump of the tables, in one snapshot when given, never prompting."""
    flags = ["--data-only", "--no-password", "--encoding=UTF8", "--strict-names"]
    flags += [f"--table={dump_table_pattern(t)}" for t in tables]
    if snapshot:
        flags.append(f"--snapshot={snapshot}")
    if env.via_docker:
        return docker_exec(env, ["pg_dump", *flags, "-U", env.user, "-d", env.dbname])
    return [pg_dump_path, *flags, "-d", conninfo(env)]


def docker_info() -> list[str]:
    return ["docker", "info"]


def docker_inspect_running(container: str) -> list[str]:
    return ["docker", "inspect", "--format", "{{.State.Running}}", container]
