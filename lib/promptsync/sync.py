"""`promptsync sync SOURCE TARGET`: one verified, atomic promotion of the prompts tables.

  source: a (key, row hash) list read in an exported snapshot  ──▶  target, in one psql
  session: BEGIN; list the live rows the same way; plan from the two lists; lock writers out;
  then the rows to write travel, either only those (delta: COPY (SELECT ... WHERE key ...)
  in the same snapshot) or the whole table (pg_dump --snapshot), into temporary staging
  tables; every staged row is checked against the source's list; only the differences are
  applied and checked; sequences move; COMMIT.
  (A snapshot file: its checked rows are all staged and compared.)
A failure anywhere before COMMIT ends the session, and the server rolls everything back.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from promptsync import diff, guards, history, log, output, preflight, promote, retry, sources
from promptsync.config import Environment, Settings, Table, environment
from promptsync.dumpstream import StreamStats
from promptsync.errors import (
    EXIT_DIFFERENCES,
    EXIT_OK,
    CommitUnknown,
    ConfigError,
    Failed,
    Refused,
)
from promptsync.fingerprint import Fingerprint, of_environment
from promptsync.session import Session
from promptsync.tools import Tools, find_tools

PLAN_ROWS = 50  # rows listed per kind of change in a plan
LOOKUP_SECONDS = 20  # how long to try reaching a target whose COMMIT outcome is unknown
MASS_DELETE_VARIABLE = "PROMPTSYNC_ALLOW_MASS_DELETE"  # =1: as --allow-mass-delete
TRANSFER_VARIABLE = "PROMPTSYNC_TRANSFER"  # auto (default), delta or full
DELTA_SHARE = 0.5  # auto: the delta path while at most this share of the rows is written


@dataclass(frozen=True)
class Options:
    force: bool = False
    dry_run: bool = False
    yes: bool = False
    allow_empty: bool = False
    allow_mass_delete: bool = False
    interactive: bool = False  # a person is at a terminal to answer the confirmation
    listing_only: bool = False  # `diff file:...`: print the rows that differ, nothing else


@dataclass
class Job:
    settings: Settings
    source: Environment | str  # an environment, or "file:PATH"
    target: Environment
    tables: tuple[Table, ...]
    tools: Tools
    options: Options
    source_prints: dict[Table, Fingerprint] | None = None


def run(settings: Settings, source_name: str, target_name: str, options: Options) -> int:
    target = environment(settings, target_name)
    source: Environment | str = source_name
    if not sources.is_file(source_name):
        source = environment(settings, source_name)
        if source.name == target.name:
            raise Refused(f"source and target are both {source.name}: nothing to sync")
        log.add_secrets(source.secrets)
    log.add_secrets(target.secrets)
    job = Job(
        settings=settings,
        source=source,
        target=target,
        tables=settings.tables,
        tools=find_tools(settings.get("PROMPTSYNC_PG_BIN")),
        options=options,
    )
    started = time.monotonic()
    where = source if isinstance(source, str) else f"{source.name} ({source.display})"
    log.info(f"sync {where} -> {target.name} ({target.display})")
    code = retry.call(settings, lambda: _attempt_or_lookup(job))
    log.info(f"done in {time.monotonic() - started:.1f} s")
    return code


def _attempt_or_lookup(job: Job) -> int:
    try:
        return _attempt(job)
    except CommitUnknown as exc:
        # Never retry blindly after a COMMIT whose outcome is unknown: look at the target.
        log.info(f"the outcome of COMMIT is unknown ({exc}); looking at {job.target.name}")
        try:
            matches = job.source_prints is not None and _look_up(job)
        except Failed as unreachable:
            raise Failed(
                f"COMMIT on {job.target.name}: the outcome is unknown and {job.target.name} "
                f"cannot be reached to look ({unreachable}); run `promptsync verify` when it "
                "is back",
                transient=True,
            ) from None
        if matches:
            log.info(f"{job.target.name} holds the new rows: the commit went through")
            return EXIT_OK
        raise Failed(f"{exc}; {job.target.name} still holds the old rows", transient=True) from None


def _look_up(job: Job) -> bool:
    """Whether the target holds the source's rows, trying for a little while (a read is
    always safe to retry)."""
    for attempt in Retrying(
        stop=stop_after_delay(LOOKUP_SECONDS),
        wait=wait_exponential_jitter(initial=1, max=5),
        retry=retry_if_exception_type(Failed),
        reraise=True,
    ):
        with attempt:
            return _target_matches(job)
    return False


def _target_matches(job: Job) -> bool:
    return of_environment(job.target, job.tools, job.tables) == job.source_prints


def _open_source(job: Job, cleanup: ExitStack) -> sources.DatabaseSource | sources.FileSource:
    if isinstance(job.source, str):
        return sources.FileSource(job.source, job.tables)
    return sources.DatabaseSource(job.source, job.tools, cleanup)


def _attempt(job: Job) -> int:
    tgt_env, opts = job.target, job.options
    with ExitStack() as cleanup:
        src = _open_source(job, cleanup)
        tgt, tgt_server = preflight.connect(tgt_env, job.tools)
        cleanup.callback(tgt.abort)
        if src.identity == tgt_server.identity:
            raise Refused(
                f"{src.name} and {tgt_env.name} are the same database "
                f"({tgt_env.display}): a sync would read and overwrite one table"
            )
        preflight.lock(tgt)
        src_tables = src.describe(job.tables)
        tgt_tables = preflight.describe_tables(tgt, job.tables)
        for table in job.tables:
            guards.check_drift(
                table,
                src.name,
                tgt_env.name,
                src.columns(table),
                guards.columns(tgt, tgt_tables[table].rel),
            )
        triggers = preflight.triggers(tgt, tgt_tables)
        preflight.note_triggers(tgt_env.name, triggers)
        log.info(
            f"preflight ok: {src.name} {src.how()}; {tgt_env.name} PostgreSQL "
            f"{tgt_server.version}, {tgt_server.connection}"
            + (f" (load: {tgt.choice})" if tgt.choice else "")
        )

        # One hash per row per side: the source lists (key, hash) inside its snapshot while
        # the target lists its live rows, in parallel; the plan joins the two lists.
        work = promote.Work(job.tables, tgt_tables)
        lists = src.hash_lists()
        promote.begin(tgt)
        promote.list_live(tgt, work)
        list_bytes = 0
        if lists is not None:
            for table, spool in lists.result().items():
                list_bytes += promote.load_list(tgt, work, table, spool)
        compared = promote.plan(tgt, work, first=True)
        target_prints = {t: c.live for t, c in compared.items()}
        source_prints = (
            {t: c.staged for t, c in compared.items()}
            if lists is not None
            else src.fingerprints().result()
        )
        job.source_prints = source_prints
        for table in job.tables:
            log.info(
                f"{table}: {src.name} {source_prints[table]}; {tgt_env.name} {target_prints[table]}"
            )
        output.put("source", src.name)
        output.put("target", tgt_env.name)
        output.put("before", {str(t): _print_dict(p) for t, p in target_prints.items()})
        output.put("source_fingerprint", {str(t): _print_dict(p) for t, p in source_prints.items()})
        if source_prints == target_prints:
            tgt.run("ROLLBACK;", "ending the comparison")
            if opts.listing_only:
                diff.report([diff.TableDiff(t, tgt_tables[t].pk) for t in job.tables], PLAN_ROWS)
            output.put("result", "in sync")
            output.put("transfer", {"path": "none", "list_bytes": list_bytes, "bytes": 0})
            log.info(f"{tgt_env.name} already matches {src.name}: nothing to do")
            if opts.force and not opts.dry_run:
                _catch_up_sequences(tgt, tgt_tables)
            return EXIT_OK
        if opts.force and not opts.dry_run:
            preflight.check_privileges(tgt, tgt_tables)
        if not (opts.force or opts.dry_run):
            raise Refused(
                f"{tgt_env.name} differs from {src.name}; refusing to overwrite it without "
                "--force (make: FORCE=1); --dry-run shows what would change"
            )
        for table in job.tables:
            guards.check_empty(src.name, table, source_prints[table].rows, opts.allow_empty)

        confirming = opts.interactive and not opts.yes and not opts.dry_run
        if not (opts.dry_run or confirming):
            # writers wait from here to COMMIT; readers never
            compared = _lock_and_replan(tgt, work, compared, lists is not None)
        delta = lists is not None and _delta_wanted(job, compared)
        for table in job.tables:
            tgt.run_file(
                "stage.sql",
                "creating the staging table",
                rel=work.rel(table),
                stage=work.stage(table),
            )
        loaded_at = time.monotonic()
        if delta:
            assert isinstance(src, sources.DatabaseSource)
            stats = StreamStats()
            for table in job.tables:
                keys = cleanup.enter_context(tempfile.TemporaryFile(prefix="promptsync-"))
                columns = promote.fetch_keys(tgt, work, table, keys)
                got = src.fetch(table, keys, columns, work.stage(table), tgt)
                stats.rows.update(got.rows)
                stats.bytes += got.bytes
            tgt.run("", "loading the changed rows")
        else:
            copy_targets = {src_tables[t].rel: work.stage(t) for t in job.tables}
            stats = src.stream(copy_targets, tgt)
            tgt.run("", "loading the staged rows")  # returns when psql has finished the COPY
        src.close()
        load_seconds = time.monotonic() - loaded_at
        path = "delta" if delta else "full"
        log.info(
            f"staged {stats.total_rows:,} rows ({log.human_bytes(stats.bytes)}) in "
            f"{load_seconds:.1f} s by {_path_name(path)}"
            + (f"; the row hash list was {log.human_bytes(list_bytes)}" if list_bytes else "")
        )
        output.put(
            "staged",
            {"rows": stats.total_rows, "bytes": stats.bytes, "seconds": round(load_seconds, 3)},
        )
        output.put(
            "transfer",
            {"path": path, "list_bytes": list_bytes, "bytes": stats.bytes + list_bytes},
        )

        if delta:
            promote.check_fetched(tgt, work, src.name)
            log.info("the changed rows match the source's list (row by row)")
        else:
            compared = promote.compare(tgt, work, listed=True)
            for table, found in compared.items():
                if found.staged != source_prints[table]:
                    raise Failed(
                        f"{table}: the staged rows ({found.staged}) do not match {src.name} "
                        f"({source_prints[table]}); nothing was applied"
                    )
            log.info("staged rows match the source (row count and checksum)")
        plan = {t: c.plan for t, c in compared.items()}
        output.put("plan", {str(t): c.as_dict() for t, c in plan.items()})

        if opts.dry_run or (opts.interactive and not opts.yes):
            stages = (
                promote.listing_views(tgt, work)
                if delta
                else {t: work.stage(t) for t in job.tables}
            )
            listing = diff.staged(tgt, tgt_tables, stages)
            if delta:
                promote.drop_views(tgt, work)
            if not opts.listing_only:
                _print_plan(plan, tgt_env.name)
            diff.report(listing, PLAN_ROWS)
        refusal = _guard(job, tgt, work, compared)
        if opts.dry_run:
            tgt.run("ROLLBACK;", "rolling back the dry run")
            if refusal:
                log.info(f"a real sync would refuse: {refusal}")
                output.put("would_refuse", str(refusal))
            output.put("result", "dry run")
            log.info("dry run: nothing was changed")
            return EXIT_DIFFERENCES if any(c.any for c in plan.values()) else EXIT_OK
        if refusal:
            raise refusal
        if confirming:
            promote.confirmed(tgt)
            # writers were free while the question was open: lock them out, compare again
            compared = _lock_and_replan(tgt, work, compared, delta)
            if delta:
                promote.check_fetched(tgt, work, src.name)
            else:
                compared = promote.compare(tgt, work, listed=True)
            refusal = _guard(job, tgt, work, compared)
            if refusal:
                raise refusal

        applied_at = time.monotonic()
        changes = promote.apply(
            tgt,
            work,
            history.Record("sync", src.name, tgt_env.name),
            before={t: c.live for t, c in compared.items()},
            expected=source_prints,
            keep=job.settings.int_setting("PROMPTSYNC_KEEP", 10, minimum=1),
            triggers=triggers,
        )
        tgt.commit()
        tgt.close()
        output.put("result", "synced")
        output.put("applied", {str(t): c.as_dict() for t, c in changes.items()})
        output.put("after", {str(t): _print_dict(p) for t, p in source_prints.items()})
        log.info(
            f"committed in {time.monotonic() - applied_at:.1f} s: {tgt_env.name} now matches "
            f"{src.name}"
        )
        promote.report(tgt_env.name, changes, source_prints)
        return EXIT_OK


def _lock_and_replan(
    tgt: Session, work: promote.Work, compared: dict, listed: bool
) -> dict[Table, promote.Comparison]:
    """Lock writers out, bring the live lists up to date (only rows written since they were
    made are read again) and plan again when any were."""
    promote.lock_tables(tgt, work)
    went, read = promote.refresh(tgt, work)
    if went or read:
        log.info(
            f"{tgt.label} was written while it was listed ({went:,} listed rows updated or "
            f"deleted, {read:,} rows new or updated): those were read again"
        )
        if listed:
            return promote.plan(tgt, work)
    return compared


def _delta_wanted(job: Job, compared: dict[Table, promote.Comparison]) -> bool:
    """Ship only the rows that differ, or the whole dump? PROMPTSYNC_TRANSFER=delta or full
    decides; by default (auto) the delta path runs while the rows to write are at most
    DELTA_SHARE of the source's, where it costs less than a full dump (docs/benchmarks.md)."""
    choice = (job.settings.get(TRANSFER_VARIABLE) or "auto").strip().lower()
    if choice not in ("auto", "delta", "full"):
        raise ConfigError(f"{TRANSFER_VARIABLE} must be auto, delta or full, not {choice!r}")
    wanted = sum(c.plan.inserted + c.plan.updated for c in compared.values())
    rows = sum(c.staged.rows for c in compared.values())
    share = wanted / rows if rows else 0.0
    delta = choice == "delta" or (choice == "auto" and share <= DELTA_SHARE)
    log.info(
        f"{wanted:,} of {rows:,} rows to write ({share:.1%}): "
        + ("only those travel" if delta else "the full dump travels")
        + ("" if choice == "auto" else f" ({TRANSFER_VARIABLE}={choice})")
    )
    return delta


def _path_name(path: str) -> str:
    return {"delta": "delta transfer (changed rows only)", "full": "full dump"}[path]


def _catch_up_sequences(tgt: Session, infos: dict[Table, preflight.TableInfo]) -> None:
    """Rows that match can still sit behind a lagging id sequence (rows loaded with explicit
    ids): move it past max(id) so the application's next INSERT works."""
    tgt.run("BEGIN;", "checking id sequences")
    for info in infos.values():
        tgt.run_file("sequences.sql", "checking id sequences", rel=info.rel)
    tgt.commit()


def _guard(job: Job, tgt: Session, work: promote.Work, compared: dict) -> Refused | None:
    """The guards that need the plan; returns the refusal instead of raising it (a dry run
    reports it)."""
    synced = [work.rel(t) for t in job.tables]
    allowed = job.options.allow_mass_delete or job.settings.get(MASS_DELETE_VARIABLE) == "1"
    try:
        for table, found in compared.items():
            guards.check_nulls(tgt, table, _source_name(job), work.rel(table), work.stage(table))
            emptying = job.options.allow_empty and found.staged.rows == 0
            guards.check_mass_delete(
                job.target.name,
                table,
                found.staged.rows,
                found.live_rows,
                allowed or emptying,
            )
            guards.check_references(
                tgt, table, work.rel(table), work.stage(table), work.cmp(table), synced
            )
    except Refused as refusal:
        return refusal
    return None


def _source_name(job: Job) -> str:
    return job.source if isinstance(job.source, str) else job.source.name


def _print_plan(plan: dict[Table, promote.Change], target: str) -> None:
    """The plan on stdout: `table<TAB>insert<TAB>update<TAB>delete` per table."""
    output.text([f"{t}\t{c.inserted}\t{c.updated}\t{c.deleted}" for t, c in plan.items()])
    for table, change in plan.items():
        log.info(f"plan for {target} {table}: {change.as_plan()}")


def _print_dict(print_: Fingerprint) -> dict:
    return {"rows": print_.rows, "checksum": print_.checksum}
