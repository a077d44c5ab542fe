"""Row count and checksum of a table, computed server-side (no rows leave the server)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from promptsync import log, preflight
from promptsync.config import Environment, Table
from promptsync.session import Session, sql_text
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


@dataclass(frozen=True)
class Vouched:
    """What `verify --fast` took from a ledger: how many rows it vouched for, of how many,
    or why it could not (every row was then hashed)."""

    rows: int
    of: int
    promotion: str = ""
    why_not: str = ""

    def __str__(self) -> str:
        if self.why_not and self.promotion:
            return (
                f"every row hashed: the ledger of promotion {self.promotion} cannot vouch for "
                f"them ({self.why_not})"
            )
        if self.why_not:
            return f"every row hashed: no ledger ({self.why_not})"
        return (
            f"{self.rows:,} of {self.of:,} rows vouched for by the ledger of promotion "
            f"{self.promotion}, {self.of - self.rows:,} hashed"
        )


LEDGER_FIELDS = "SELECT :'lf_ledger', :'lf_promotion', :'lf_why', :'lf_cache', :'lf_cache_why';"


def fast_fingerprint(session: Session, rel: str) -> tuple[Fingerprint, Vouched, list[str]]:
    """fingerprint(), where the database's own ledger may stand in for hashing rows that are
    the versions it recorded (sql/fingerprint_fast.sql): verify --fast, and a sync's first
    look at each side. Also what sql/ledger_find.sql found: the ledger table, its promotion,
    why there is none, whether it may stand in for hashing and why not (promote.Ledger)."""
    rows = session.run(
        sql_text("signatures.sql")
        + sql_text("ledger_find.sql")
        + sql_text("row_parts.sql")
        + sql_text("fingerprint_fast.sql")
        + LEDGER_FIELDS,
        f"checksumming {rel} with its ledger",
        rel=rel,
    )
    (count, high, low, vouched, recorded), ledger = rows[-2], rows[-1]
    found = Fingerprint(int(count), recorded) if recorded else combine(count, high, low)
    return found, Vouched(int(vouched), int(count), ledger[1], ledger[4]), ledger


def vouched_prints(session: Session, name: str, rels: dict[Table, str]) -> dict[Table, Fingerprint]:
    """fast_fingerprint() of each table, saying for each what its ledger vouched for."""
    found = {}
    for table, rel in rels.items():
        found[table], vouched, _ = fast_fingerprint(session, rel)
        log.info(f"{name} {table}: {vouched}")
    return found


def of_environment(
    env: Environment, tools: Tools, tables: tuple[Table, ...], fast: bool = False
) -> dict[Table, Fingerprint]:
    """Connect, look the tables up and fingerprint each one (verify, and the look-up after a
    COMMIT whose outcome is unknown); `fast`: verify --fast, which says what its ledger
    vouched for."""
    session, _ = preflight.connect(env, tools)
    with session:
        infos = preflight.describe_tables(session, tables)
        if fast:
            return vouched_prints(session, env.name, {t: infos[t].rel for t in tables})
        return {t: fingerprint(session, infos[t].rel) for t in tables}


def combine(count: str, high: str, low: str) -> Fingerprint:
    """The fingerprint from the row count and the two sums of row hashes the SQL returns."""
    digest = hashlib.md5(f"{count}:{high}:{low}".encode(), usedforsecurity=False).hexdigest()
    return Fingerprint(int(count), digest)
