"""`promptsync sync SOURCE TARGET`: one verified, atomic promotion of the prompts tables.

A sync is a sequence of named steps over one `Run` (what the steps so far found), in one psql
session on the target whose transaction holds everything until COMMIT:

  preflight  connect both sides at once, lock the target's promotions, compare the schemas
  plan       each side's row count and checksum, where its ledger vouches for the rows it
             recorded (equal: nothing to do, no row listed); otherwise the source lists (key,
             row hash) in its exported snapshot while the target lists its live rows, and the
             plan joins the two lists and the target's ledger
  lock       writers of the target wait from here to COMMIT (readers never); rows written
             since the listing are read again
  transfer   the rows to write travel into staging tables: only those (delta: COPY (SELECT ...
             WHERE key ...) in the snapshot), or the whole table (pg_dump --snapshot)
  check      every staged row is the one the source listed
  guard      the guards that need the plan (NULLs, mass delete, references, edits made on the
             target outside promptsync), the confirmation on a terminal
  apply      only the differences, checked, with undo data, the ledger and the history
  commit     COMMIT, then say what the target now holds

A failure anywhere before COMMIT ends the session, and the server rolls everything back.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field

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
    UsageError,
)
from promptsync.fingerprint import Fingerprint, of_environment
from promptsync.session import Session
from promptsync.tools import Tools, find_tools

PLAN_ROWS = 50  # rows listed per kind of change in a plan
LOOKUP_SECONDS = 20  # how long to try reaching a target whose COMMIT outcome is unknown
MASS_DELETE_VARIABLE = "PROMPTSYNC_ALLOW_MASS_DELETE"  # =1: as --allow-mass-delete
TRANSFER_VARIABLE = "PROMPTSYNC_TRANSFER"  # auto (default), delta or full
EXPECT_PLAN_VARIABLE = "PROMPTSYNC_EXPECT_PLAN"  # as --expect-plan
DELTA_SHARE = 0.5  # auto: the delta path while at most this share of the rows is written

Source = sources.DatabaseSource | sources.FileSource


@dataclass(frozen=True)
class Options:
    force: bool = False
    dry_run: bool = False
    yes: bool = False
    allow_empty: bool = False
    allow_mass_delete: bool = False
    interactive: bool = False  # a person is at a terminal to answer the confirmation
    listing_only: bool = False  # `diff file:...`: print the rows that differ, nothing else
    discard_target_edits: bool = False  # overwrite what was changed outside promptsync
    only: tuple[str, ...] = ()  # sync just these keys (of a one-column primary key)
    references: guards.References = field(default_factory=guards.References)
    expect_plan: str = ""  # apply only this reviewed plan (its id; PROMPTSYNC_EXPECT_PLAN)
    stat: bool = False  # list rows without what changed inside their columns
    context: int = 3  # lines of context around a change in a text column


@dataclass
class Job:
    settings: Settings
    source: Environment | str  # an environment, or "file:PATH"
    target: Environment
    tables: tuple[Table, ...]
    tools: Tools
    options: Options
    expected: dict[Table, Fingerprint] | None = None  # what the target holds once committed


@dataclass
class Run:
    """What the steps of one attempt found so far."""

    src: Source
    tgt: Session
    server: preflight.Server
    src_tables: dict[Table, preflight.TableInfo] = field(default_factory=dict)
    triggers: dict[Table, list[preflight.Trigger]] = field(default_factory=dict)
    work: promote.Work | None = None
    listed: bool = False  # the source gave (key, row hash) lists
    list_bytes: int = 0
    compared: dict[Table, promote.Comparison] = field(default_factory=dict)
    source_prints: dict[Table, Fingerprint] = field(default_factory=dict)
    target_prints: dict[Table, Fingerprint] = field(default_factory=dict)
    delta: bool = False
    detach: list[guards.Reference] = field(default_factory=list)
    edits: dict[Table, dict] = field(default_factory=dict)  # promote.target_edits per table
    discard: bool = False  # the edits made outside promptsync may be overwritten


def run(settings: Settings, source_name: str, target_name: str, options: Options) -> int:
    target = environment(settings, target_name)
    source: Environment | str = source_name
    if not sources.is_file(source_name):
        source = environment(settings, source_name)
        if source.name == target.name:
            raise Refused(f"source and target are both {source.name}: nothing to sync")
        log.add_secrets(source.secrets)
    log.add_secrets(target.secrets)
    if options.only and len(settings.tables) != 1:
        raise UsageError("--only names keys of one table: set --table (or PROMPTSYNC_TABLES)")
    if options.only and isinstance(source, str):
        raise UsageError("--only copies rows between databases; a snapshot file syncs whole")
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
            matches = job.expected is not None and _look_up(job)
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
    return of_environment(job.target, job.tools, job.tables) == job.expected


def _attempt(job: Job) -> int:
    opts = job.options
    with ExitStack() as cleanup:
        run = _preflight(job, cleanup)
        _plan(job, run)
        if run.source_prints == run.target_prints:
            return _nothing_to_do(job, run)
        _require_force(job, run)
        confirming = opts.interactive and not opts.yes and not opts.dry_run
        if not (opts.dry_run or confirming):
            _lock(run)
        _transfer(job, run, cleanup)
        _check(job, run)
        refusal, edits = _guard(job, run)
        if opts.dry_run or confirming:
            _list_rows(job, run)
        if opts.dry_run:
            _say_plan_id(run)
            return _end_dry_run(run, refusal or edits)
        if refusal:
            raise refusal
        if edits and not run.discard and not confirming:
            raise edits
        if confirming:
            _confirm(job, run, edits)
        _check_expected_plan(job, run)
        return _apply_and_commit(job, run)


# -- preflight -------------------------------------------------------------------------------


def _open_source(job: Job, cleanup: ExitStack) -> Source:
    """The source, its tables looked up (a table it lacks is said before the target's)."""
    if isinstance(job.source, str):
        src: Source = sources.FileSource(job.source, job.tables)
    else:
        src = sources.DatabaseSource(job.source, job.tools, cleanup)
    src.describe(job.tables)
    return src


def _open_both(job: Job, cleanup: ExitStack) -> tuple[Source, preflight.Target]:
    """The source and the target, connected at once (each connection is a good part of a
    small table's sync); the source's failure is the one said when both fail. A Docker
    source's checks (is the engine up, the container running?) come before anything else."""

    def open_target() -> preflight.Target:
        return preflight.open_target(job.target, job.tools, cleanup).describe(job.tables)

    if not isinstance(job.source, Environment) or job.source.via_docker:
        src = _open_source(job, cleanup)
        return src, open_target()
    with ThreadPoolExecutor(max_workers=1) as pool:
        opening = pool.submit(open_target)
        try:
            src = _open_source(job, cleanup)
        except BaseException:
            with suppress(Exception):
                opening.result()  # registered for cleanup, or failed too: either way, done
            raise
        return src, opening.result()


def _preflight(job: Job, cleanup: ExitStack) -> Run:
    """Both sides connected, the target writable and locked for this promotion, the tables
    found on both with compatible columns, the target's triggers and pooler noted."""
    tgt_env = job.target
    src, target = _open_both(job, cleanup)
    tgt, server, infos = target.session, target.server, target.infos
    if src.identity == server.identity:
        raise Refused(
            f"{src.name} and {tgt_env.name} are the same database "
            f"({tgt_env.display}): a sync would read and overwrite one table"
        )
    run = Run(src, tgt, server, src_tables=src.infos, triggers=target.triggers)
    for table in job.tables:
        guards.check_drift(
            table,
            src.name,
            tgt_env.name,
            src.columns(table),
            guards.columns(tgt, infos[table].rel),
        )
    preflight.note_pooling(tgt_env, server)
    log.info(
        f"preflight ok: {src.name} {src.how()}; {tgt_env.name} PostgreSQL "
        f"{server.version}, {server.connection}" + (f" (load: {tgt.choice})" if tgt.choice else "")
    )
    run.work = promote.Work(job.tables, infos, only=_only(job, infos))
    return run


def _only(job: Job, infos: dict[Table, preflight.TableInfo]) -> str:
    """--only's keys as promptsync_compare takes them: a JSON array of key objects."""
    keys = job.options.only
    if not keys:
        return ""
    (info,) = infos.values()
    if "," in info.pk:
        raise UsageError(
            f"--only takes keys of a one-column primary key; {info.table}'s is ({info.pk})"
        )
    column = info.pk.strip('"').replace('""', '"')
    return json.dumps([{column: key} for key in keys])


# -- plan ----------------------------------------------------------------------------------


def _plan(job: Job, run: Run) -> None:
    """First each side's fingerprint, at once (where a ledger may stand in for hashing
    unchanged rows): when they match, nothing differs and no row is listed. Otherwise one hash
    per row per side: the source lists (key, hash) inside its snapshot while the target lists
    its live rows, in parallel; the plan joins the two lists and the ledger."""
    tgt, work = run.tgt, _work(run)
    run.src.open_snapshot()
    quick = run.src.fingerprints()
    run.target_prints = promote.quick_prints(tgt, work, job.target.name)
    run.source_prints = quick.result()
    if run.source_prints == run.target_prints:
        job.expected = run.source_prints
        _say_plan(job, run)
        return
    promote.begin(tgt)
    lists = run.src.hash_lists()
    promote.list_live(tgt, work)
    if lists is not None:
        run.listed = True
        for table, spool in lists.result().items():
            run.list_bytes += promote.load_list(tgt, work, table, spool)
    run.compared = promote.plan(tgt, work, run.source_prints)
    run.target_prints = {t: c.live for t, c in run.compared.items()}
    run.source_prints = (
        {t: c.staged for t, c in run.compared.items()}
        if run.listed
        else run.src.fingerprints().result()
    )
    job.expected = run.source_prints
    _say_plan(job, run)


def _say_plan(job: Job, run: Run) -> None:
    work, tgt_env = _work(run), job.target
    for table in job.tables:
        log.info(
            f"{table}: {run.src.name} {run.source_prints[table]}; "
            f"{tgt_env.name} {run.target_prints[table]}"
            + (f" (only {', '.join(job.options.only)})" if work.only else "")
        )
        ledger = work.ledger(table)
        if ledger:
            log.info(
                f"{table}: {tgt_env.name}'s ledger is from promotion {ledger.promotion}: rows "
                "changed there outside promptsync since are told apart"
            )
        else:
            log.info(
                f"{table}: {tgt_env.name} has no ledger ({ledger.why}): rows changed there "
                "outside promptsync cannot be told apart until its next promotion records one"
            )
    output.put("source", run.src.name)
    output.put("target", tgt_env.name)
    output.put("before", {str(t): _print_dict(p) for t, p in run.target_prints.items()})
    output.put("source_fingerprint", {str(t): _print_dict(p) for t, p in run.source_prints.items()})
    output.put(
        "ledger",
        {
            str(t): {"promotion": work.ledger(t).promotion} if work.ledger(t) else None
            for t in job.tables
        },
    )


def _nothing_to_do(job: Job, run: Run) -> int:
    opts, tgt_env = job.options, job.target
    run.tgt.rollback("ending the comparison")
    if opts.listing_only:
        diff.report([diff.TableDiff(t, _work(run).infos[t].pk) for t in job.tables], PLAN_ROWS)
    output.put("result", "in sync")
    output.put("transfer", {"path": "none", "list_bytes": run.list_bytes, "bytes": 0})
    log.info(f"{tgt_env.name} already matches {run.src.name}: nothing to do")
    if opts.force and not opts.dry_run:
        _catch_up_sequences(run.tgt, _work(run).infos)
    return EXIT_OK


def _require_force(job: Job, run: Run) -> None:
    opts = job.options
    if opts.force and not opts.dry_run:
        preflight.check_privileges(run.tgt, _work(run).infos)
    if not (opts.force or opts.dry_run):
        raise Refused(
            f"{job.target.name} differs from {run.src.name}; refusing to overwrite it without "
            "--force (make: FORCE=1); --dry-run shows what would change"
        )
    if not _work(run).only:
        for table in job.tables:
            guards.check_empty(run.src.name, table, run.source_prints[table].rows, opts.allow_empty)


# -- lock ----------------------------------------------------------------------------------


def _lock(run: Run) -> None:
    """Lock writers out, bring the live lists up to date (only rows written since they were
    made are read again) and plan again when any were."""
    tgt, work = run.tgt, _work(run)
    promote.lock_tables(tgt, work)
    went, read = promote.refresh(tgt, work)
    if went or read:
        log.info(
            f"{tgt.label} was written while it was listed ({went:,} listed rows updated or "
            f"deleted, {read:,} rows new or updated): those were read again"
        )
        if run.listed:
            run.compared = promote.plan(tgt, work, run.source_prints)


# -- transfer ------------------------------------------------------------------------------


def _transfer(job: Job, run: Run, cleanup: ExitStack) -> None:
    tgt, work = run.tgt, _work(run)
    run.delta = run.listed and _delta_wanted(job, run.compared)
    for table in job.tables:
        tgt.run_file(
            "stage.sql", "creating the staging table", rel=work.rel(table), stage=work.stage(table)
        )
    loaded_at = time.monotonic()
    try:
        stats = _load(job, run, cleanup)
    except Failed as exc:
        raise _unconvertible(exc, run.src, job.target, run.server) from None
    run.src.close()
    seconds = time.monotonic() - loaded_at
    path = "delta" if run.delta else "full"
    log.info(
        f"staged {stats.total_rows:,} rows ({log.human_bytes(stats.bytes)}) in "
        f"{seconds:.1f} s by {_path_name(path)}"
        + (f"; the row hash list was {log.human_bytes(run.list_bytes)}" if run.list_bytes else "")
    )
    output.put(
        "staged", {"rows": stats.total_rows, "bytes": stats.bytes, "seconds": round(seconds, 3)}
    )
    output.put(
        "transfer",
        {"path": path, "list_bytes": run.list_bytes, "bytes": stats.bytes + run.list_bytes},
    )


def _load(job: Job, run: Run, cleanup: ExitStack) -> StreamStats:
    """The rows travel into the staging tables: only those to write (delta), or the dump."""
    src, tgt, work = run.src, run.tgt, _work(run)
    if not run.delta:
        copy_targets = {run.src_tables[t].rel: work.stage(t) for t in job.tables}
        stats = src.stream(copy_targets, tgt)
        tgt.run("", "loading the staged rows")  # returns when psql has finished the COPY
        return stats
    assert isinstance(src, sources.DatabaseSource)
    stats = StreamStats()
    for table in job.tables:
        keys = cleanup.enter_context(tempfile.TemporaryFile(prefix="promptsync-"))
        columns = promote.fetch_keys(tgt, work, table, keys)
        got = src.fetch(table, keys, columns, work.stage(table), tgt)
        stats.rows.update(got.rows)
        stats.bytes += got.bytes
    tgt.run("", "loading the changed rows")
    return stats


def _unconvertible(
    exc: Failed, src: Source, target: Environment, server: preflight.Server
) -> Failed:
    """A load the target refused because its encoding cannot hold a character: the server's
    message, with the rows' keys (looked up on the source, in the snapshot that was read)."""
    if "has no equivalent in encoding" not in str(exc):
        return exc
    try:
        found = src.unconvertible(server.encoding)
    except Failed:
        found = {}
    rows = "; ".join(f"{table} {keys}" for table, keys in found.items())
    return Failed(
        f"{exc}; {target.name}'s encoding {server.encoding} cannot hold "
        + (f"what {src.name} has in {rows}" if rows else "a character of the source's rows")
        + ": nothing was applied"
    )


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


# -- check ---------------------------------------------------------------------------------


def _check(job: Job, run: Run) -> None:
    """Every staged row is the source's: by its listed hash (delta), or by the whole stage's
    row count and checksum (full dump)."""
    tgt, work = run.tgt, _work(run)
    if run.delta:
        promote.check_fetched(tgt, work, run.src.name)
        log.info("the changed rows match the source's list (row by row)")
    else:
        run.compared = promote.compare(tgt, work, listed=True)
        for table, found in run.compared.items():
            if found.staged != run.source_prints[table]:
                raise Failed(
                    f"{table}: the staged rows ({found.staged}) do not match {run.src.name} "
                    f"({run.source_prints[table]}); nothing was applied"
                )
        log.info("staged rows match the source (row count and checksum)")
    output.put("plan", {str(t): c.plan.as_dict() for t, c in run.compared.items()})


def _list_rows(job: Job, run: Run) -> None:
    """The rows that would change, for a dry run or the confirmation (stdout)."""
    tgt, work = run.tgt, _work(run)
    stages, lives = promote.listing_views(tgt, work, run.delta)
    listing = diff.staged(tgt, work.infos, stages, lives, PLAN_ROWS)
    promote.drop_views(tgt, work)
    since = {t: work.ledger(t).promotion for t in job.tables}
    diff.note_edits(listing, run.edits, job.target.name, since)
    if not job.options.listing_only:
        _print_plan({t: c.plan for t, c in run.compared.items()}, job.target.name)
    diff.report(listing, PLAN_ROWS, job.options.stat, job.options.context)


def _say_plan_id(run: Run) -> str:
    """The plan's id, which a reviewer approves and --expect-plan requires at apply time."""
    found, _ = promote.plan_id(run.tgt, _work(run))
    log.info(f"plan id {found}: deploy exactly this plan with --expect-plan {found}")
    output.put("plan_id", found)
    return found


def _check_expected_plan(job: Job, run: Run) -> None:
    """With --expect-plan (or PROMPTSYNC_EXPECT_PLAN), refuse any other plan than the one
    reviewed, naming what it does now."""
    expected = job.options.expect_plan or job.settings.get(EXPECT_PLAN_VARIABLE) or ""
    if not expected:
        return
    found, first = promote.plan_id(run.tgt, _work(run))
    output.put("plan_id", found)
    if found == expected.strip().lower():
        log.info(f"plan id {found}: the plan reviewed")
        return
    counts = sum((c.plan for c in run.compared.values()), promote.Change())
    rows = ", ".join(f"{mark} {key}" for mark, key in first)
    if counts.inserted + counts.updated + counts.deleted > len(first):
        rows += ", ..."
    raise Refused(
        f"{job.target.name}: this is not the plan that was reviewed (expected {expected}, now "
        f"{found}): {run.src.name} or {job.target.name} changed since. The plan now: {counts} "
        f"({rows}); review it (promptsync diff {run.src.name} {job.target.name}) and deploy "
        "with its id"
    )


# -- guard ---------------------------------------------------------------------------------


def _guard(job: Job, run: Run) -> tuple[Refused | None, Refused | None]:
    """The guards that need the plan, returned rather than raised (a dry run reports them):
    the first refusal of the guards that have no override here, and the refusal for rows
    changed on the target outside promptsync (a confirmation may take "y" for it)."""
    tgt, work, opts = run.tgt, _work(run), job.options
    synced = [work.rel(t) for t in job.tables]
    allowed = opts.allow_mass_delete or job.settings.get(MASS_DELETE_VARIABLE) == "1"
    refusal = None
    try:
        for table, found in run.compared.items():
            guards.check_nulls(tgt, table, _source_name(job), work.rel(table), work.stage(table))
            if not work.only:
                emptying = opts.allow_empty and found.staged.rows == 0
                guards.check_mass_delete(
                    job.target.name, table, found.staged.rows, found.live_rows, allowed or emptying
                )
            run.detach += guards.check_references(
                tgt,
                table,
                work.rel(table),
                work.stage(table),
                work.cmp(table),
                synced,
                opts.references,
            )
    except Refused as found_refusal:
        refusal = found_refusal
    return refusal, _edits(job, run)


def _edits(job: Job, run: Run) -> Refused | None:
    """Rows edited, created or deleted on the target outside promptsync since its last
    promotion that this sync would overwrite, delete or re-create."""
    work = _work(run)
    found = {t: promote.target_edits(run.tgt, work, t, guards.EDITS_LISTED) for t in job.tables}
    run.edits = found
    output.put("target_edits", {str(t): f for t, f in found.items() if f["count"]})
    run.discard = job.options.discard_target_edits or (
        job.settings.get(guards.DISCARD_VARIABLE) == "1"
    )
    since = {t: work.ledger(t).promotion for t in job.tables}
    refusal = guards.target_edits(job.target.name, since, found, _keep_hint(job, found))
    if refusal and run.discard:
        log.info(f"discarding what was changed outside promptsync, as told: {refusal}")
    return refusal


def _keep_hint(job: Job, found: dict[Table, dict]) -> str:
    """How to keep the target's edits: copy them back into the source first."""
    keys = [
        v
        for edits in found.values()
        for row in edits["rows"]
        if len(row["key"]) == 1
        for v in row["key"].values()
    ]
    total = sum(f["count"] for f in found.values())
    if isinstance(job.source, str) or not keys or len(keys) < total or total > 20:
        return f"copy those rows into {_source_name(job)} first, then sync again"
    created = any(r["kind"] == "created" for f in found.values() for r in f["rows"])
    hint = (
        f"copy them back first (promptsync sync {job.target.name} {_source_name(job)} "
        f"--only {','.join(keys)}), then sync again"
    )
    if created:
        hint += (
            f"; a row created in {job.target.name} whose key {_source_name(job)} uses for "
            f"another row needs a new key in {_source_name(job)}"
        )
    return hint


def _end_dry_run(run: Run, refusal: Refused | None) -> int:
    run.tgt.rollback("rolling back the dry run")
    if refusal:
        log.info(f"a real sync would refuse: {refusal}")
        output.put("would_refuse", str(refusal))
    output.put("result", "dry run")
    log.info("dry run: nothing was changed")
    return EXIT_DIFFERENCES if any(c.plan.any for c in run.compared.values()) else EXIT_OK


def _confirm(job: Job, run: Run, edits: Refused | None) -> None:
    """Ask the person at the terminal. Writers were free while the question was open: lock
    them out, check and guard again."""
    if edits and not run.discard:
        sys.stderr.write(f"{edits}\n")
    promote.confirmed(run.tgt, discarding=bool(edits and not run.discard))
    if edits:
        run.discard = True  # "y" was the instruction to discard them
    _lock(run)
    if run.delta:
        promote.check_fetched(run.tgt, _work(run), run.src.name)
    else:
        run.compared = promote.compare(run.tgt, _work(run), listed=True)
    run.detach = []
    refusal, edits_now = _guard(job, run)
    if refusal:
        raise refusal
    if edits_now and str(edits_now) != str(edits):
        raise Refused(f"{job.target.name} changed while the question was open: {edits_now}")


# -- apply and commit ----------------------------------------------------------------------


def _apply_and_commit(job: Job, run: Run) -> int:
    tgt, work, tgt_env = run.tgt, _work(run), job.target
    applied_at = time.monotonic()
    before = {t: c.live for t, c in run.compared.items()}
    expected = run.source_prints
    if work.only:  # the rest of the table stays: its whole fingerprint before and after
        before, expected = promote.whole_prints(tgt, work)
    job.expected = expected
    source = run.src.name + (f" (only {', '.join(job.options.only)})" if work.only else "")
    changes = promote.apply(
        tgt,
        work,
        history.Record("sync", source, tgt_env.name),
        before=before,
        expected=expected,
        keep=job.settings.int_setting("PROMPTSYNC_KEEP", 10, minimum=1),
        triggers=run.triggers,
        detach=run.detach,
    )
    tgt.commit()
    tgt.close()
    output.put("result", "synced")
    output.put("applied", {str(t): c.as_dict() for t, c in changes.items()})
    output.put("after", {str(t): _print_dict(p) for t, p in expected.items()})
    log.info(
        f"committed in {time.monotonic() - applied_at:.1f} s: {tgt_env.name} now matches "
        f"{run.src.name}" + (f" for {', '.join(job.options.only)}" if work.only else "")
    )
    promote.report(tgt_env.name, changes, expected)
    return EXIT_OK


def _catch_up_sequences(tgt: Session, infos: dict[Table, preflight.TableInfo]) -> None:
    """Rows that match can still sit behind a lagging id sequence (rows loaded with explicit
    ids): move it past max(id) so the application's next INSERT works."""
    preflight.lock(tgt)
    for info in infos.values():
        tgt.run_file("sequences.sql", "checking id sequences", rel=info.rel)
    tgt.commit()


# -- small things ----------------------------------------------------------------------------


def _work(run: Run) -> promote.Work:
    assert run.work is not None
    return run.work


def _source_name(job: Job) -> str:
    return job.source if isinstance(job.source, str) else job.source.name


def _print_plan(plan: dict[Table, promote.Change], target: str) -> None:
    """The plan on stdout: `table<TAB>insert<TAB>update<TAB>delete` per table."""
    output.text([f"{t}\t{c.inserted}\t{c.updated}\t{c.deleted}" for t, c in plan.items()])
    for table, change in plan.items():
        log.info(f"plan for {target} {table}: {change.as_plan()}")


def _print_dict(print_: Fingerprint) -> dict:
    return {"rows": print_.rows, "checksum": print_.checksum}
