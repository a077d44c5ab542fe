"""Is a connection reached through a connection pooler in transaction mode (PgBouncer with
pool_mode=transaction, Neon's -pooler hosts, Supabase's port 6543, Render's pooled URL)?

Everything promptsync sets, creates or locks ends with its transaction (sql/settings.sql), so
such a pooler is harmless for a target and for verify. A sync's source is another matter: it
is read in one exported snapshot by several connections at once, and a transaction pooler
cannot promise a second server connection (a pool of one waits on itself until the pooler's
queue timeout). So a pooled source is refused up front, with the fix.

A connection is looked at only when it cannot be shown to be direct: it is, when the backend
was reached on the very address and port promptsync connected to. Otherwise two facts tell:
in transaction mode the backend's pid can change between two transactions of one client, and
a second client that runs while the first is idle is handed the first one's server connection
(PgBouncer reuses the most recently freed one). Neither happens in session mode or directly.
A second client that gets no answer within PROBE_SECONDS means a pool with no second server
connection to give.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass

from promptsync import argv
from promptsync.config import Environment
from promptsync.session import child_environ
from promptsync.tools import Client

PROBE_SECONDS = 5
DIRECT = "direct"
TRANSACTION = "transaction"
SESSION = "session or direct"
CROWDED = "no second connection"


@dataclass(frozen=True)
class Pooling:
    mode: str  # DIRECT, TRANSACTION, SESSION or CROWDED
    why: str = ""

    @property
    def one_session_only(self) -> bool:
        """Several connections in one snapshot (a sync's source) cannot work here."""
        return self.mode in (TRANSACTION, CROWDED)

    def describe(self) -> str:
        if self.mode == DIRECT:
            return "none (the server itself answers)"
        if self.mode == SESSION:
            return f"none in transaction mode ({self.why})"
        if self.mode == TRANSACTION:
            return (
                f"transaction mode ({self.why}): fine for a target and for verify; as a "
                "sync's source it is refused: use the direct, non-pooled URL"
            )
        return (
            f"a pooler with no second server connection ({self.why}): as a sync's source it "
            "is refused: use the direct, non-pooled URL"
        )

    @property
    def kind(self) -> str:
        """How a message names what is in the way."""
        if self.mode == TRANSACTION:
            return "a connection pooler in transaction mode"
        return "a connection pooler with no second server connection"


def provably_direct(env: Environment, server_addr: str, server_port: str) -> bool:
    """The backend was reached on the address and port promptsync connected to."""
    if env.via_docker:
        return True  # the container's own socket
    host = dict(env.params).get("hostaddr") or env.host or ""
    if not server_port or int(server_port) != env.port or "," in host or host.startswith("/"):
        return False
    try:
        found = socket.getaddrinfo(host, env.port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return server_addr in {info[4][0] for info in found}


def second_pid(env: Environment, client: Client | None) -> str | None:
    """The backend pid a second, short connection is given; None when none answers within
    PROBE_SECONDS (a pooler queueing it)."""
    try:
        done = subprocess.run(
            argv.psql(env, client.psql if client else "psql"),
            input="SELECT pg_catalog.pg_backend_pid();\n",
            capture_output=True,
            text=True,
            env=child_environ(env),
            timeout=PROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() or "?"


def judge(first: str, probe: str | None, again: str) -> Pooling:
    """From the pid of one client's transaction, the pid a second client got meanwhile (None:
    no answer) and the first client's pid in its next transaction."""
    if probe is None:
        return Pooling(CROWDED, f"a second connection got no server within {PROBE_SECONDS} s")
    if again != first:
        why = f"the backend changed between two transactions: {first}, then {again}"
        return Pooling(TRANSACTION, why)
    if probe == first:
        return Pooling(TRANSACTION, f"a second client was handed the same backend, {first}")
    return Pooling(SESSION, "each client keeps its own backend")
