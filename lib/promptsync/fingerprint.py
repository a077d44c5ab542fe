"""Row count and checksum of a table, computed server-side (no rows leave the server)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from promptsync import preflight
from promptsync.config import Environment, Table
from promptsync.session import Session
from promptsync.tools import Tools


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str  # 32 hex digits

    @property
    def short(self) -> str:
        return self.checksum[:12]

    def __str__(self) -> str:
        return f"{self.rows:,} rows, checksum {self.short}"


def fingerprint(session: Session, rel: str) -> Fingerprint:
    """`rel` is a quoted, qualified name as returned by sql/table_info.sql."""
    count, high, low = session.run_file("fingerprint.sql", f"checksumming {rel}", rel=rel)[-1]
    return combine(count, high, low)


def of_environment(
    env: Environment, tools: Tools, tables: tuple[Table, ...]
) -> dict[Table, Fingerprint]:
    """Connect, look the tables up and fingerprint each one (verify, and the look-up after a
    COMMIT whose outcome is unknown)."""
    session, _ = preflight.connect(env, tools)
    with session:
        infos = preflight.describe_tables(session, tables)
        return {t: fingerprint(session, infos[t].rel) for t in tables}


def combine(count: str, high: str, low: str) -> Fingerprint:
    """The fingerprint from the row count and the two sums of row hashes the SQL returns."""
    digest = hashlib.md5(f"{count}:{high}:{low}".encode(), usedforsecurity=False).hexdigest()
    return Fingerprint(int(count), digest)
