"""COPY data out of a source through a psql of its own, for a delta transfer.

The source's snapshot session (sources.DatabaseSource) exports a snapshot; each reader here
is one more psql that imports it (SET TRANSACTION SNAPSHOT) and runs one COPY ... TO STDOUT,
so its standard output is that COPY data and nothing else, read in chunks. A reader that
ends with anything but exit status 0 (killed, cut off, an error) is a failure, raised before
the data is ever marked complete on the target: the target's transaction is then rolled
back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import BinaryIO

from promptsync.config import Environment
from promptsync.errors import Failed
from promptsync.session import TRANSIENT, psql_literal, reason, spawn_psql, sql_text
from promptsync.tools import Client

CHUNK = 1 << 20


SNAPSHOT_MODE = "ISOLATION LEVEL REPEATABLE READ READ ONLY"


def script(
    filenames: str | tuple[str, ...],
    /,
    stream: tuple[str, BinaryIO] | None = None,
    *,
    snapshot: str,
    **variables: object,
) -> Iterator[bytes]:
    """The psql variables, a transaction in the exported `snapshot` with promptsync's settings
    (sql/settings.sql), the sql/ files named (one or several, in order), COMMIT; in pieces.
    `stream` (name, file) sets one more variable from a file of any size, read a chunk at a
    time."""
    variables["snapshot"] = snapshot
    yield "".join(f"\\set {k} {psql_literal(v)}\n" for k, v in variables.items()).encode()
    if stream:
        name, source = stream
        yield f"\\set {name} '".encode()
        while chunk := source.read(CHUNK):
            yield chunk.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\n", b"\\n")
        yield b"'\n"
    yield f"BEGIN {SNAPSHOT_MODE};\nSET TRANSACTION SNAPSHOT :'snapshot';\n".encode()
    yield sql_text("settings.sql").encode()
    for filename in (filenames,) if isinstance(filenames, str) else filenames:
        yield sql_text(filename).encode()
    yield b"COMMIT;\n"


class CopyOut:
    """One psql running `sql` (pieces of a script) on `env`; `data()` yields its standard
    output."""

    def __init__(
        self,
        env: Environment,
        client: Client | None,
        sql: Iterable[bytes],
        doing: str,
        cleanup: ExitStack,
    ) -> None:
        self.env, self.doing = env, doing
        self.proc = spawn_psql(env, client)
        cleanup.callback(self._reap)
        self._errors: deque[str] = deque(maxlen=50)
        self._threads = [
            threading.Thread(target=self._feed, args=(sql,), daemon=True),
            threading.Thread(target=self._drain, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _feed(self, sql: Iterable[bytes]) -> None:
        assert self.proc.stdin is not None
        try:
            for piece in sql:
                self.proc.stdin.write(piece)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # psql ended early: its exit status and stderr say why

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self._errors.append(raw.decode("utf-8", "replace").rstrip())

    def data(self) -> Iterator[bytes]:
        """psql's standard output in chunks. The last chunk is followed by the end of the
        iteration only once psql has exited 0 and its output ends with a whole row; otherwise
        Failed is raised instead, so a consumer never takes a cut-off copy as complete."""
        assert self.proc.stdout is not None
        last = b"\n"
        while chunk := self.proc.stdout.read1(CHUNK):
            last = chunk[-1:]
            yield chunk
        self._finish()
        if last != b"\n":
            raise Failed(
                f"{self.doing} on {self.env.name}: the data ended mid-row; nothing was applied"
            )

    def _finish(self) -> None:
        """Wait for psql; raise unless it ended with exit status 0."""
        code = self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        if code == 0:
            return
        why = reason(list(self._errors)) if self._errors else f"exit status {code}"
        if code < 0:
            why = f"killed by signal {-code}" + (f" ({why})" if self._errors else "")
        raise Failed(
            f"{self.doing} on {self.env.name} failed: {why}; nothing was applied",
            transient=bool(self._errors) and bool(TRANSIENT.search(why)),
        )

    def _reap(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe:
                pipe.close()
