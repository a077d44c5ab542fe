"""One psql process per database session: we write SQL to its stdin and read results up to a
marker line. psql runs with ON_ERROR_STOP=1, so any error ends the process (and with it the
open transaction, which the server rolls back); we turn that into a Failed with psql's message.

Every statement runs inside a transaction that starts with promptsync's settings (SET LOCAL,
sql/settings.sql): the first statement after a COMMIT or ROLLBACK opens one. Nothing is set,
created or locked for the session itself, so a transaction-mode connection pooler never hands
a changed server connection to the application (DESIGN.md, guarantee 7).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from promptsync import argv, log
from promptsync.config import Environment
from promptsync.errors import CommitUnknown, Failed
from promptsync.log import redact
from promptsync.tools import Choice, Client, Tools

# sql/ at the top of the repository; an installed wheel carries it as promptsync/sql.
_HERE = Path(__file__).resolve().parent
SQL_DIR = _HERE / "sql" if (_HERE / "sql").is_dir() else _HERE.parents[1] / "sql"

# Messages that mean "try again later" rather than "this will never work".
TRANSIENT = re.compile(
    r"connection refused|could not connect|timeout expired|timed out|"
    r"the database system is (starting up|shutting down|in recovery mode|not yet accepting)|"
    r"terminating connection|server closed the connection|connection to server .* lost|"
    r"could not receive data|could not send data|no connection to the server|"
    r"ssl syscall error|connection reset|broken pipe|lock timeout|deadlock detected|"
    r"could not serialize access|too many clients|remaining connection slots",
    re.IGNORECASE,
)


def sql_text(name: str) -> str:
    return (SQL_DIR / name).read_text()


def child_environ(env: Environment) -> dict[str, str]:
    """Our environment minus any inherited password, plus this database's variables."""
    base = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD",)}
    return {**base, **argv.child_env(env)}


def spawn_psql(env: Environment, client: Client | None) -> subprocess.Popen[bytes]:
    """psql on `env` reading its script from stdin, from `client` (None: the container's or
    PATH's), with pipes for all three streams and the password only in its environment."""
    return subprocess.Popen(
        argv.psql(env, client.psql if client else "psql"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environ(env),
        start_new_session=True,  # Ctrl-C reaches us; we decide how the session ends
        bufsize=1 << 20,
    )


def psql_literal(value: object) -> str:
    """A psql meta-command argument in single quotes (used with \\set)."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def reason(stderr_lines: list[str]) -> str:
    """The one line of psql/pg_dump stderr worth showing."""
    keep = [line.strip() for line in stderr_lines if line.strip()]
    for line in reversed(keep):
        if re.search(r"\b(ERROR|FATAL|PANIC):|error:|failed:", line):
            line = re.sub(r"^(psql|pg_dump):(<stdin>:\d+:)?(\s*error:)?\s*", "", line)
            return redact(line.replace("ERROR:  ", "").replace("FATAL:  ", ""))
    return redact(keep[-1]) if keep else "no message"


class Session:
    """A psql session on one environment."""

    def __init__(
        self,
        env: Environment,
        tools: Tools,
        label: str | None = None,
        client: Client | None = None,
    ) -> None:
        """psql runs from `client`, by default the tools' best one for connecting (the
        container's own psql for the local container)."""
        self.env = env
        self.label = label or env.name
        if client is None and not env.via_docker:
            client = tools.for_connect(env).client
        self.client = client
        self.choice: Choice | None = None  # set by preflight.connect: which client, and why
        self._stderr: deque[str] = deque(maxlen=200)
        self._count = 0
        self._in_transaction = False
        self._token = os.urandom(16).hex()
        self.proc = spawn_psql(env, client)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))

    # -- failure ---------------------------------------------------------------------------
    def failure(self, doing: str) -> Failed:
        """The error to raise when psql has gone away while we were `doing` something."""
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._reader.join(timeout=5)
        why = reason(list(self._stderr))
        return Failed(
            f"{doing} on {self.label} ({self.env.display}) failed: {why}",
            transient=bool(TRANSIENT.search(why)),
        )

    # -- I/O ------------------------------------------------------------------------------
    def send(self, data: bytes, doing: str = "loading") -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError, OSError):
            raise self.failure(doing) from None

    def copy_in(self, target: str, data: Iterable[bytes], doing: str) -> None:
        """`COPY target FROM STDIN` with `data` (COPY text) as its rows. The end marker is sent
        only after the last chunk: when `data` raises, the COPY stays unfinished and the
        caller's abort rolls the transaction back."""
        if not self._in_transaction:
            raise RuntimeError("copy_in() outside a transaction")
        self.send(f"COPY {target} FROM STDIN;\n".encode(), doing)
        for chunk in data:
            self.send(chunk, doing)
        self.send(b"\\.\n", doing)

    # -- transactions -----------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def begin(self, mode: str = "") -> None:
        """Open a transaction (`mode`: e.g. "ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with promptsync's settings. The session must not be in one."""
        if self._in_transaction:
            raise RuntimeError("begin() inside an open transaction")
        self.run(f"BEGIN {mode};" if mode else "BEGIN;", "starting a transaction")

    def rollback(self, doing: str = "rolling back") -> None:
        """End the open transaction, if any, changing nothing."""
        if self._in_transaction:
            self._in_transaction = False
            for _ in self._results("ROLLBACK;", doing, {}):
                pass

    def _opening(self, sql: str) -> str:
        """`sql` as sent: led by BEGIN and the settings when no transaction is open (the
        settings go right after `sql`'s own BEGIN when it starts with one)."""
        if self._in_transaction:
            return sql
        self._in_transaction = True
        head, _, rest = sql.partition("\n")
        if re.fullmatch(r"\s*BEGIN\b[^;]*;\s*", head, re.IGNORECASE):
            return f"{head}\n{sql_text('settings.sql')}{rest}"
        return f"BEGIN \\;\n{sql_text('settings.sql')}{sql}"  # one message with the settings

    def run(self, sql: str, doing: str = "a query", /, **variables: object) -> list[list[str]]:
        """Run SQL (psql variables set first); return the result rows as lists of fields."""
        return [
            line.decode("utf-8", "replace").split("\0")
            for line in self._results(self._opening(sql), doing, variables)
        ]

    def run_into(
        self, sql: str, doing: str, sink: Callable[[bytes], None], /, **variables: object
    ) -> None:
        """Run SQL like run(), handing each result line (bytes, without its newline) to sink
        as it arrives instead of keeping them: for results of any size."""
        for line in self._results(self._opening(sql), doing, variables):
            sink(line)

    def _results(self, sql: str, doing: str, variables: dict[str, object]) -> Iterator[bytes]:
        self._count += 1
        marker = f"__promptsync_{self._token}_{self._count}__".encode()
        script = "".join(f"\\set {k} {psql_literal(v)}\n" for k, v in variables.items())
        self.send(f"{script}{sql}\n\\echo {marker.decode()}\n".encode(), doing)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self.failure(doing) from None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise self.failure(doing)
            line = line.rstrip(b"\n")
            if line == marker:
                return
            if line:
                yield line

    def run_file(
        self, filename: str, doing: str | None = None, /, **variables: object
    ) -> list[list[str]]:
        return self.run(sql_text(filename), doing or filename.removesuffix(".sql"), **variables)

    def value(self, sql: str, doing: str = "a query", /, **variables: object) -> str:
        rows = self.run(sql, doing, **variables)
        return rows[0][0] if rows and rows[0] else ""

    def commit(self) -> None:
        """COMMIT. A refusal from the server (a deferred constraint) is a plain failure; a
        broken connection leaves the outcome unknown, to be looked up. Ctrl-C is held until
        the server has answered: interrupting now could only hide what happened."""
        held: list[int] = []
        previous = None

        def hold(signum: int, frame: object) -> None:
            held.append(signum)
            if len(held) > 1:  # a second Ctrl-C: the user really wants out
                raise KeyboardInterrupt

        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, hold)
        try:
            self._in_transaction = False
            for _ in self._results(f"{sql_text('end.sql')}COMMIT;", "commit", {}):
                pass
        except KeyboardInterrupt:
            self.abort()
            raise CommitUnknown(
                f"interrupted while COMMIT was in flight on {self.label}: its outcome is "
                "unknown; `promptsync verify` tells"
            ) from None
        except Failed as exc:
            if any(re.search(r"\bERROR:", line) for line in self._stderr):
                raise Failed(f"{exc}; nothing was committed") from None
            raise CommitUnknown(str(exc), transient=True) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if held:
                log.info("Ctrl-C during COMMIT was held until the server answered")

    # -- ending ---------------------------------------------------------------------------
    def close(self) -> None:
        """End the session normally: an open transaction is rolled back (ROLLBACK is sent,
        so a pooler gets its server connection back clean; the server would anyway)."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                if self._in_transaction:
                    self._in_transaction = False
                    self.proc.stdin.write(b"ROLLBACK;\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.abort()
        self._close_pipes()

    def abort(self) -> None:
        """End now: cancel the running statement, drop the connection; nothing is committed."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)  # psql sends a cancel request
                self.proc.wait(timeout=3)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()
