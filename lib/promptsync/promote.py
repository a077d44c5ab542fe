"""The part of a promotion that happens inside the target's transaction, shared by sync and
rollback: compare the staged rows with the live ones, apply the difference in foreign-key
order while recording how to undo it, check the result, move sequences, record history."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import BinaryIO

from promptsync import history, log
from promptsync.config import Table
from promptsync.errors import Failed, Refused
from promptsync.fingerprint import Fingerprint, combine
from promptsync.preflight import TableInfo, Trigger
from promptsync.session import Session, sql_text

LOCK_TIMEOUT = "5s"  # writers of the target are waited for this long, then the attempt fails


@dataclass(frozen=True)
class Change:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def any(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    def __add__(self, other: Change) -> Change:
        return Change(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.deleted + other.deleted,
        )

    def __str__(self) -> str:
        return f"{self.inserted:,} inserted, {self.updated:,} updated, {self.deleted:,} deleted"

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted}

    def as_plan(self) -> str:
        return (
            f"{self.inserted:,} to insert, {self.updated:,} to update, {self.deleted:,} to delete"
        )


@dataclass(frozen=True)
class Comparison:
    staged: Fingerprint
    plan: Change
    live: Fingerprint  # the live table before the apply, read inside its transaction

    @property
    def live_rows(self) -> int:
        return self.live.rows


@dataclass
class Work:
    """The tables of one promotion on the target, with their temporary tables."""

    tables: tuple[Table, ...]
    infos: dict[Table, TableInfo]

    def stage(self, table: Table) -> str:
        return f"pg_temp.promptsync_stage_{self.tables.index(table)}"

    def cmp(self, table: Table) -> str:
        return f"pg_temp.promptsync_cmp_{self.tables.index(table)}"

    def rel(self, table: Table) -> str:
        return self.infos[table].rel

    def live(self, table: Table) -> str:
        """The live table's list of (primary key, row hash, row version)."""
        return f"pg_temp.promptsync_live_{self.tables.index(table)}"

    def src(self, table: Table) -> str:
        """The source's list of (primary key, row hash)."""
        return f"pg_temp.promptsync_src_{self.tables.index(table)}"

    def view(self, table: Table) -> str:
        """After a delta transfer: the staged rows plus the unchanged live ones, for a listing."""
        return f"pg_temp.promptsync_staged_{self.tables.index(table)}"


def confirmed(session: Session) -> None:
    """Ask the person at the terminal; anything but yes rolls back and refuses (exit 3)."""
    sys.stderr.write(f"This will OVERWRITE all prompts in {session.label}. Continue? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        session.run("ROLLBACK;", "rolling back")
        raise Refused("not confirmed: nothing was changed")


def begin(session: Session) -> None:
    session.run("BEGIN;", "starting the transaction")
    session.run_file("functions.sql", "preparing")


def compare(session: Session, work: Work, listed: bool = False) -> dict[Table, Comparison]:
    """One pass over the stage per table, and over the live table unless `listed` (its hashes
    are in hash_live.sql's list): the staged fingerprint and the plan."""
    return {
        table: _comparison(
            session.value(
                sql_text("compare.sql"),
                "comparing",
                rel=work.rel(table),
                stage=work.stage(table),
                cmp=work.cmp(table),
                listed=work.live(table) if listed else "",
            )
        )
        for table in work.tables
    }


def _comparison(line: str) -> Comparison:
    count, high, low, inserted, updated, deleted, live_count, live_high, live_low = line.split()
    return Comparison(
        combine(count, high, low),
        Change(int(inserted), int(updated), int(deleted)),
        combine(live_count, live_high, live_low),
    )


def list_live(session: Session, work: Work) -> None:
    """Each live table's (primary key, row hash, row version) list, read without blocking
    anyone, and an empty list for the source's."""
    for table in work.tables:
        session.run_file(
            "hash_live.sql",
            "listing the live rows",
            rel=work.rel(table),
            live=work.live(table),
            src=work.src(table),
        )


def load_list(session: Session, work: Work, table: Table, spool: BinaryIO) -> int:
    """The source's spooled list of (primary key, row hash) into its temporary table; returns
    its size in bytes."""
    session.copy_in(
        work.src(table), iter(lambda: spool.read(1 << 20), b""), "loading the source's list"
    )
    session.run("", "loading the source's list")
    return os.fstat(spool.fileno()).st_size


def plan(session: Session, work: Work, first: bool = False) -> dict[Table, Comparison]:
    """The plan from the two lists (no row read): the source's fingerprint as `staged`. The
    first plan of a sync compares the lists' fingerprints before joining them: when every
    table's are equal nothing differs, the sync ends there, and no join is needed."""
    if first:
        prints = {
            table: _comparison(
                session.value(
                    "SELECT pg_temp.promptsync_print(:'src') || ' 0 0 0 ' ||"
                    " pg_temp.promptsync_print(:'live');",
                    "comparing the lists' fingerprints",
                    src=work.src(table),
                    live=work.live(table),
                )
            )
            for table in work.tables
        }
        if all(c.staged == c.live for c in prints.values()):
            return prints
    return {
        table: _comparison(
            session.value(
                sql_text("plan.sql"),
                "planning",
                rel=work.rel(table),
                src=work.src(table),
                live=work.live(table),
                cmp=work.cmp(table),
            )
        )
        for table in work.tables
    }


def refresh(session: Session, work: Work) -> tuple[int, int]:
    """Once writers are locked out: re-read the rows written since the live lists were made.
    Returns how many listed rows went (updated or deleted) and how many were read (new or
    updated)."""
    went = read = 0
    for table in work.tables:
        line = session.value(
            sql_text("hash_refresh.sql"),
            "listing the rows written meanwhile",
            rel=work.rel(table),
            live=work.live(table),
        )
        dropped, added = (int(n) for n in line.split())
        went, read = went + dropped, read + added
    return went, read


def fetch_keys(session: Session, work: Work, table: Table, into: BinaryIO) -> str:
    """The primary keys of the rows to write, as one JSON array written to `into` as they
    arrive (any number of keys, in constant memory); returns the column list to copy."""
    columns: list[str] = []
    count = 0

    def sink(line: bytes) -> None:
        nonlocal count
        if not columns:
            columns.append(line.decode())
            return
        into.write(b"," if count else b"[")
        into.write(line)
        count += 1

    session.run_into(
        sql_text("fetch_keys.sql"),
        "listing the rows to fetch",
        sink,
        rel=work.rel(table),
        cmp=work.cmp(table),
    )
    into.write(b"]" if count else b"[]")
    into.seek(0)
    return columns[0]


def check_fetched(session: Session, work: Work, source: str) -> None:
    """Every row the apply writes is staged, exactly as the source listed it."""
    for table in work.tables:
        line = session.value(
            sql_text("check_fetched.sql"),
            "checking the changed rows",
            rel=work.rel(table),
            stage=work.stage(table),
            cmp=work.cmp(table),
        )
        missing, wrong, staged, keys = (int(n) for n in line.split())
        if missing or wrong or staged != keys:
            raise Failed(
                f"{table}: the rows read from {source} do not match its list ({missing:,} "
                f"missing, {wrong:,} different, {staged - keys:,} repeated): a row changed "
                "between the two reads or the transfer was altered; nothing was applied",
                transient=True,
            )


def listing_views(session: Session, work: Work) -> dict[Table, str]:
    """After a delta transfer, what each table would hold (the staged rows plus the unchanged
    live ones), as temporary views for a listing; drop them with drop_views."""
    for table in work.tables:
        session.run_file(
            "staged_view.sql",
            "preparing the listing",
            rel=work.rel(table),
            stage=work.stage(table),
            cmp=work.cmp(table),
            view=work.view(table),
        )
    return {t: work.view(t) for t in work.tables}


def drop_views(session: Session, work: Work) -> None:
    views = ", ".join(work.view(t) for t in work.tables)
    session.run(f"DROP VIEW IF EXISTS {views};", "ending the listing")


def fk_order(session: Session, work: Work) -> list[Table]:
    """Parents before children among the tables promoted together."""
    by_rel = {work.rel(t): t for t in work.tables}
    rows = session.run(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_catalog.pg_constraint"
        " WHERE contype = 'f' AND conrelid <> confrelid;",
        "ordering tables",
    )
    graph: dict[Table, set[Table]] = {t: set() for t in work.tables}
    for child, parent in rows:
        if child in by_rel and parent in by_rel:
            graph[by_rel[child]].add(by_rel[parent])
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError:
        return list(work.tables)  # a cycle can only be satisfied by deferred constraints


def lock_tables(session: Session, work: Work) -> None:
    """Writers wait (readers never do) from here to COMMIT; a writer that keeps its
    transaction open longer than LOCK_TIMEOUT makes this attempt fail, to be retried."""
    rels = ", ".join(work.rel(t) for t in work.tables)
    try:
        session.run_file("lock_tables.sql", "locking out writers", rels=rels, timeout=LOCK_TIMEOUT)
    except Failed as exc:
        if "lock timeout" not in str(exc):
            raise
        raise Failed(
            f"another session kept writing to {rels} in {session.label} for more than "
            f"{LOCK_TIMEOUT} (lock timeout): nothing was changed; a sync waits that long for "
            "writers (it is retried; run it again once the edit is done)",
            transient=True,
        ) from None


def apply(
    session: Session,
    work: Work,
    record: history.Record,
    before: dict[Table, Fingerprint],
    expected: dict[Table, Fingerprint],
    keep: int,
    triggers: dict[Table, list[Trigger]] | None = None,
) -> dict[Table, Change]:
    """Apply every table's difference, check it, record it. The caller commits, then calls
    `report` with what this returns."""
    promotion = history.start(session, record)
    order = fk_order(session, work)
    tables = [{"rel": work.rel(t), "stage": work.stage(t), "cmp": work.cmp(t)} for t in order]
    try:
        line = session.value(
            sql_text("apply.sql"), "applying", tables=json.dumps(tables), promotion=promotion
        )
    except Failed as exc:
        if "did not hold exactly the staged rows" not in str(exc):
            raise
        named = [
            f"{t}: {', '.join(map(str, found))}" for t, found in (triggers or {}).items() if found
        ]
        raise Failed(
            f"{exc}; "
            + (
                f"the user triggers there: {'; '.join(named)}: exempt promptsync in the one "
                "that rewrites rows (README: Triggers); "
                if named
                else ""
            )
            + "rolled back, nothing changed"
        ) from None
    changes = {}
    for table, counts in zip(order, line.split(";"), strict=True):
        inserted, updated, deleted = (int(n) for n in counts.split())
        changes[table] = Change(inserted, updated, deleted)
    for table in work.tables:
        # apply.sql checked that the table holds exactly the staged rows, which the caller
        # checked against `expected`: no second pass over the table
        live = expected[table]
        session.run_file("sequences.sql", "moving sequences", rel=work.rel(table))
        change = changes[table]
        session.run_file(
            "promotion_table.sql",
            "recording the promotion",
            promotion=promotion,
            rel=work.rel(table),
            rows_before=before[table].rows,
            checksum_before=before[table].checksum,
            rows_after=live.rows,
            checksum_after=live.checksum,
            inserted=change.inserted,
            updated=change.updated,
            deleted=change.deleted,
            keep=keep,
        )
    return changes


def report(label: str, changes: dict[Table, Change], expected: dict[Table, Fingerprint]) -> None:
    """What each table now holds: said only once COMMIT has succeeded."""
    for table, change in changes.items():
        log.info(f"{table}: {change}; {label} now holds {expected[table]}")
