"""Pass only the data of a pg_dump to the target session.

pg_dump's text output is a script: SET lines, set_config calls, `\\restrict` meta-commands
(pg_dump 17.6+), `COPY ... FROM stdin;` blocks and setval calls. The target session's settings
are promptsync's own (sql/settings.sql), so everything except the COPY data is dropped: a SET an
older server rejects (transaction_timeout) or a meta-command an older psql rejects cannot break
a sync. Each COPY block is redirected into its table's staging table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from promptsync.errors import Failed

END_OF_DATA = b"\\.\n"
CHUNK = 1 << 20


@dataclass
class StreamStats:
    rows: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def copy_header(line: bytes, tables: Mapping[str, str]) -> tuple[str, bytes] | None:
    """For `COPY <table> (<columns>) FROM stdin;` return (table, columns) when <table> is one of
    ours (keys: quoted qualified names as pg_dump writes them)."""
    if not (line.startswith(b"COPY ") and line.endswith(b" FROM stdin;\n")):
        return None
    body = line[5 : -len(b" FROM stdin;\n")]
    for table in tables:
        prefix = table.encode() + b" ("
        if body.startswith(prefix) and body.endswith(b")"):
            return table, body[len(prefix) - 1 :]
    raise Failed(f"the dump holds data of an unexpected table: {body.split(b' (')[0].decode()}")


def forward_copy_data(
    lines: Iterable[bytes],
    tables: Mapping[str, str],
    send: Callable[[bytes], None],
    progress: Callable[[int, int], None] | None = None,
) -> StreamStats:
    """Send the COPY blocks of `lines` (a pg_dump script) to `send`, each loading the staging
    table `tables[table]`. Fails when a block is cut short or a table has no block."""
    stats = StreamStats()
    buffer: list[bytes] = []
    buffered = 0
    current: str | None = None
    rows = 0
    for line in lines:
        if current is None:
            header = copy_header(line, tables)
            if header is None:
                continue  # SET, set_config, \restrict, comments, setval: not data
            current, columns = header
            rows = 0
            buffer.append(b"COPY " + tables[current].encode() + b" " + columns + b" FROM STDIN;\n")
            continue
        buffer.append(line)
        buffered += len(line)
        if line == END_OF_DATA:
            stats.rows[current] = rows
            current = None
            rows = 0
        else:
            rows += 1
        if buffered >= CHUNK:
            stats.bytes += buffered
            send(b"".join(buffer))
            buffer.clear()
            buffered = 0
            if progress:
                progress(stats.total_rows + rows, stats.bytes)
    if current is not None:
        raise Failed(f"the dump ended in the middle of {current}'s data ({rows} rows read)")
    missing = [t for t in tables if t not in stats.rows]
    if missing:
        raise Failed(f"the dump holds no data block for {', '.join(missing)}")
    stats.bytes += buffered
    if buffer:
        send(b"".join(buffer))
    return stats
