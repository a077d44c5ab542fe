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


def skew_advice(source: str, target: str, src_cols: dict, tgt_cols: dict) -> str:
    """What to do about drift, said from which side is migrated ahead: the source's extra
    columns come with a migration the target's code has not run yet (a deploy of that code
    migrates first); the target's extra columns with one the source lacks."""
    ahead = sorted(set(src_cols) - set(tgt_cols))
    behind = sorted(set(tgt_cols) - set(src_cols))
    advice = []
    if ahead:
        advice.append(
            f"{source} is migrated ahead of {target} (columns {', '.join(ahead)}): deploy the "
            "code with that migration (its build migrates before the sync)"
            + (
                ", or set PROMPT_SYNC_OPTIONAL=1 for this deploy of older code"
                if target == "production"
                else f", or migrate {target} first"
            )
        )
    if behind:
        advice.append(
            f"{target} is migrated ahead of {source} (columns {', '.join(behind)}): migrate "
            f"{source} first (run the application's migrations there)"
        )
    if not advice:
        advice.append("run the migrations that change those columns where they lag")
    return "; ".join(advice)


def check_drift(table: Table, source: str, target: str, src_cols: dict, tgt_cols: dict) -> None:
    """Refuse when the columns differ in a way no copy can bridge, saying which side is
    migrated ahead and what to do. Other differences are logged as notes."""
    found = drift(table, source, target, src_cols, tgt_cols)
    if found:
        for line in drift_table(source, target, src_cols, tgt_cols).splitlines():
            log.info(line)
        raise Refused(
            f"{table}: the schemas differ ({'; '.join(found.lines)}): "
            + skew_advice(source, target, src_cols, tgt_cols)
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
                lines.append(f"  {skew_advice(names[0], other, a, b)}")
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


DISCARD_VARIABLE = "PROMPTSYNC_DISCARD_TARGET_EDITS"  # =1: as --discard-target-edits
EDITS_NAMED = 10  # rows an edit refusal names in its one line
EDITS_LISTED = 50  # rows listed in the JSON document and the Markdown summary


def one_line(value: object) -> str:
    """A value inside a one-line message: tabs and line breaks shown escaped."""
    text = "NULL" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def edit_label(row: dict) -> str:
    """`id=17 name=blocked.system: edited there, the sync would overwrite body`."""
    key = "/".join(f"{k}={one_line(v)}" for k, v in row["key"].items())
    ident = " ".join(f"{k}={one_line(v)}" for k, v in row["ident"].items())
    would = {
        "overwrite": "overwrite " + (", ".join(row["columns"]) or "it"),
        "delete": "delete it",
        "re-create": "re-create it",
    }[row["action"]]
    return f"{key}{' ' + ident if ident else ''}: {row['kind']} there, the sync would {would}"


def target_edits(
    target: str, since: dict[Table, int | None], found: dict[Table, dict], keep_hint: str
) -> Refused | None:
    """The refusal for rows edited, created or deleted outside promptsync that the sync would
    overwrite, delete or re-create (promote.target_edits), naming them, how many, the columns
    (a column the application writes itself shows up in every row) and both ways on."""
    total = sum(f["count"] for f in found.values())
    if not total:
        return None
    parts = []
    for table, edits in found.items():
        if not edits["count"]:
            continue
        promotion = since.get(table)
        columns = ", ".join(f"{c} in {n:,}" for c, n in sorted(edits["columns"].items()))
        rows = "; ".join(edit_label(r) for r in edits["rows"][:EDITS_NAMED])
        more = edits["count"] - min(len(edits["rows"]), EDITS_NAMED)
        parts.append(
            f"{table}: {edits['count']:,} rows since promotion {promotion}"
            + (f" (columns it would change: {columns})" if columns else "")
            + f": {rows}"
            + (f"; and {more:,} more" if more > 0 else "")
        )
    return Refused(
        f"{target} was changed outside promptsync and this sync would undo it: "
        + " | ".join(parts)
        + f". Keep those changes: {keep_hint}; or discard them: --discard-target-edits "
        f"(make: DISCARD_TARGET_EDITS=1, environment: {DISCARD_VARIABLE}=1)"
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


ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True)
class References:
    """What a sync may do to rows of other tables that point at rows it deletes or re-keys:
    by default nothing (it refuses). `detach` (--detach-references) sets their nullable
    columns to NULL; `columns` ("schema.table.column" -> detach, cascade, refuse or
    refuse-cascade) says it per referencing column, as the Django models declare it."""

    detach: bool = False
    columns: tuple[tuple[str, str], ...] = ()

    def action(self, table: str, columns: list[str]) -> str:
        given = dict(self.columns)
        for column in columns:
            name = f"{table}.{column}"
            if name in given:
                return given[name]
        return "detach" if self.detach else "refuse"


@dataclass(frozen=True)
class Reference:
    """Rows of another table that the apply detaches (sets to NULL) or deletes first, in its
    transaction, keeping their old values in the promotion's undo data (detach.sql)."""

    constraint: str
    table: str  # the referencing table, quoted and qualified
    synced: str  # the synced table it points at
    action: str  # detach | cascade
    rows: int


def check_references(
    tgt: Session,
    table: Table,
    rel: str,
    stage: str,
    cmp: str,
    synced: list[str],
    allowed: References,
) -> list[Reference]:
    """Rows of other tables that point at prompts this sync would delete or re-key: what to
    detach or delete first, as `allowed` says, or the refusal naming the prompts and the
    referencing rows (table, columns, count, first keys) and the way through."""
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
    through, blocked = [], []
    for ref in found:
        action = allowed.action(ref["table"], ref["columns"])
        if action in ("detach", "cascade") and not ref["has_key"]:
            blocked.append((ref, "no-key"))
        elif action == "detach" and ref["nullable"]:
            through.append(Reference(ref["constraint"], ref["table"], rel, action, ref["rows"]))
        elif action == "cascade":
            through.append(Reference(ref["constraint"], ref["table"], rel, action, ref["rows"]))
        else:
            blocked.append((ref, action))
    if blocked:
        raise Refused(_references_refusal(table, tgt.label, blocked))
    for ref in through:
        verb = "set to NULL" if ref.action == "detach" else "deleted"
        log.info(
            f"{table}: {ref.rows:,} rows of {ref.table} ({ref.constraint}) point at prompts "
            f"this sync deletes: they are {verb} in the same transaction (a rollback restores "
            "them)"
        )
    return through


def _references_refusal(table: Table, target: str, blocked: list[tuple[dict, str]]) -> str:
    named = []
    for ref, action in blocked:
        columns = ", ".join(ref["columns"])
        why = {
            "refuse-cascade": "the model says CASCADE: --allow-cascade deletes them",
            "refuse-protect": "the model says PROTECT",
            "refuse-restrict": "the model says RESTRICT",
            "no-key": "that table has no primary key by which a rollback could restore them",
        }.get(action, "")
        if not why:
            why = (
                "NOT NULL, so they cannot be detached"
                if not ref["nullable"]
                else "--detach-references sets them to NULL in the same transaction"
            )
        named.append(
            f"{ref['rows']:,} rows of {ref['table']}.{columns} ({ref['constraint']}, ON DELETE "
            f"{ON_DELETE.get(ref['on_delete'], '?')}; e.g. {', '.join(ref['keys'])}) point at "
            f"{', '.join(ref['prompts'])} ({why})"
        )
    return (
        f"{table}: {'; '.join(named)}: this sync would delete or re-key those prompts in "
        f"{target}, and promptsync changes rows of other tables only when told; or keep those "
        "prompts in the source, or update those rows first"
    )
