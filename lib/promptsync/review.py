"""`promptsync diff SOURCE TARGET`: what a sync would change, read from both sides without
writing anything: the rows to add, change and remove, what changed inside each column, the
rows the target's ledger says were changed there outside promptsync, and the plan id that
`sync --expect-plan` requires. A snapshot file as SOURCE is staged by a dry run instead."""

from __future__ import annotations

from promptsync import diff, guards, log, output, preflight, promote, sources, sync
from promptsync.config import Settings, Table, environment
from promptsync.errors import EXIT_DIFFERENCES, EXIT_OK, Refused
from promptsync.session import Session
from promptsync.tools import find_tools


def run(settings: Settings, source: str, target: str, limit: int, stat: bool, context: int) -> int:
    if sources.is_file(source):  # rows of a file can only be compared once staged
        options = sync.Options(dry_run=True, listing_only=True, stat=stat, context=context)
        return sync.run(settings, source, target, options)
    envs = [environment(settings, n) for n in (source, target)]
    for env in envs:
        log.add_secrets(env.secrets)
    tools = find_tools(settings.get("PROMPTSYNC_PG_BIN"))
    src, _ = preflight.connect(envs[0], tools)
    with src:
        tgt, _ = preflight.connect(envs[1], tools)
        with tgt:
            src_infos = preflight.describe_tables(src, settings.tables)
            tgt_infos = preflight.describe_tables(tgt, settings.tables)
            drift = _drift(src, tgt, src_infos, tgt_infos)
            if drift:
                output.put("schema_drift", drift)
                output.text([drift])
                return EXIT_DIFFERENCES
            found = diff.between(src, tgt, src_infos, tgt_infos, limit)
            _note_ledger(tgt, tgt_infos, found, limit)
    output.put("source", src.label)
    output.put("target", tgt.label)
    diff.report(found, limit, stat, context)
    if not any(d.any for d in found):
        return EXIT_OK
    plan = diff.plan_id({str(d.table): d.digest for d in found})
    output.put("plan_id", plan)
    output.text([f"plan id {plan}"])
    log.info(f"plan id {plan}: deploy exactly this plan with --expect-plan {plan}")
    return EXIT_DIFFERENCES


def _drift(
    src: Session,
    tgt: Session,
    src_infos: dict[Table, preflight.TableInfo],
    tgt_infos: dict[Table, preflight.TableInfo],
) -> str:
    """Why the two sides' tables cannot be compared row by row ('' when they can)."""
    try:
        for table in src_infos:
            guards.check_drift(
                table,
                src.label,
                tgt.label,
                guards.columns(src, src_infos[table].rel),
                guards.columns(tgt, tgt_infos[table].rel),
            )
    except Refused as drift:
        return str(drift)
    return ""


def _note_ledger(
    tgt: Session, infos: dict[Table, preflight.TableInfo], found: list[diff.TableDiff], limit: int
) -> None:
    """Mark the listed rows that the target's ledger says were changed there outside
    promptsync since its last promotion."""
    work = promote.Work(tuple(infos), infos)
    promote.find_ledgers(tgt, work)  # read-only: no helper functions, nothing written
    for table_diff in found:
        ledger = work.ledger(table_diff.table)
        keys = diff.listed_keys(table_diff, limit)
        if ledger and keys:
            entries = promote.ledger_rows(tgt, work, table_diff.table, keys)
            diff.note_ledger(table_diff, entries, tgt.label, ledger.promotion)
    output.put(
        "ledger",
        {
            str(t): {"promotion": work.ledger(t).promotion} if work.ledger(t) else None
            for t in infos
        },
    )
