"""Everything checked before a change: Docker, connections, tables, primary keys, tool versions.

Each failure is one line that says what is wrong and, where there is one, the fix.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass, field

from promptsync import argv, guards, log, pooler
from promptsync.config import Environment, Table
from promptsync.errors import Failed, Refused
from promptsync.log import redact
from promptsync.session import Session, sql_text
from promptsync.tools import Choice, Client, Tools


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
    encryption: str = ""  # "TLSv1.3 TLS_AES_256_GCM_SHA384", "" when not encrypted
    read_only: str = ""  # why nothing can be written there ("" when it can)
    encoding: str = "UTF8"
    pooling: pooler.Pooling = pooler.Pooling(pooler.DIRECT)

    @property
    def connection(self) -> str:
        return f"encrypted, {self.encryption}" if self.encryption else "not encrypted"


def _docker(*args: str) -> str:
    import sh  # here: only a Docker environment needs it, and its import costs 40 ms

    return str(sh.Command("docker")(*args, _tty_out=False, _err_to_out=False))


def check_docker(env: Environment) -> None:
    """The old commands' checks, with their wording."""
    import sh

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
        running = _docker(*argv.docker_inspect_running(env.container or "")[1:]).strip()
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
    (
        r"(no pg_hba.conf entry|pg_hba.conf rejects connection) .*no encryption",
        "the server accepts only encrypted (TLS) connections: set sslmode=require, or "
        "verify-full with the server's CA in *_DB_SSLROOTCERT",
    ),
    (
        r"certificate verify failed",
        "the server's TLS certificate is not signed by the CA in sslrootcert "
        "(SSL error: certificate verify failed)",
    ),
    (r"server does not support SSL", "the server does not offer TLS, but sslmode requires it"),
    (r"SSL support is not compiled in", "this client has no TLS support; see `promptsync check`"),
)


def connect(env: Environment, tools: Tools, label: str | None = None) -> tuple[Session, Server]:
    """Open a session with promptsync's settings; a failure names the environment and why.
    A direct connection starts with the tools' best client for any server; once the server's
    version is known, the client chosen for it (tools.py) takes over if it is another one."""
    if env.via_docker:
        check_docker(env)
    session, server = _open(env, tools, label, None)
    if env.via_docker:
        return session, server
    try:
        choice = tools.for_server(env, server.version_num)
    except BaseException:
        session.abort()
        raise
    if choice.client != session.client:
        session.close()
        session, server = _open(env, tools, label, choice.client)
    session.choice = choice
    return session, server


def _open(
    env: Environment, tools: Tools, label: str | None, client: Client | None
) -> tuple[Session, Server]:
    """A session, idle (no transaction open), and what its server is."""
    session = Session(env, tools, label, client)
    try:
        row = session.run_file("server.sql", "connecting")[0]
        session.rollback()
        version_num, version, identity, encryption, pid, addr, port = row[:7]
        pooling = pooler.Pooling(pooler.DIRECT)
        if not pooler.provably_direct(env, addr, port):
            probe = pooler.second_pid(env, session.client)
            again = session.value("SELECT pg_catalog.pg_backend_pid();", "connecting")
            session.rollback()
            pooling = pooler.judge(pid, probe, again)
    except Failed as exc:
        session.abort()
        raise _connect_failure(env, exc) from None
    read_only, in_recovery, encoding = row[7:]
    server = Server(
        int(version_num),
        version,
        identity,
        encryption,
        read_only=_read_only(read_only == "on", in_recovery == "t"),
        encoding=encoding,
        pooling=pooling,
    )
    return session, server


def _read_only(default_read_only: bool, in_recovery: bool) -> str:
    if in_recovery:
        return "it is a hot standby (pg_is_in_recovery()): point the settings at the primary"
    if default_read_only:
        return (
            "its transactions are read-only (default_transaction_read_only = on): point the "
            "settings at a writable database, or have its administrator turn that off"
        )
    return ""


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


KINDS = {
    "v": "a view",
    "m": "a materialized view",
    "f": "a foreign table",
    "S": "a sequence",
    "i": "an index",
    "I": "a partitioned index",
    "c": "a composite type",
    "t": "a TOAST table",
}


def describe_tables(session: Session, tables: tuple[Table, ...]) -> dict[Table, TableInfo]:
    """Look each table up in the catalog; a missing table or primary key stops here, and so
    do a view in its place and row level security that would hide rows from this role."""
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
        rel, pk, kind, policies = rows[0]
        if kind not in ("r", "p"):
            raise Refused(
                f"{table} in {session.label} is {KINDS.get(kind, 'not a table')}, not a table: "
                "promptsync reads and writes tables; set PROMPTSYNC_TABLES to the table behind it"
            )
        if policies:
            raise Refused(
                f"row level security hides rows of {table} in {session.label} from role "
                f"{session.env.user} (policies {policies}): promptsync must see every row; "
                "connect as a role with BYPASSRLS, or as the table's owner after ALTER TABLE "
                f"{rel} NO FORCE ROW LEVEL SECURITY"
            )
        if not pk:
            raise Failed(
                f"table {table} in {session.label} has no primary key: promptsync matches "
                "rows by primary key"
            )
        found[table] = TableInfo(table, rel, pk)
    return found


def partitions(session: Session, info: TableInfo) -> tuple[tuple[Table, str], ...]:
    """The leaf partitions of a partitioned table (none for a plain one), each with its
    quoted name as pg_dump writes it."""
    rows = session.run_file("partitions.sql", "looking up partitions", rel=info.rel)
    return tuple((Table(schema, name), rel) for schema, name, rel in rows)


@dataclass(frozen=True)
class Trigger:
    name: str
    fires: str  # e.g. "BEFORE UPDATE FOR EACH ROW"
    function: str
    state: str  # enabled | disabled

    def __str__(self) -> str:
        off = "" if self.state == "enabled" else ", disabled"
        return f"{self.name} ({self.fires}, {self.function}{off})"


def triggers(session: Session, infos: dict[Table, TableInfo]) -> dict[Table, list[Trigger]]:
    """The user triggers on each table (foreign keys' internal triggers left out)."""
    return {
        table: [
            Trigger(*row)
            for row in session.run_file("triggers.sql", "reading triggers", rel=info.rel)
        ]
        for table, info in infos.items()
    }


def note_triggers(label: str, found: dict[Table, list[Trigger]]) -> None:
    """Say which user triggers the apply will fire: they may write other tables."""
    for table, listed in found.items():
        if listed:
            log.info(
                f"note: {label} {table} has user triggers that fire on the rows a sync writes "
                f"(and may write other tables): {', '.join(map(str, listed))}"
            )


def missing_privileges(session: Session, infos: dict[Table, TableInfo]) -> list[tuple[str, str]]:
    """(what is missing, the GRANT that gives it) for promoting these tables here."""
    missing: list[tuple[str, str]] = []
    for info in infos.values():
        for what, grant in session.run_file("privileges.sql", "checking privileges", rel=info.rel):
            if (what, grant) not in missing:
                missing.append((what, grant))
    return missing


@dataclass(frozen=True)
class Inspection:
    """What `check` reports about one environment beyond connecting: its columns, the
    privileges a sync to it would lack, its user triggers."""

    columns: dict[Table, dict[str, tuple[str, ...]]]
    missing: list[tuple[str, str]]
    triggers: dict[Table, list[Trigger]]

    def lines(self, name: str) -> list[str]:
        out = [f"{name}: lacks {what} for a sync to it: {grant}" for what, grant in self.missing]
        for table, listed in self.triggers.items():
            out += [f"{name}: note: {table} trigger {t} fires during a sync" for t in listed]
        return out


def inspect(session: Session, infos: dict[Table, TableInfo]) -> Inspection:
    return Inspection(
        {t: guards.columns(session, i.rel) for t, i in infos.items()},
        missing_privileges(session, infos),
        triggers(session, infos),
    )


def check_privileges(session: Session, infos: dict[Table, TableInfo]) -> None:
    """Refuse before any change when the role lacks a privilege a promotion needs."""
    missing = missing_privileges(session, infos)
    if missing:
        raise Refused(
            f"role {session.env.user} lacks {', '.join(w for w, _ in missing)} in "
            f"{session.label}: an administrator runs {' '.join(g for _, g in missing)} "
            "(or psql -v role=ROLE -f sql/grants.sql)"
        )


def dump_client(env: Environment, tools: Tools, server: Server) -> Choice | None:
    """The client whose pg_dump reads this environment (None: the container's own)."""
    if env.via_docker:
        return None
    return tools.for_server(env, server.version_num)


def check_dump_client(env: Environment, tools: Tools, server: Server) -> str:
    """Which pg_dump reads this environment, and why, after checking it can."""
    choice = dump_client(env, tools, server)
    return "the container's own pg_dump" if choice is None else str(choice)


def lock(session: Session) -> None:
    """One promotion of a target at a time: held until the transaction that takes it ends."""
    if session.value(sql_text("lock.sql"), "taking the promotion lock") != "t":
        raise Refused(f"another promptsync is promoting {session.label}")


def check_writable(env: Environment, server: Server) -> None:
    """A target that cannot be written fails before anything is read or staged."""
    if server.read_only:
        raise Failed(f"{env.name} ({env.display}) cannot be written: {server.read_only}")


def note_pooling(env: Environment, server: Server) -> None:
    if server.pooling.mode == pooler.TRANSACTION:
        log.info(
            f"note: {env.name} is reached through a connection pooler in transaction mode "
            f"({server.pooling.why}): fine for a target, everything promptsync sets, creates "
            "or locks there ends with its transaction"
        )


@dataclass
class Target:
    """A target a promotion may write: connected, writable, its promotions locked to this
    session; then (describe) its tables looked up and their user triggers noted."""

    env: Environment
    session: Session
    server: Server
    infos: dict[Table, TableInfo] = field(default_factory=dict)
    triggers: dict[Table, list[Trigger]] = field(default_factory=dict)

    def describe(self, tables: tuple[Table, ...]) -> Target:
        self.infos = describe_tables(self.session, tables)
        self.triggers = triggers(self.session, self.infos)
        note_triggers(self.env.name, self.triggers)
        return self


def open_target(env: Environment, tools: Tools, cleanup: ExitStack) -> Target:
    """The preflight a sync and a rollback share; the session is aborted when `cleanup`
    closes unless it committed."""
    session, server = connect(env, tools)
    cleanup.callback(session.abort)
    check_writable(env, server)
    lock(session)
    return Target(env, session, server)


def check_one_session(env: Environment, server: Server, role: str) -> None:
    """A sync's source is read in one exported snapshot by several connections at once: a
    transaction-mode pooler (or one with no second server connection) cannot give that."""
    if server.pooling.one_session_only:
        raise Failed(
            f"{env.name} ({env.display}) is reached through {server.pooling.kind} "
            f"({server.pooling.why}): a sync reads its {role} in one exported snapshot over "
            f"several connections, which such a pooler cannot give; use the direct, "
            f"non-pooled URL for {env.name}"
        )
