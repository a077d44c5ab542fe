"""`promptsync diff SOURCE TARGET`: which rows differ, by primary key, with the columns that
identify a prompt and, for a changed row, the columns that changed.

Fast on big tables: per key range (bucket) row counts and checksums are compared first, on
both servers in parallel; only differing buckets are read row by row (key + hash), and only
differing rows in detail. The plan shown by `sync --dry-run` and by the confirmation of
`sync --force` comes from here too.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from promptsync import output
from promptsync.config import Table
from promptsync.preflight import TableInfo
from promptsync.session import Session


@dataclass(frozen=True)
class Row:
    key: tuple[str, ...]
    ident: dict[str, object]

    def label(self, key_cols: str) -> str:
        keys = ", ".join(self.key)
        extra = " ".join(f"{k}={'NULL' if v is None else v}" for k, v in self.ident.items())
        return f"{key_cols}={keys}" + (f"  {extra}" if extra else "")


@dataclass
class TableDiff:
    table: Table
    key_cols: str
    added: list[Row] = field(default_factory=list)  # in source, not in target
    changed: list[tuple[Row, list[str]]] = field(default_factory=list)
    removed: list[Row] = field(default_factory=list)  # in target, not in source
    # by key: what happened to that row in the target outside promptsync (its ledger)
    notes: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{self.table}: {len(self.added):,} to add, {len(self.changed):,} to change, "
            f"{len(self.removed):,} to remove"
        )

    def as_dict(self) -> dict:
        def row(r: Row) -> dict:
            found = {"key": list(r.key), "ident": r.ident}
            if r.key in self.notes:
                found["note"] = self.notes[r.key]
            return found

        return {
            "key_columns": self.key_cols.split(","),
            "added": [row(r) for r in self.added],
            "changed": [{**row(r), "columns": cols} for r, cols in self.changed],
            "removed": [row(r) for r in self.removed],
        }

    def lines(self, limit: int) -> list[str]:
        out = [self.summary()]
        for mark, rows in (("+", self.added), ("~", self.changed), ("-", self.removed)):
            for item in rows[:limit]:
                row, cols = item if mark == "~" else (item, [])
                line = f"  {mark} {row.label(self.key_cols)}"
                if mark == "~":
                    line += f"  changed: {', '.join(cols)}"
                if row.key in self.notes:
                    line += f"  [{self.notes[row.key]}]"
                out.append(line)
            if len(rows) > limit:
                out.append(f"  {mark} ... and {len(rows) - limit:,} more")
        return out


@dataclass(frozen=True)
class Side:
    """Rows to compare: `rel` read in `session`, columns and key taken from `keyrel` (the
    live table; `rel` may be a staging table shaped like it)."""

    session: Session
    rel: str
    keyrel: str


def _buckets(side: Side) -> dict[str, tuple[str, ...]]:
    rows = side.session.run_file(
        "diff_buckets.sql", "comparing key ranges", rel=side.rel, keyrel=side.keyrel
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def _hashes(side: Side, buckets: list[str]) -> dict[str, str]:
    rows = side.session.run_file(
        "diff_rows.sql",
        "reading differing ranges",
        rel=side.rel,
        keyrel=side.keyrel,
        buckets=json.dumps(buckets),
    )
    return {key: h for key, h in rows}


def _details(side: Side, keys: list[str]) -> dict[str, tuple[dict, dict]]:
    if not keys:
        return {}
    rows = side.session.run_file(
        "diff_details.sql",
        "reading differing rows",
        rel=side.rel,
        keyrel=side.keyrel,
        keys=json.dumps(keys),
    )
    return {key: (json.loads(ident), json.loads(hashes)) for key, ident, hashes in rows}


def _both(fn, src_args: tuple, tgt_args: tuple):
    """fn(*src_args) and fn(*tgt_args): at once on two sessions, in turn on one."""
    if src_args[0].session is tgt_args[0].session:
        return fn(*src_args), fn(*tgt_args)
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.submit(fn, *src_args), pool.submit(fn, *tgt_args)
        return a.result(), b.result()


def compute(table: Table, key_cols: str, src: Side, tgt: Side) -> TableDiff:
    """What would change in tgt's rows if they became src's."""
    src_b, tgt_b = _both(_buckets, (src,), (tgt,))
    differing = sorted(b for b in set(src_b) | set(tgt_b) if src_b.get(b) != tgt_b.get(b))
    found = TableDiff(table, key_cols.replace(" ", ""))
    if not differing:
        return found
    src_h, tgt_h = _both(_hashes, (src, differing), (tgt, differing))
    added = sorted(set(src_h) - set(tgt_h), key=_order)
    removed = sorted(set(tgt_h) - set(src_h), key=_order)
    changed = sorted((k for k in set(src_h) & set(tgt_h) if src_h[k] != tgt_h[k]), key=_order)
    src_d, tgt_d = _both(_details, (src, added + changed), (tgt, removed + changed))
    found.added = [Row(_key(k), src_d[k][0]) for k in added]
    found.removed = [Row(_key(k), tgt_d[k][0]) for k in removed]
    for k in changed:
        new, old = src_d[k][1], tgt_d[k][1]
        cols = [c for c in new if new.get(c) != old.get(c)] or ["(column order)"]
        found.changed.append((Row(_key(k), src_d[k][0]), cols))
    return found


def _key(key_json: str) -> tuple[str, ...]:
    return tuple(json.loads(key_json))


def _order(key_json: str) -> tuple:
    """Numeric keys in numeric order, others as text."""
    return tuple((0, int(v), "") if v.lstrip("-").isdigit() else (1, 0, v) for v in _key(key_json))


def between(
    src: Session, tgt: Session, src_infos: dict[Table, TableInfo], tgt_infos: dict[Table, TableInfo]
) -> list[TableDiff]:
    """Two databases."""
    return [
        compute(
            t,
            tgt_infos[t].pk,
            Side(src, src_infos[t].rel, src_infos[t].rel),
            Side(tgt, tgt_infos[t].rel, tgt_infos[t].rel),
        )
        for t in src_infos
    ]


def staged(
    tgt: Session, infos: dict[Table, TableInfo], stages: dict[Table, str], lives: dict[Table, str]
) -> list[TableDiff]:
    """The staged rows against the live ones (each a table or view shaped like the live
    table), inside the target's open transaction."""
    return [
        compute(
            t,
            infos[t].pk,
            Side(tgt, stages[t], infos[t].rel),
            Side(tgt, lives[t], infos[t].rel),
        )
        for t in infos
    ]


def note_edits(found: list[TableDiff], edits: dict[Table, dict], target: str, since: dict) -> None:
    """Mark the listed rows that were changed in the target outside promptsync (the rows
    promote.target_edits found)."""
    for table_diff in found:
        for row in edits.get(table_diff.table, {}).get("rows", []):
            key = tuple(str(v) for v in row["key"].values())
            table_diff.notes[key] = (
                f"{row['kind']} in {target} outside promptsync since promotion "
                f"{since.get(table_diff.table)}"
            )


def note_ledger(
    table_diff: TableDiff, entries: list[list[str]], target: str, promotion: int | None
) -> None:
    """Mark the listed rows the target's ledger says were changed there outside promptsync
    (sql/ledger_rows.sql: [key, live hash, ledger hash] per listed key)."""
    since = f"outside promptsync since promotion {promotion}"
    for key_json, live, recorded in entries:
        if live == recorded:
            continue
        kind = "deleted" if not live else "created" if not recorded else "edited"
        table_diff.notes[_key(key_json)] = f"{kind} in {target} {since}"


def listed_keys(table_diff: TableDiff, limit: int) -> list[str]:
    """The keys a listing shows, as diff_rows.sql gives them (JSON arrays of text)."""
    rows = table_diff.added[:limit] + [r for r, _ in table_diff.changed[:limit]]
    rows += table_diff.removed[:limit]
    return [json.dumps(list(r.key), ensure_ascii=False, separators=(",", ":")) for r in rows]


def report(diffs: list[TableDiff], limit: int) -> None:
    """The listing on stdout (text), and the full lists in the JSON document."""
    output.text([line for found in diffs for line in found.lines(limit)])
    output.put("tables", {str(d.table): d.as_dict() for d in diffs})
