"""Where a sync reads from: a database (a snapshot plus pg_dump) or a snapshot file
(`file:PATH`, written by `promptsync export`). Both give the same four things: the tables'
names and columns, their fingerprints, and a stream of COPY data for the target's staging
tables. A database also gives each table's list of (primary key, row hash) and, for a delta
transfer, only the rows the target asks for, all read in one exported snapshot."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TypeVar

from promptsync import argv, guards, log, preflight, snapshotfile
from promptsync.config import Environment, Table
from promptsync.copyout import SNAPSHOT_MODE, CopyOut, script
from promptsync.dumpstream import StreamStats, forward_copy_data
from promptsync.errors import Failed
from promptsync.fingerprint import Fingerprint, vouched_prints
from promptsync.session import TRANSIENT, Session, child_environ, reason, sql_text
from promptsync.tools import Tools

FILE_PREFIX = "file:"
T = TypeVar("T")


def is_file(name: str) -> bool:
    return name.startswith(FILE_PREFIX)


class DatabaseSource:
    """A live database: row hash lists, pg_dump or the row fetch read one exported snapshot."""

    def __init__(self, env: Environment, tools: Tools, cleanup: ExitStack) -> None:
        self.env, self.tools, self.cleanup = env, tools, cleanup
        self.name = env.name
        self.display = env.display
        self.session, self.server = preflight.connect(env, tools)
        cleanup.callback(self.session.abort)
        preflight.check_one_session(env, self.server, "source")
        self.identity: str | None = self.server.identity
        self.infos: dict[Table, preflight.TableInfo] = {}
        self.parts: dict[Table, tuple[tuple[Table, str], ...]] = {}
        self.snapshot = ""

    def describe(self, tables: tuple[Table, ...]) -> dict[Table, preflight.TableInfo]:
        self.infos = preflight.describe_tables(self.session, tables)
        self.parts = {t: preflight.partitions(self.session, i) for t, i in self.infos.items()}
        return self.infos

    def columns(self, table: Table) -> dict[str, tuple[str, ...]]:
        return guards.columns(self.session, self.infos[table].rel)

    def how(self) -> str:
        dump = preflight.check_dump_client(self.env, self.tools, self.server)
        return f"PostgreSQL {self.server.version}, {self.server.connection} (dump: {dump})"

    def open_snapshot(self) -> None:
        """The snapshot every later read of the source happens in, exported."""
        self.session.rollback()
        self.session.begin(SNAPSHOT_MODE)
        self.snapshot = self.session.run_file("snapshot.sql", "exporting a snapshot")[0][0]

    def fingerprints(self) -> Future[dict[Table, Fingerprint]]:
        """Each table's row count and checksum in the snapshot, where the source's own ledger
        may stand in for hashing unchanged rows (in the background: the target computes its
        own meanwhile)."""
        rels = {t: i.rel for t, i in self.infos.items()}
        return self._background(lambda: vouched_prints(self.session, self.name, rels))

    def hash_lists(self) -> Future[dict[Table, BinaryIO]]:
        """Spools each table's (primary key, row hash) list, read in the snapshot, to a
        temporary file (in the background: the target lists its rows meanwhile)."""
        return self._background(self._spool_lists)

    def _background(self, work: Callable[[], T]) -> Future[T]:
        pool = ThreadPoolExecutor(max_workers=1)
        self.cleanup.callback(pool.shutdown)
        return pool.submit(work)

    def _spool_lists(self) -> dict[Table, BinaryIO]:
        spooled: dict[Table, BinaryIO] = {}
        for table, info in self.infos.items():
            spool = tempfile.TemporaryFile(prefix="promptsync-")
            self.cleanup.callback(spool.close)
            reader = CopyOut(
                self.env,
                self.session.client,
                script(
                    ("signatures.sql", "ledger_find.sql", "row_parts.sql", "hash_list.sql"),
                    snapshot=self.snapshot,
                    rel=info.rel,
                ),
                f"listing the row hashes of {table}",
                self.cleanup,
            )
            for chunk in reader.data():
                spool.write(chunk)
            spool.seek(0)
            spooled[table] = spool
        return spooled

    def fetch(
        self, table: Table, keys: BinaryIO, columns: str, stage: str, tgt: Session
    ) -> StreamStats:
        """Only the rows with these primary keys (a file holding a JSON array), read in the
        snapshot, into the target's staging table. The data is marked complete only once the
        reader has ended well (CopyOut.data): a reader cut off mid-way fails the target's
        transaction instead."""
        reader = CopyOut(
            self.env,
            self.session.client,
            script(
                "fetch_rows.sql",
                ("keys", keys),
                snapshot=self.snapshot,
                rel=self.infos[table].rel,
                cols=columns,
            ),
            f"reading the changed rows of {table}",
            self.cleanup,
        )
        stats = StreamStats(rows={stage: 0})

        def counted() -> Iterator[bytes]:
            for chunk in reader.data():
                stats.rows[stage] += chunk.count(b"\n")
                stats.bytes += len(chunk)
                yield chunk

        tgt.copy_in(f"{stage} ({columns})", counted(), "loading the changed rows")
        return stats

    def unconvertible(self, encoding: str) -> dict[Table, str]:
        """Per table, the keys of the first rows whose text `encoding` cannot hold, read in
        the snapshot the transfer read (tables with none left out)."""
        found = {}
        for table, info in self.infos.items():
            keys = self.session.value(
                sql_text("unconvertible.sql"),
                "looking for the rows",
                rel=info.rel,
                encoding=encoding,
            )
            if keys:
                found[table] = keys
        return found

    def stream(self, copy_targets: dict[str, str], tgt: Session) -> StreamStats:
        # a partitioned table's rows are in its partitions: dump those into its staging table
        dumped: list[Table] = []
        targets: dict[str, str] = {}
        for table, info in self.infos.items():
            for part, rel in self.parts.get(table) or ((table, info.rel),):
                dumped.append(part)
                targets[rel] = copy_targets[info.rel]
        copy_targets = targets
        choice = preflight.dump_client(self.env, self.tools, self.server)
        pg_dump = choice.client.pg_dump if choice else "pg_dump"
        dump_argv = argv.pg_dump(self.env, tuple(dumped), self.snapshot, pg_dump)
        proc = subprocess.Popen(
            dump_argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environ(self.env),
            start_new_session=True,
            bufsize=1 << 20,
        )
        self.cleanup.callback(_reap, proc)
        errors: deque[str] = deque(maxlen=50)
        drain = threading.Thread(
            target=lambda: errors.extend(
                line.decode("utf-8", "replace").rstrip() for line in proc.stderr or ()
            ),
            daemon=True,
        )
        drain.start()
        progress = log.Progress(f"{self.name} -> {tgt.label}")
        try:
            assert proc.stdout is not None
            stats = forward_copy_data(proc.stdout, copy_targets, tgt.send, progress.update)
        except Failed as exc:
            try:
                code = proc.wait(timeout=1)
            except subprocess.TimeoutExpired:  # pg_dump still runs: the target side failed
                raise exc from None
            if code != 0:
                drain.join(timeout=5)
                raise self._dump_failure(code, errors) from None
            raise
        finally:
            progress.done()
        code = proc.wait()
        drain.join(timeout=5)
        if code != 0:
            raise self._dump_failure(code, errors)
        return stats

    def _dump_failure(self, code: int, errors: deque[str]) -> Failed:
        why = reason(list(errors)) if errors else f"exit status {code}"
        if code < 0:
            why = f"killed by signal {-code}" + (f" ({why})" if errors else "")
        return Failed(
            f"pg_dump of {self.name} failed: {why}; nothing was applied",
            transient=bool(errors) and bool(TRANSIENT.search(why)),
        )

    def close(self) -> None:
        self.session.close()


class FileSource:
    """A snapshot file, checked completely (counts, checksums, end marker) when opened."""

    def __init__(self, spec: str, tables: tuple[Table, ...]) -> None:
        self.path = Path(spec[len(FILE_PREFIX) :])
        self.name = spec
        self.display = str(self.path)
        self.identity = None
        self.snap = snapshotfile.read(self.path, tables)
        self.infos: dict[Table, preflight.TableInfo] = {}

    def describe(self, tables: tuple[Table, ...]) -> dict[Table, preflight.TableInfo]:
        self.infos = {t: preflight.TableInfo(t, self.snap.sections[t].rel, "") for t in tables}
        return self.infos

    def columns(self, table: Table) -> dict[str, tuple[str, ...]]:
        return {name: () for name in self.snap.sections[table].columns}

    def how(self) -> str:
        return "snapshot file (checked: row counts and checksums match its header)"

    def open_snapshot(self) -> None:
        """A file is its own snapshot."""

    def hash_lists(self) -> None:
        """A file carries no list of row hashes: its rows are all staged and compared."""
        return None

    def unconvertible(self, encoding: str) -> dict[Table, str]:
        return {}  # the server's message says which line of the file

    def fingerprints(self) -> Future[dict[Table, Fingerprint]]:
        done: Future[dict[Table, Fingerprint]] = Future()
        done.set_result({t: self.snap.sections[t].fingerprint for t in self.infos})
        return done

    def stream(self, copy_targets: dict[str, str], tgt: Session) -> StreamStats:
        return forward_copy_data(self.snap.script(), copy_targets, tgt.send)

    def close(self) -> None:
        pass


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()
