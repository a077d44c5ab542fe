"""Guards: checks that refuse a promotion (exit 3, nothing changed), each naming its override
where one exists. Schema drift, an empty source, a mass delete, rows of other tables that
still point at prompts the sync would delete."""

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


def drift(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> Drift | None:
    """How target's columns differ from source's (physical order does not count). A side
    that knows only names (a snapshot file) is compared by names."""
    lines = []
    for name in sorted(set(src_cols) | set(tgt_cols)):
        if name not in tgt_cols:
            lines.append(f"{source} has column {name} that {target} lacks")
        elif name not in src_cols:
            lines.append(f"{target} has column {name} that {source} lacks")
        elif src_cols[name] and tgt_cols[name]:
            for field, a, b in zip(COLUMN_FIELDS, src_cols[name], tgt_cols[name], strict=True):
                if a != b:
                    lines.append(
                        f"column {name}: {field} {a or '-'} in {source}, {b or '-'} in {target}"
                    )
    return Drift(table, tuple(lines)) if lines else None


def drift_table(found: Drift, source: str, target: str, src_cols: dict, tgt_cols: dict) -> str:
    """A side-by-side table of the differing columns, for humans."""
    width = max(len(n) for n in (*src_cols, *tgt_cols, "column")) + 2
    cell = 44
    out = [f"  {'column'.ljust(width)}{source.ljust(cell)}{target}"]
    for name in sorted(set(src_cols) | set(tgt_cols)):
        a = " ".join(x for x in src_cols.get(name, ("(missing)",)) if x)
        b = " ".join(x for x in tgt_cols.get(name, ("(missing)",)) if x)
        if a != b:
            out.append(f"  {name.ljust(width)}{a[: cell - 2].ljust(cell)}{b}")
    return "\n".join(out)


def check_drift(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> None:
    """Refuse when a table's columns differ: migrations must run first."""
    found = drift(table, source, target, src_cols, tgt_cols)
    if found:
        for line in drift_table(found, source, target, src_cols, tgt_cols).splitlines():
            log.info(line)
        raise Refused(
            f"{table}: the schemas differ ({'; '.join(found.lines)}): run migrations first"
        )


def check_empty(source: str, table: Table, rows: int, allow_empty: bool) -> None:
    if rows == 0 and not allow_empty:
        raise Refused(
            f"{table} is empty in {source}: refusing to empty the target "
            "(--allow-empty to do it anyway)"
        )


def check_mass_delete(
    target: str, table: Table, deleted: int, live_rows: int, allowed: bool
) -> None:
    if not allowed and live_rows and deleted * 2 > live_rows:
        raise Refused(
            f"{table}: the sync would delete {deleted:,} of {live_rows:,} rows in {target} "
            "(more than half): --allow-mass-delete if that is intended"
        )


def check_references(
    tgt: Session, table: Table, rel: str, stage: str, cmp: str, synced: list[str]
) -> None:
    """No override: a sync never deletes or changes rows in other tables."""
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
            f"{tgt.label}; a sync never touches other tables: update or remove those rows first"
        )
