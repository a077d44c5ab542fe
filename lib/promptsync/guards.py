"""Guards: checks that refuse a promotion (exit 3, nothing changed), each naming its override
where one exists. Schema drift, NULLs a NOT NULL column would reject, an empty source, a mass
delete, rows of other tables that still point at prompts the sync would delete."""

from __future__ import annotations

import json
from dataclasses import dataclass

from promptsync import log
from promptsync.config import Table
from promptsync.errors import Refused
from promptsync.session import Session, sql_text

COLUMN_FIELDS = ("type", "nullability", "default", "identity/generated")


def columns(session: Session, rel: str) -> dict[str, tuple[str, ...]]:
    """column name -> (type, nullability, default, identity/generated)."""
    rows = session.run_file("columns.sql", "reading columns", rel=rel)
    return {name: tuple(rest) for name, *rest in rows}


@dataclass(frozen=True)
class Drift:
    table: Table
    lines: tuple[str, ...]  # one per difference, e.g. "production has column owner ..."


def _generated(fields: tuple[str, ...]) -> bool:
    return len(fields) > 3 and "s" in fields[3]


def drift(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> Drift | None:
    """What makes an exact copy impossible (physical order does not count): a column one side
    lacks, a different type, a stored generated column on one side only. A side that knows
    only names (a snapshot file) is compared by names. Nullability is checked against the
    data once it is staged (`check_nulls`); defaults, sequence names and serial vs identity
    do not change the rows and are only `notes`."""
    lines = []
    for name in sorted(set(src_cols) | set(tgt_cols)):
        if name not in tgt_cols:
            lines.append(f"{source} has column {name} that {target} lacks")
        elif name not in src_cols:
            lines.append(f"{target} has column {name} that {source} lacks")
        elif src_cols[name] and tgt_cols[name]:
            a, b = src_cols[name], tgt_cols[name]
            if a[0] != b[0]:
                lines.append(f"column {name}: type {a[0]} in {source}, {b[0]} in {target}")
            if _generated(a) != _generated(b):
                where = source if _generated(a) else target
                lines.append(f"column {name}: generated in {where} only")
    return Drift(table, tuple(lines)) if lines else None


def notes(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> list[str]:
    """Differences that do not stop an exact copy: nullability, defaults (a sequence named
    prompts_id_seq1 after a rebuild), serial vs identity."""
    found = []
    for name in sorted(set(src_cols) & set(tgt_cols)):
        a, b = src_cols[name], tgt_cols[name]
        if not (a and b):
            continue
        for field, x, y in zip(COLUMN_FIELDS[1:], a[1:], b[1:], strict=True):
            if x != y and not (field == "identity/generated" and "s" in x + y):
                found.append(
                    f"note: {table} column {name}: {field} {x or '-'} in {source}, "
                    f"{y or '-'} in {target}"
                )
    return found


def drift_table(source: str, target: str, src_cols: dict, tgt_cols: dict) -> str:
    """A side-by-side table of every column that differs in any way, for humans; cells are
    never cut (the difference may be at the end)."""
    rows = [("column", source, target)]
    for name in sorted(set(src_cols) | set(tgt_cols)):
        a = " ".join(x for x in src_cols.get(name, ("(missing)",)) if x)
        b = " ".join(x for x in tgt_cols.get(name, ("(missing)",)) if x)
        if a != b:
            rows.append((name, a, b))
    widths = [max(len(r[i]) for r in rows) + 2 for i in (0, 1)]
    return "\n".join(
        f"  {r[0].ljust(widths[0])}{r[1].ljust(widths[1])}{r[2]}".rstrip() for r in rows
    )


def check_drift(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> None:
    """Refuse when the columns differ in a way no copy can bridge: migrations must run first.
    Other differences are logged as notes."""
    found = drift(table, source, target, src_cols, tgt_cols)
    if found:
        for line in drift_table(source, target, src_cols, tgt_cols).splitlines():
            log.info(line)
        raise Refused(
            f"{table}: the schemas differ ({'; '.join(found.lines)}): run migrations first"
        )
    for line in notes(table, source, target, src_cols, tgt_cols):
        log.info(line)


def compare_schemas(tables: tuple[Table, ...], by_env: dict[str, dict]) -> tuple[list[str], bool]:
    """`check`: every environment's columns against the first one's, per table. Returns the
    lines to print (drift with its full column table, and notes) and whether any drift would
    stop a sync."""
    names = list(by_env)
    lines: list[str] = []
    drifted = False
    for table in tables:
        for other in names[1:]:
            a, b = by_env[names[0]][table], by_env[other][table]
            found = drift(table, names[0], other, a, b)
            if found:
                drifted = True
                lines.append(f"schema drift in {table}: {'; '.join(found.lines)}")
                lines.extend(drift_table(names[0], other, a, b).splitlines())
                lines.append("  run migrations first")
            else:
                lines.extend(notes(table, names[0], other, a, b))
    return lines, drifted


def check_nulls(tgt: Session, table: Table, source: str, rel: str, stage: str) -> None:
    """Refuse when a column NOT NULL in the target holds NULL in the source's rows."""
    found = json.loads(
        tgt.value(sql_text("stage_nulls.sql"), "checking nullability", rel=rel, stage=stage)
    )
    if found:
        cols = ", ".join(f"{name} ({rows:,} rows)" for name, rows in found)
        raise Refused(
            f"{table}: {source} has NULL in {cols}, NOT NULL in {tgt.label}: make the column "
            f"nullable in {tgt.label} (migrations) or fill the rows in {source}"
        )


def check_empty(source: str, table: Table, rows: int, allow_empty: bool) -> None:
    if rows == 0 and not allow_empty:
        raise Refused(
            f"{table} is empty in {source}: refusing to empty the target "
            "(--allow-empty to do it anyway)"
        )


def check_mass_delete(
    target: str, table: Table, rows_after: int, live_rows: int, allowed: bool
) -> None:
    """A wrong or half-empty source, not a sync that replaces many rows: trips only when the
    target would be left with fewer than half of its rows."""
    if not allowed and rows_after * 2 < live_rows:
        raise Refused(
            f"{table}: the sync would leave {rows_after:,} of {live_rows:,} rows in {target} "
            "(fewer than half): --allow-mass-delete (make: ALLOW_MASS_DELETE=1, environment: "
            "PROMPTSYNC_ALLOW_MASS_DELETE=1) if that is intended"
        )


def check_references(
    tgt: Session, table: Table, rel: str, stage: str, cmp: str, synced: list[str]
) -> None:
    """No override: promptsync never deletes or changes rows of other tables itself (a
    cascade would)."""
    found = json.loads(
        tgt.value(
            sql_text("references.sql"),
            "checking references",
            rel=rel,
            stage=stage,
            cmp=cmp,
            synced=json.dumps(synced),
        )
    )
    if found:
        where = ", ".join(f"{rows:,} rows of {name}" for name, rows in found)
        raise Refused(
            f"{table}: {where} still reference prompts this sync would delete or re-key in "
            f"{tgt.label}; promptsync never deletes or changes rows of other tables: update or "
            "remove those rows first"
        )
