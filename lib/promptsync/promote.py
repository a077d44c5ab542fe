"""The part of a promotion that happens inside the target's transaction, shared by sync and
rollback: compare the staged rows with the live ones, apply the difference in foreign-key
order while recording how to undo it, check the result, move sequences, record history."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import BinaryIO

from promptsync import diff, history, log
from promptsync.config import Table
from promptsync.errors import Failed, Refused
from promptsync.fingerprint import LEDGER_FIELDS, Fingerprint, combine, fast_fingerprint
from promptsync.guards import Reference
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


@dataclass(frozen=True)
class Ledger:
    """What promptsync left on the target for one table (sql/ledger_write.sql): `table` ('' when
    there is none to trust), the promotion that last wrote it, and why there is none."""

    table: str = ""
    promotion: int | None = None
    why: str = "none yet"
    cache: bool = False  # its row hashes may stand in for hashing unchanged rows again
    cache_why: str = "there is no ledger"

    def __bool__(self) -> bool:
        return bool(self.table)


@dataclass
class Work:
    """The tables of one promotion on the target, with their temporary tables, their ledgers,
    and the keys a sync --only is limited to ('': every key; a JSON array of key objects)."""

    tables: tuple[Table, ...]
    infos: dict[Table, TableInfo]
    ledgers: dict[Table, Ledger] = field(default_factory=dict)
    only: str = ""
    listed: bool = False  # the live tables were listed (hash_live.sql), as a sync does

    def ledger(self, table: Table) -> Ledger:
        return self.ledgers.get(table, Ledger())

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

    def live_view(self, table: Table) -> str:
        """For a sync --only some keys: the live rows of those keys, for a listing."""
        return f"pg_temp.promptsync_live_only_{self.tables.index(table)}"


def confirmed(session: Session, discarding: bool = False) -> None:
    """Ask the person at the terminal; anything but yes rolls back and refuses (exit 3).
    `discarding`: the changes made there outside promptsync, listed above, go too."""
    what = (
        f"OVERWRITE all prompts in {session.label}, discarding the changes made there "
        "outside promptsync (listed above)"
        if discarding
        else f"OVERWRITE all prompts in {session.label}"
    )
    sys.stderr.write(f"This will {what}. Continue? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        session.rollback()
        raise Refused("not confirmed: nothing was changed")


def begin(session: Session) -> None:
    """The helper functions for this transaction (Session.commit drops them before COMMIT;
    a rollback takes them away)."""
    session.run_file("functions.sql", "preparing")


def find_ledgers(session: Session, work: Work) -> None:
    """Each table's ledger on the target, when there is one to trust (sql/ledger_find.sql)."""
    for table in work.tables:
        fields = session.run(
            sql_text("signatures.sql") + sql_text("ledger_find.sql") + LEDGER_FIELDS,
            "reading the ledger",
            rel=work.rel(table),
        )[0]
        work.ledgers[table] = _ledger(fields)


def _ledger(fields: list[str]) -> Ledger:
    name, promotion, why, cache, cache_why = fields
    return Ledger(name, int(promotion) if promotion else None, why, cache == "t", cache_why)


def compare(
    session: Session, work: Work, listed: bool = False, only: bool = True
) -> dict[Table, Comparison]:
    """One pass over the stage per table, and over the live table unless `listed` (its hashes
    are in hash_live.sql's list): the staged fingerprint and the plan (limited to work.only's
    keys when `only`)."""
    return {
        table: _comparison(
            session.value(
                sql_text("compare.sql"),
                "comparing",
                rel=work.rel(table),
                stage=work.stage(table),
                cmp=work.cmp(table),
                listed=work.live(table) if listed else "",
                ledger=work.ledger(table).table,
                only=work.only if only else "",
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


def quick_prints(session: Session, work: Work, name: str) -> dict[Table, Fingerprint]:
    """Each table's ledger (as find_ledgers) and its live row count and checksum, where the
    ledger may stand in for hashing unchanged rows (said for each): enough to tell that
    nothing differs without listing a row, or creating promptsync's helper functions."""
    found = {}
    for table in work.tables:
        found[table], vouched, fields = fast_fingerprint(session, work.rel(table))
        work.ledgers[table] = _ledger(fields)
        log.info(f"{name} {table}: {vouched}")
    return found


def list_live(session: Session, work: Work) -> None:
    """Each live table's (primary key, row hash, row version) list, read without blocking
    anyone, and an empty list for the source's."""
    work.listed = True
    for table in work.tables:
        ledger = work.ledger(table)
        session.run_file(
            "hash_live.sql",
            "listing the live rows",
            rel=work.rel(table),
            live=work.live(table),
            src=work.src(table),
            ledger=ledger.table,
            cache="t" if ledger.cache else "f",
        )


def load_list(session: Session, work: Work, table: Table, spool: BinaryIO) -> int:
    """The source's spooled list of (primary key, row hash) into its temporary table; returns
    its size in bytes."""
    session.copy_in(
        work.src(table), iter(lambda: spool.read(1 << 20), b""), "loading the source's list"
    )
    session.run("", "loading the source's list")
    return os.fstat(spool.fileno()).st_size


def plan(session: Session, work: Work, source: dict[Table, Fingerprint]) -> dict[Table, Comparison]:
    """The plan from the two lists (no row read), with the source's fingerprint (`source`,
    known already) as `staged`; for a sync --only some keys, those keys' own."""
    found = {}
    for table in work.tables:
        compared = _comparison(
            session.value(
                sql_text("plan.sql"),
                "planning",
                rel=work.rel(table),
                src=work.src(table),
                live=work.live(table),
                cmp=work.cmp(table),
                ledger=work.ledger(table).table,
                only=work.only,
            )
        )
        if not work.only:
            compared = dataclasses.replace(compared, staged=source[table])
        found[table] = compared
    return found


def plan_id(session: Session, work: Work) -> tuple[str, list[list[str]]]:
    """The id of this plan (diff.plan_id of each table's sql/plan_id.sql digest), and its first
    rows ([mark, key] each)."""
    digests, first = {}, []
    for table in work.tables:
        digest, rows = session.value(
            sql_text("plan_id.sql"),
            "computing the plan's id",
            rel=work.rel(table),
            cmp=work.cmp(table),
        ).split("\t")
        digests[str(table)] = digest
        first += json.loads(rows)
    return diff.plan_id(digests), first[:10]


def ledger_rows(session: Session, work: Work, table: Table, keys: list[str]) -> list[list[str]]:
    """What the ledger says of these rows (sql/ledger_rows.sql): [key, live hash, ledger hash]."""
    return json.loads(
        session.value(
            sql_text("ledger_rows.sql"),
            "reading the ledger",
            rel=work.rel(table),
            ledger=work.ledger(table).table,
            keys=json.dumps(keys),
        )
    )


def target_edits(session: Session, work: Work, table: Table, limit: int) -> dict:
    """The rows edited, created or deleted outside promptsync since the last promotion that
    this plan would overwrite, delete or re-create (sql/target_edits.sql): {"count", "rows"};
    none without a ledger."""
    if not work.ledger(table):
        return {"count": 0, "rows": []}
    return json.loads(
        session.value(
            sql_text("target_edits.sql"),
            "reading the rows edited outside promptsync",
            rel=work.rel(table),
            cmp=work.cmp(table),
            stage=work.stage(table),
            limit=limit,
        )
    )


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


def listing_views(
    session: Session, work: Work, delta: bool
) -> tuple[dict[Table, str], dict[Table, str]]:
    """What each table would hold and what it holds, for a listing: the stage and the live
    table, except after a delta transfer (a temporary view of the staged rows plus the
    unchanged live ones) and for a sync --only some keys (views of those keys alone). Drop
    them with drop_views."""
    stages, lives = {}, {}
    for table in work.tables:
        stages[table], lives[table] = work.stage(table), work.rel(table)
        if delta:
            stages[table] = work.view(table)
            session.run_file(
                "staged_view.sql",
                "preparing the listing",
                rel=work.rel(table),
                stage=work.stage(table),
                cmp=work.cmp(table),
                view=stages[table],
            )
        if work.only:
            views = ((stages, f"{work.view(table)}_only"), (lives, work.live_view(table)))
            for side, shown in views:
                session.run_file(
                    "only_view.sql",
                    "preparing the listing",
                    rel=side[table],
                    keyrel=work.rel(table),
                    cmp=work.cmp(table),
                    view=shown,
                )
                side[table] = shown
    return stages, lives


def drop_views(session: Session, work: Work) -> None:
    views = [f"{work.view(t)}_only, {work.live_view(t)}, {work.view(t)}" for t in work.tables]
    session.run(f"DROP VIEW IF EXISTS {', '.join(views)};", "ending the listing")


def whole_prints(
    session: Session, work: Work
) -> tuple[dict[Table, Fingerprint], dict[Table, Fingerprint]]:
    """For a sync --only some keys: each whole table's fingerprint now, and the one it must
    have after the apply (sql/expected_after.sql)."""
    before, after = {}, {}
    for table in work.tables:
        now, then = session.value(
            sql_text("expected_after.sql"),
            "computing the fingerprint to expect",
            rel=work.rel(table),
            live=work.live(table),
            cmp=work.cmp(table),
        ).split(";")
        before[table], after[table] = combine(*now.split()), combine(*then.split())
    return before, after


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
    detach: list[Reference] | None = None,
) -> dict[Table, Change]:
    """Apply every table's difference, check it, record it: first the rows of other tables
    to detach or delete (`detach`, as the guard allowed), then the apply; the ledger, and for
    a rollback the rows of other tables its promotion detached. The caller commits, then
    calls `report` with what this returns."""
    promotion = history.start(session, record)
    _detach(session, work, detach or [], promotion)
    changes = _apply_rows(session, work, expected, promotion, triggers or {})
    for table in work.tables:
        # apply.sql checked that the table holds exactly the staged rows, which the caller
        # checked against `expected`: no second pass over the table
        session.run_file("sequences.sql", "moving sequences", rel=work.rel(table))
        _write_ledger(session, work, table, record, promotion, expected[table])
        if record.undoes is not None:
            _restore_references(session, work, table, record.undoes, promotion)
        change = changes[table]
        session.run_file(
            "promotion_table.sql",
            "recording the promotion",
            promotion=promotion,
            rel=work.rel(table),
            rows_before=before[table].rows,
            checksum_before=before[table].checksum,
            rows_after=expected[table].rows,
            checksum_after=expected[table].checksum,
            inserted=change.inserted,
            updated=change.updated,
            deleted=change.deleted,
            keep=keep,
        )
    return changes


def _detach(session: Session, work: Work, detach: list[Reference], promotion: int) -> None:
    """The rows of other tables that point at rows to delete: set to NULL or deleted, as the
    guard allowed, with undo data."""
    by_rel = {work.rel(t): t for t in work.tables}
    for ref in detach:
        table = by_rel[ref.synced]
        session.run_file(
            "detach.sql",
            f"{'detaching' if ref.action == 'detach' else 'deleting'} rows of {ref.table}",
            rel=ref.synced,
            stage=work.stage(table),
            cmp=work.cmp(table),
            constraint=ref.constraint,
            action=ref.action,
            promotion=promotion,
        )


def _apply_rows(
    session: Session,
    work: Work,
    expected: dict[Table, Fingerprint],
    promotion: int,
    triggers: dict[Table, list[Trigger]],
) -> dict[Table, Change]:
    """sql/apply.sql over every table in foreign-key order: only the differences, each table
    checked to hold exactly the staged rows; what it did, per table."""
    order = fk_order(session, work)
    tables = [
        {"rel": work.rel(t), "stage": work.stage(t), "cmp": work.cmp(t), "rows": expected[t].rows}
        for t in order
    ]
    try:
        line = session.value(
            sql_text("apply.sql"), "applying", tables=json.dumps(tables), promotion=promotion
        )
    except Failed as exc:
        if "did not hold exactly the staged rows" not in str(exc):
            raise
        named = [f"{t}: {', '.join(map(str, found))}" for t, found in triggers.items() if found]
        raise Failed(
            f"{exc}; "
            + (
                f"the user triggers there: {'; '.join(named)}: exempt promptsync in the one "
                "that rewrites rows (docs/safety.md: Triggers); "
                if named
                else ""
            )
            + "rolled back, nothing changed"
        ) from None
    changes = {}
    for table, counts in zip(order, line.split(";"), strict=True):
        inserted, updated, deleted = (int(n) for n in counts.split())
        changes[table] = Change(inserted, updated, deleted)
    return changes


def _write_ledger(
    session: Session,
    work: Work,
    table: Table,
    record: history.Record,
    promotion: int,
    expected: Fingerprint,
) -> None:
    """What promptsync left in `table`, in this promotion's transaction (sql/ledger_write.sql)."""
    ledger = work.ledger(table)
    session.run(
        sql_text("signatures.sql") + sql_text("ledger_write.sql"),
        "recording what promptsync left",
        rel=work.rel(table),
        cmp=work.cmp(table),
        ledger=ledger.table,
        promotion=promotion,
        undoes="" if record.undoes is None else record.undoes,
        only=work.only,
        live=work.live(table) if ledger.cache and work.listed else "",
        rows=expected.rows,
        checksum=expected.checksum,
    )


def _restore_references(
    session: Session, work: Work, table: Table, undoes: int, promotion: int
) -> None:
    """A rollback: the rows of other tables that the promotion it undoes detached or deleted
    get their old values back."""
    restored = session.value(
        sql_text("refs_restore.sql"),
        "restoring rows of other tables",
        rel=work.rel(table),
        undoes=undoes,
        promotion=promotion,
    )
    if restored != "0":
        log.info(f"{table}: {restored} rows of other tables got their old values back")


def report(label: str, changes: dict[Table, Change], expected: dict[Table, Fingerprint]) -> None:
    """What each table now holds: said only once COMMIT has succeeded."""
    for table, change in changes.items():
        log.info(f"{table}: {change}; {label} now holds {expected[table]}")
