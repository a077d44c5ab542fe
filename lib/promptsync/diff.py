"""`promptsync diff SOURCE TARGET`: which rows differ, by primary key, with the columns that
identify a prompt and, for a changed row, what changed inside each changed column (the words of
a prompt's text, the paths of its jsonb; changes.py).

Fast on big tables: per key range (bucket) row counts and checksums are compared first, on
both servers in parallel; only differing buckets are read row by row (key + hash), only
differing rows in detail, and only the listed ones' values. The plan shown by `sync --dry-run`
and by the confirmation of `sync --force` comes from here too, and so does a plan's id: a hash
of the key and both row hashes of every row that differs (plan_id), which `sync --expect-plan`
requires at apply time.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptsync import output
from promptsync.config import Table
from promptsync.preflight import TableInfo
from promptsync.session import Session

if TYPE_CHECKING:  # imported where a listing renders values: no-op syncs never load it
    from promptsync import changes


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
    kinds: dict[str, str] = field(default_factory=dict)  # column -> text, json or scalar
    # by key, for the listed rows: (the target's values, the source's), None for no such row
    values: dict[tuple[str, ...], tuple[dict | None, dict | None]] = field(default_factory=dict)
    digest: str = ""  # md5 of "key source-hash target-hash" of every differing row (plan_id)

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
            "kinds": self.kinds,
            "added": [self._with_values(row(r), r.key) for r in self.added],
            "changed": [
                self._with_values({**row(r), "columns": cols}, r.key) for r, cols in self.changed
            ],
            "removed": [self._with_values(row(r), r.key) for r in self.removed],
        }

    def _with_values(self, found: dict, key: tuple[str, ...]) -> dict:
        if key in self.values:
            old, new = self.values[key]
            found["values"] = {"old": old, "new": new}
        return found

    def lines(self, limit: int, stat: bool = False, context: int = 3) -> list[str]:
        """The listing: a line per row, and unless `stat` what changed inside each changed
        column of a changed row (colour on a terminal)."""
        out = [self.summary()]
        color = sys.stdout.isatty()
        for mark, rows in (("+", self.added), ("~", self.changed), ("-", self.removed)):
            for item in rows[:limit]:
                row, cols = item if mark == "~" else (item, [])
                line = f"  {mark} {row.label(self.key_cols)}"
                if mark == "~":
                    line += f"  changed: {', '.join(cols)}"
                if row.key in self.notes:
                    line += f"  [{self.notes[row.key]}]"
                out.append(line)
                if mark == "~" and not stat:
                    out += [f"      {c}" for c in self._column_lines(row.key, cols, context, color)]
            if len(rows) > limit:
                out.append(f"  {mark} ... and {len(rows) - limit:,} more")
        return out

    def _column_lines(
        self, key: tuple[str, ...], cols: list[str], context: int, color: bool
    ) -> list[str]:
        from promptsync import changes  # here: only a listing with values renders them

        old, new = self.values.get(key, (None, None))
        if old is None or new is None:
            return []
        out: list[str] = []
        for col in cols:
            kind = self.kinds.get(col)
            if kind is None:
                continue
            found = changes.column_lines(
                col, value(kind, old, col), value(kind, new, col), context=context, color=color
            )
            if kind == "text":  # its hunk headers name the column
                out += found
            elif kind == "scalar" and len(found) == 1:
                out.append(f"{col}: {found[0]}")
            else:
                out += [f"{col}:", *(f"  {line}" for line in found)]
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


def value(kind: str, values: dict, column: str) -> changes.Value:
    """A column's value as changes.py takes it, from diff_values.sql's row."""
    from promptsync import changes

    return changes.from_listing(kind, values.get(column))


def _values(side: Side, keys: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
    """The column kinds, and the values of these rows by key (sql/diff_values.sql)."""
    if not keys:
        return {}, {}
    rows = side.session.run_file(
        "diff_values.sql",
        "reading the values of the listed rows",
        rel=side.rel,
        keyrel=side.keyrel,
        keys=json.dumps(keys),
    )
    return json.loads(rows[0][0]), {key: json.loads(held) for key, held in rows[1:]}


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


def compute(table: Table, key_cols: str, src: Side, tgt: Side, limit: int) -> TableDiff:
    """What would change in tgt's rows if they became src's, with the values of the first
    `limit` rows of each kind (those a listing shows)."""
    src_b, tgt_b = _both(_buckets, (src,), (tgt,))
    differing = sorted(b for b in set(src_b) | set(tgt_b) if src_b.get(b) != tgt_b.get(b))
    found = TableDiff(table, key_cols.replace(" ", ""), digest=_digest({}, {}, []))
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
    shown_src = added[:limit] + changed[:limit]
    shown_tgt = removed[:limit] + changed[:limit]
    (found.kinds, src_v), (_, tgt_v) = _both(_values, (src, shown_src), (tgt, shown_tgt))
    for k in set(shown_src) | set(shown_tgt):
        found.values[_key(k)] = (tgt_v.get(k), src_v.get(k))
    found.digest = _digest(src_h, tgt_h, added + changed + removed)
    return found


def _digest(src_h: dict[str, str], tgt_h: dict[str, str], keys: list[str]) -> str:
    """md5 of one line per differing row, `key source-hash target-hash` ('' for no such row),
    in byte order of the lines: what sql/plan_id.sql computes from a sync's plan."""
    lines = sorted(f"{k} {src_h.get(k, '')} {tgt_h.get(k, '')}" for k in keys)
    return hashlib.md5("\n".join(lines).encode(), usedforsecurity=False).hexdigest()


def plan_id(digests: dict[str, str]) -> str:
    """The id of a plan: the differing rows of every table (by its digest), 16 hex digits."""
    text = "\n".join(f"{table} {digest}" for table, digest in sorted(digests.items()))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def _key(key_json: str) -> tuple[str, ...]:
    return tuple(json.loads(key_json))


def _order(key_json: str) -> tuple:
    """Numeric keys in numeric order, others as text."""
    return tuple((0, int(v), "") if v.lstrip("-").isdigit() else (1, 0, v) for v in _key(key_json))


def between(
    src: Session,
    tgt: Session,
    src_infos: dict[Table, TableInfo],
    tgt_infos: dict[Table, TableInfo],
    limit: int,
) -> list[TableDiff]:
    """Two databases."""
    return [
        compute(
            t,
            tgt_infos[t].pk,
            Side(src, src_infos[t].rel, src_infos[t].rel),
            Side(tgt, tgt_infos[t].rel, tgt_infos[t].rel),
            limit,
        )
        for t in src_infos
    ]


def staged(
    tgt: Session,
    infos: dict[Table, TableInfo],
    stages: dict[Table, str],
    lives: dict[Table, str],
    limit: int,
) -> list[TableDiff]:
    """The staged rows against the live ones (each a table or view shaped like the live
    table), inside the target's open transaction."""
    return [
        compute(
            t,
            infos[t].pk,
            Side(tgt, stages[t], infos[t].rel),
            Side(tgt, lives[t], infos[t].rel),
            limit,
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


def report(diffs: list[TableDiff], limit: int, stat: bool = False, context: int = 3) -> None:
    """The listing on stdout (text), and the full lists in the JSON document."""
    output.text([line for found in diffs for line in found.lines(limit, stat, context)])
    output.put("tables", {str(d.table): d.as_dict() for d in diffs})
