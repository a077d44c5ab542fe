"""Where promptsync's time goes, from the servers' side (make bench).

The benchmark's servers log every statement of application `promptsync` that takes 20 ms or
more, with auto_explain for the statements nested in promptsync's DO blocks (durations only:
no EXPLAIN ANALYZE, so no per-row instrumentation). After each promptsync run, the new lines
of both servers' logs are read back and named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from promptsync.throwaway import Server

SETUP = """LOAD 'auto_explain';
ALTER SYSTEM SET session_preload_libraries = 'auto_explain';
ALTER SYSTEM SET auto_explain.log_min_duration = '20ms';
ALTER SYSTEM SET auto_explain.log_nested_statements = on;
ALTER SYSTEM SET log_min_duration_statement = '20ms';
ALTER SYSTEM SET log_timezone = 'UTC';
ALTER SYSTEM SET log_line_prefix = '%m [%p] %a: ';
SELECT pg_reload_conf();
"""
ENTRY = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC \[\d+\] (.*?): LOG:  "
    r"duration: ([\d.]+) ms  (plan|statement): ?(.*)$"
)
# What each statement is, by how its text starts (sql/*.sql, pg_dump).
NAMES = (
    ("SELECT pg_catalog.count(*),", "checksum of a table (fingerprint.sql)"),
    ("COPY (SELECT t.", "list (key, row hash) in the snapshot (hash_list.sql)"),
    ("COPY (SELECT ", "read only the changed rows (fetch_rows.sql)"),
    ("DO $live$", "list the live rows (hash_live.sql), in all:"),
    ("CREATE TEMPORARY TABLE pg_temp.promptsync_live", "  hash the live rows"),
    ("COPY pg_temp.promptsync_src", "load the source's list: COPY ... FROM STDIN"),
    ("DO $plan$", "plan from the two lists (plan.sql)"),
    ("DO $refresh$", "re-read rows written since the listing (hash_refresh.sql)"),
    ("DO $keys$", "the keys of the rows to fetch (fetch_keys.sql)"),
    ("DO $fetched$", "check each fetched row against the list (check_fetched.sql)"),
    ("COPY public.", "pg_dump: COPY ... TO stdout"),
    ("COPY pg_temp.", "load the staging table: COPY ... FROM STDIN"),
    ("DO $compare$", "compare.sql, in all:"),
    ("CREATE TEMPORARY TABLE pg_temp.promptsync_cmp", "  hash both sides, FULL JOIN by key"),
    ("SELECT concat_ws", "  count the differences"),
    ("DO $apply$", "apply.sql, in all:"),
    ("INSERT INTO promptsync.undo", "  write the undo data (the old rows as they are)"),
    ("DELETE FROM public.", "  DELETE rows gone from the source"),
    ("UPDATE public.", "  UPDATE changed rows"),
    ("INSERT INTO public.", "  INSERT new rows"),
    ("WITH gone AS", "  replace changed rows (unique swap)"),
    ("COMMIT", "COMMIT"),
)  # fmt: skip


def enable(server: Server) -> bool:
    """Turn the logging on; False where auto_explain is not installed (then nothing is
    reported)."""
    try:
        server.psql(SETUP)
    except RuntimeError:
        return False
    return True


@dataclass
class Statement:
    server: str
    ended: float  # seconds since the epoch
    ms: float
    name: str


def name_of(text: str) -> str:
    text = text.strip()
    for prefix, name in NAMES:
        if text.startswith(prefix):
            return name
    return text[:60]


class Tail:
    """The lines a server logs from now on."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.path: Path = server.logfile
        self.offset = self.path.stat().st_size

    def read(self, application: str = "promptsync") -> list[Statement]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
        out: list[Statement] = []
        for i, line in enumerate(lines):
            m = ENTRY.match(line)
            if not m or m.group(2) != application:
                continue
            stamp, _, ms, kind, text = m.groups()
            if kind == "plan":  # auto_explain: the query text is on the next line
                nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
                text = nxt.removeprefix("Query Text:").strip()
            elif not text.startswith(("COPY", "DO", "COMMIT")):
                continue  # a plannable statement: auto_explain logged it too
            ended = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            out.append(Statement(self.server.name, ended.timestamp(), float(ms), name_of(text)))
        return out
