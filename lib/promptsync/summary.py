"""What a sync or verify did, where people look: Markdown for a GitHub Actions run's page
(GITHUB_STEP_SUMMARY) and for pull-request comments (--format markdown), and one line for a
build log. Built only from the document --json prints (the keys commands give output.put), so
the JSON, the Markdown and the line always agree. Pure functions: no I/O here but main().

    python -m promptsync.summary markdown|line FILE    renders a saved --json document
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promptsync import changes

ROWS_LISTED = 20  # rows of each kind (+ ~ -) shown in a summary's listing
MEANING = {
    0: "done",
    1: "differences found",
    2: "usage or configuration error",
    3: "refused for safety",
    4: "failed",
}
ICON = {0: "✅", 1: "⚠️", 2: "❌", 3: "⛔", 4: "❌"}
SUMMARIZED = ("sync", "verify", "diff")  # the commands that write GITHUB_STEP_SUMMARY
# What the listing of rows may take of a summary: GitHub refuses a step summary over 1 MiB.
LISTING_BYTES = 900_000
NEWEST = ("updated_at", "created_at")  # columns that say which prompts changed last


def markdown(doc: dict[str, Any]) -> str:
    """The document as Markdown: a heading, the outcome in one sentence, then the tables."""
    command = doc.get("command", "")
    if command == "sync":
        lines = _sync(doc)
    elif command == "verify":
        lines = _verify(doc)
    elif command == "diff":
        lines = _diff(doc)
    else:
        lines = [f"### promptsync {command}".rstrip(), "", _failure(doc)]
    return "\n".join(lines).rstrip("\n") + "\n"


def line(doc: dict[str, Any]) -> str:
    """One line saying what happened to the prompts: the counts and the checksums after."""
    return " ".join(_line(doc).split())


def _line(doc: dict[str, Any]) -> str:
    command = doc.get("command", "")
    code = doc.get("exit_code", 4)
    if command == "verify" and "tables" in doc:
        differing = doc.get("differing", [])
        verb = "differs" if len(differing) == 1 else "differ"
        outcome = "all match" if code == 0 else f"{', '.join(differing)} {verb}"
        cells = [
            f"{env} {_print(doc['tables'][t][env], full=True)}"
            for t in doc["tables"]
            for env in doc.get("environments", [])
        ]
        return f"prompts: {outcome}: " + "; ".join(cells)
    source, target = doc.get("source", "?"), doc.get("target", "?")
    head = f"prompts {source} -> {target}"
    result = doc.get("result")
    if result == "synced":
        return f"{head}: {_counts(doc.get('applied', {}))}; {target} now {_prints(doc, 'after')}"
    if result == "in sync":
        return f"{head}: already in sync; {target} {_prints(doc, 'before')}"
    if result == "dry run":
        planned = _counts(doc.get("plan", {}), "would be ")
        return f"{head}: dry run, nothing changed ({planned}); {target} {_prints(doc, 'before')}"
    why = f"{MEANING.get(code, 'failed')} (exit {code})"
    if doc.get("error"):
        why += f": {doc['error']}"
    if "before" in doc and code in (2, 3):
        return f"{head}: not synced, {why}; {target} still {_prints(doc, 'before')}"
    return f"{head}: not synced, {why}"


# -- sync ----------------------------------------------------------------------------------


def _sync(doc: dict[str, Any]) -> list[str]:
    source, target = doc.get("source"), doc.get("target")
    title = "### promptsync sync" + (f": {_cell(source)} → {_cell(target)}" if source else "")
    lines = [title, "", _sync_outcome(doc)]
    if doc.get("would_refuse"):
        lines += ["", f"{ICON[3]} a real sync would refuse: {_cell(doc['would_refuse'])}"]
    if doc.get("plan_id"):
        lines += ["", _plan_line(doc["plan_id"])]
    tables = sorted(set(doc.get("before", {})) | set(doc.get("plan", {})))
    if tables:
        counts = doc.get("applied") or doc.get("plan") or {}
        after = doc.get("after") or (doc.get("before") if doc.get("result") == "in sync" else {})
        lines += [
            "",
            f"| table | {_cell(source)} | {_cell(target)} before | insert | update | delete "
            f"| {_cell(target)} after |",
            "|---|---|---|--:|--:|--:|---|",
        ]
        for table in tables:
            change = counts.get(table)
            numbers = (
                [str(change[k]) for k in ("inserted", "updated", "deleted")]
                if change
                else ["–"] * 3
            )
            cells = [
                _cell(table),
                _print(doc.get("source_fingerprint", {}).get(table)),
                _print(doc.get("before", {}).get(table)),
                *numbers,
                _print(after.get(table)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += _listing(doc.get("tables", {}))
    return lines


def _sync_outcome(doc: dict[str, Any]) -> str:
    source, target, code = doc.get("source"), doc.get("target"), doc.get("exit_code", 4)
    result = doc.get("result")
    if result == "synced":
        return f"{ICON[0]} **synced**: {_cell(target)} now matches {_cell(source)}."
    if result == "in sync":
        return f"{ICON[0]} **already in sync**: {_cell(target)} matches {_cell(source)}."
    if result == "dry run":
        state = "differs from" if code == 1 else "matches"
        return (
            f"{ICON.get(code, ICON[1])} **dry run**: {_cell(target)} {state} {_cell(source)}; "
            "nothing was changed."
        )
    return _failure(doc)


def _listing(tables: dict[str, Any]) -> list[str]:
    """The rows a dry run, a confirmation or a diff listed: one <details> per row that carries
    its values, with what changed inside each column (changes.markdown_blocks), newest first,
    cut to stay within LISTING_BYTES, then a line per row that carries none (beyond what the
    listing read)."""
    lines: list[str] = []
    budget = LISTING_BYTES
    for table, found in tables.items():
        rows, plain = _row_changes(found)
        if not rows and not plain:
            continue
        blocks = changes.markdown_blocks(rows, limit_bytes=budget)
        budget = max(0, budget - len("\n".join(blocks).encode()))
        lines += ["", f"#### {_cell(table)}: {_counts_of(found)}", "", *blocks]
        if plain:
            lines += ["", *plain]
    return lines


def _counts_of(found: dict[str, Any]) -> str:
    return ", ".join(
        f"{len(found.get(kind, [])):,} {verb}"
        for kind, verb in (("added", "to add"), ("changed", "to change"), ("removed", "to remove"))
    )


def _row_changes(found: dict[str, Any]) -> tuple[list[changes.RowChange], list[str]]:
    """The listed rows that carry their values, as changes.py renders them (newest first), and
    a Markdown line for each of the others (ROWS_LISTED of each kind at most)."""
    kinds, key_cols = found.get("kinds", {}), found.get("key_columns", [])
    rows, plain = [], []
    for mark, kind in (("+", "added"), ("~", "changed"), ("-", "removed")):
        without = [item for item in found.get(kind, []) if "values" not in item]
        plain += [_plain_row(mark, item) for item in without[:ROWS_LISTED]]
        if len(without) > ROWS_LISTED:
            plain.append(f"- `{mark}` … and {len(without) - ROWS_LISTED:,} more")
        for item in found.get(kind, []):
            if "values" in item:
                rows.append(_row_change(mark, item, kinds, key_cols))
    rows.sort(key=lambda r: r[0], reverse=True)
    return [r for _, r in rows], plain


def _row_change(
    mark: str, item: dict[str, Any], kinds: dict[str, str], key_cols: list[str]
) -> tuple[str, changes.RowChange]:
    """(when the row last changed, the row as changes.py renders it)."""
    old, new = item["values"]["old"] or {}, item["values"]["new"] or {}
    names = item.get("columns", []) if mark == "~" else list(kinds)
    columns = [
        (c, changes.from_listing(kinds[c], old.get(c)), changes.from_listing(kinds[c], new.get(c)))
        for c in names
        if c in kinds and old.get(c) != new.get(c)
    ]
    label = _row_label(key_cols, item)
    return _newest(old, new), changes.RowChange(mark, label, columns, item.get("note", ""))


def _plain_row(mark: str, item: dict[str, Any]) -> str:
    pairs = item["ident"].items()
    ident = " ".join(f"{k}={'NULL' if v is None else v}" for k, v in pairs)
    keys = ", ".join(str(k) for k in item["key"])
    changed = f" (changed: {', '.join(item['columns'])})" if mark == "~" else ""
    note = f" ⚠️ {item['note']}" if item.get("note") else ""
    return f"- `{mark}` " + _cell(f"{keys} {ident}{changed}{note}")


def _row_label(key_cols: list[str], item: dict[str, Any]) -> str:
    keys = ", ".join(str(k) for k in item["key"])
    ident = " ".join(f"{k}={'NULL' if v is None else v}" for k, v in item["ident"].items())
    return f"{','.join(key_cols)}={keys}" + (f" {ident}" if ident else "")


def _newest(old: dict[str, Any], new: dict[str, Any]) -> str:
    """When the row last changed, as ISO text ('' when the table does not say)."""
    found = [
        str(changes.from_listing("scalar", side.get(c)).value or "")
        for side in (new, old)
        for c in NEWEST
        if side.get(c)
    ]
    return max(found, default="")


# -- diff ----------------------------------------------------------------------------------


def _diff(doc: dict[str, Any]) -> list[str]:
    source, target = doc.get("source"), doc.get("target")
    title = "### promptsync diff" + (f": {_cell(source)} → {_cell(target)}" if source else "")
    code, tables = doc.get("exit_code", 4), doc.get("tables", {})
    if code == 1:
        counts = "; ".join(f"{_cell(t)}: {_counts_of(f)}" for t, f in tables.items())
        outcome = f"{ICON[1]} **{_cell(target)} differs from {_cell(source)}**: {counts}."
    elif code == 0:
        outcome = f"{ICON[0]} **no differences**: {_cell(target)} matches {_cell(source)}."
    else:
        outcome = _failure(doc)
    lines = [title, "", outcome]
    if doc.get("plan_id"):
        lines += ["", _plan_line(doc["plan_id"])]
    if doc.get("schema_drift"):
        lines += ["", f"{ICON[3]} {_cell(doc['schema_drift'])}"]
    return lines + _listing(tables)


def _plan_line(plan: str) -> str:
    return (
        f"Plan id `{plan}`: deploy exactly this plan with `--expect-plan {plan}` "
        f"(or `PROMPTSYNC_EXPECT_PLAN={plan}`); any other plan is refused."
    )


# -- verify --------------------------------------------------------------------------------


FAST_NOTE = (
    "_verify --fast: each database's ledger stood in for hashing the rows it recorded; "
    "`verify` reads every row._"
)


def _verify(doc: dict[str, Any]) -> list[str]:
    lines = ["### promptsync verify", ""]
    envs, tables = doc.get("environments", []), doc.get("tables", {})
    differing = doc.get("differing", [])
    code = doc.get("exit_code", 4)
    if code == 0 and envs:
        count = f"all {len(envs)} match" if len(envs) > 1 else "one environment"
        lines.append(f"{ICON[0]} **{count}**: {', '.join(_cell(e) for e in envs)}.")
    elif code == 1 and differing:
        verb = "differs" if len(differing) == 1 else "differ"
        lines.append(
            f"{ICON[1]} **differences**: {', '.join(_cell(e) for e in differing)} {verb} "
            f"from {_cell(envs[0])}."
        )
    else:
        lines.append(_failure(doc))
    if tables and envs:
        heads = [_cell(e) + (" ⚠️" if e in differing else "") for e in envs]
        lines += ["", "| table | " + " | ".join(heads) + " |", "|---" * (len(envs) + 1) + "|"]
        for table, by_env in tables.items():
            cells = [_print(by_env.get(e)) for e in envs]
            lines.append(f"| {_cell(table)} | " + " | ".join(cells) + " |")
    if doc.get("fast"):
        lines += ["", FAST_NOTE]
    return lines


# -- pieces --------------------------------------------------------------------------------


def _failure(doc: dict[str, Any]) -> str:
    code = doc.get("exit_code", 4)
    text = f"{ICON.get(code, ICON[4])} **{MEANING.get(code, 'failed')}** (exit {code})"
    return text + (f": {_cell(doc['error'])}" if doc.get("error") else "")


def _print(found: dict[str, Any] | None, *, full: bool = False) -> str:
    if not found:
        return "–"
    rows = f"{found['rows']:,} row{'' if found['rows'] == 1 else 's'}"
    if full:
        return f"{rows}, checksum {found['checksum']}"
    return f"{rows} `{found['checksum'][:12]}`"


def _prints(doc: dict[str, Any], key: str) -> str:
    found = doc.get(key, {})
    if len(found) == 1:
        return _print(next(iter(found.values())), full=True)
    return ", ".join(f"{table} {_print(p, full=True)}" for table, p in found.items()) or "–"


def _counts(changes: dict[str, Any], verb: str = "") -> str:
    total = {k: sum(c[k] for c in changes.values()) for k in ("inserted", "updated", "deleted")}
    return ", ".join(f"{n:,} {verb}{k}" for k, n in total.items())


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no HTML, no column breaks, one line."""
    text = str(value)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        text = text.replace(raw, safe)
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promptsync.summary",
        description="Render a document saved from --json (or PROMPTSYNC_JSON_FILE).",
    )
    parser.add_argument("form", choices=("markdown", "line"))
    parser.add_argument("file", help="the JSON document")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as saved:
            doc = json.load(saved)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"summary: cannot read {args.file}: {exc}\n")
        return 2
    sys.stdout.write(markdown(doc) if args.form == "markdown" else line(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
