"""`promptsync sync SOURCE TARGET`: one verified, atomic promotion of the prompts tables.

  source: a read-only snapshot is exported; its checksum is taken inside it
  pg_dump --snapshot  ──(COPY data only)──▶  one psql session on the target:
      BEGIN; load temporary staging tables; check count + checksum against the source;
      apply only the differences to the live table; check the live checksum; move sequences;
      COMMIT
A failure anywhere before COMMIT ends the session, and the server rolls everything back.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from promptsync import argv, diff, guards, history, log, preflight, promote, retry
from promptsync.config import Environment, Settings, Table, environment
from promptsync.dumpstream import forward_copy_data
from promptsync.errors import EXIT_DIFFERENCES, EXIT_OK, CommitUnknown, Failed, Refused
from promptsync.fingerprint import Fingerprint, fingerprint
from promptsync.session import TRANSIENT, Session, child_environ, reason
from promptsync.tools import Tools, find_tools

PLAN_ROWS = 50  # rows listed per kind of change in a plan


@dataclass(frozen=True)
class Options:
    force: bool = False
    dry_run: bool = False
    yes: bool = False
    allow_empty: bool = False
    allow_mass_delete: bool = False
    interactive: bool = False  # a person is at a terminal to answer the confirmation


@dataclass
class Job:
    settings: Settings
    source: Environment
    target: Environment
    tables: tuple[Table, ...]
    tools: Tools
    options: Options
    source_prints: dict[Table, Fingerprint] | None = None


def run(settings: Settings, source_name: str, target_name: str, options: Options) -> int:
    source = environment(settings, source_name)
    target = environment(settings, target_name)
    if source.name == target.name:
        raise Refused(f"source and target are both {source.name}: nothing to sync")
    log.add_secrets([*source.secrets, *target.secrets])
    job = Job(
        settings=settings,
        source=source,
        target=target,
        tables=settings.tables,
        tools=find_tools(settings.get("PROMPTSYNC_PG_BIN")),
        options=options,
    )
    started = time.monotonic()
    log.info(f"sync {source.name} ({source.display}) -> {target.name} ({target.display})")
    code = retry.call(settings, lambda: _attempt_or_lookup(job))
    log.info(f"done in {time.monotonic() - started:.1f} s")
    return code


def _attempt_or_lookup(job: Job) -> int:
    try:
        return _attempt(job)
    except CommitUnknown as exc:
        # Never retry blindly after a COMMIT whose outcome is unknown: look at the target.
        log.info(f"the connection broke during COMMIT ({exc}); looking at {job.target.name}")
        if job.source_prints and _target_matches(job):
            log.info(f"{job.target.name} holds the new rows: the commit went through")
            return EXIT_OK
        raise Failed(f"{exc}; {job.target.name} still holds the old rows", transient=True) from None


def _target_matches(job: Job) -> bool:
    session, _ = preflight.connect(job.target, job.tools)
    with session:
        infos = preflight.describe_tables(session, job.tables)
        prints = {t: fingerprint(session, infos[t].rel) for t in job.tables}
    return prints == job.source_prints


def _attempt(job: Job) -> int:
    src_env, tgt_env, opts = job.source, job.target, job.options
    with ExitStack() as cleanup:
        src, src_server = preflight.connect(src_env, job.tools)
        cleanup.callback(src.abort)
        tgt, tgt_server = preflight.connect(tgt_env, job.tools)
        cleanup.callback(tgt.abort)
        if src_server.identity == tgt_server.identity:
            raise Refused(
                f"{src_env.name} and {tgt_env.name} are the same database "
                f"({src_env.display}): a sync would read and overwrite one table"
            )
        preflight.lock(tgt)
        dump_client = preflight.check_dump_client(src_env, job.tools, src_server)
        src_tables = preflight.describe_tables(src, job.tables)
        tgt_tables = preflight.describe_tables(tgt, job.tables)
        guards.check_drift(src, tgt, src_tables, tgt_tables)
        log.info(
            f"preflight ok: {src_env.name} PostgreSQL {src_server.version} (dump with "
            f"{dump_client}), {tgt_env.name} PostgreSQL {tgt_server.version}"
        )

        snapshot = src.run_file("snapshot.sql", "exporting a snapshot")[0][0]
        with ThreadPoolExecutor(max_workers=2) as pool:
            src_future = pool.submit(_prints, src, src_tables)
            tgt_future = pool.submit(_prints, tgt, tgt_tables)
            source_prints, target_prints = src_future.result(), tgt_future.result()
        job.source_prints = source_prints
        for table in job.tables:
            log.info(
                f"{table}: {src_env.name} {source_prints[table]}; "
                f"{tgt_env.name} {target_prints[table]}"
            )
        if source_prints == target_prints:
            log.info(f"{tgt_env.name} already matches {src_env.name}: nothing to do")
            return EXIT_OK
        if not (opts.force or opts.dry_run):
            raise Refused(
                f"{tgt_env.name} differs from {src_env.name}; refusing to overwrite it without "
                "--force (make: FORCE=1); --dry-run shows what would change"
            )
        for table in job.tables:
            guards.check_empty(src_env.name, table, source_prints[table].rows, opts.allow_empty)

        work = promote.Work(job.tables, tgt_tables)
        promote.begin(tgt)
        for table in job.tables:
            tgt.run_file(
                "stage.sql",
                "creating the staging table",
                rel=work.rel(table),
                stage=work.stage(table),
            )
        # The dump reads the snapshot the source checksum was taken in.
        loaded_at = time.monotonic()
        copy_targets = {src_tables[t].rel: work.stage(t) for t in job.tables}
        stats = _stream_dump(job, snapshot, copy_targets, tgt, cleanup)
        log.info(
            f"staged {stats.total_rows:,} rows ({log.human_bytes(stats.bytes)}) in "
            f"{time.monotonic() - loaded_at:.1f} s"
        )

        compared = promote.compare(tgt, work)
        for table, found in compared.items():
            if found.staged != source_prints[table]:
                raise Failed(
                    f"{table}: the staged rows ({found.staged}) do not match {src_env.name} "
                    f"({source_prints[table]}); nothing was applied"
                )
        log.info("staged rows match the source (row count and checksum)")
        plan = {t: c.plan for t, c in compared.items()}

        if opts.dry_run or (opts.interactive and not opts.yes):
            # the rows behind the plan, read in the dump's snapshot on the source
            _print_plan(plan, diff.run_sessions(src, tgt, src_tables, tgt_tables), tgt_env.name)
        src.close()
        refusal = _guard(job, tgt, work, compared)
        if opts.dry_run:
            tgt.run("ROLLBACK;", "rolling back the dry run")
            if refusal:
                log.info(f"a real sync would refuse: {refusal}")
            log.info("dry run: nothing was changed")
            return EXIT_DIFFERENCES if any(c.any for c in plan.values()) else EXIT_OK
        if refusal:
            raise refusal
        if opts.interactive and not opts.yes and not _confirm(tgt_env.name):
            tgt.run("ROLLBACK;", "rolling back")
            raise Refused("not confirmed: nothing was changed")

        applied_at = time.monotonic()
        promote.apply(
            tgt,
            work,
            history.Record("sync", src_env.name, tgt_env.name),
            before=target_prints,
            expected=source_prints,
            keep=job.settings.int_setting("PROMPTSYNC_KEEP", 10, minimum=1),
        )
        tgt.commit()
        tgt.close()
        log.info(
            f"committed in {time.monotonic() - applied_at:.1f} s: {tgt_env.name} now matches "
            f"{src_env.name}"
        )
        return EXIT_OK


def _guard(job: Job, tgt: Session, work: promote.Work, compared: dict) -> Refused | None:
    """The guards that need the plan; returns the refusal instead of raising it (a dry run
    reports it)."""
    synced = [work.rel(t) for t in job.tables]
    try:
        for table, found in compared.items():
            guards.check_mass_delete(
                job.target.name,
                table,
                found.plan.deleted,
                found.live_rows,
                job.options.allow_mass_delete,
            )
            guards.check_references(
                tgt, table, work.rel(table), work.stage(table), work.cmp(table), synced
            )
    except Refused as refusal:
        return refusal
    return None


def _prints(session: Session, tables: dict[Table, preflight.TableInfo]) -> dict[Table, Fingerprint]:
    return {t: fingerprint(session, info.rel) for t, info in tables.items()}


def _stream_dump(
    job: Job, snapshot: str, copy_targets: dict[str, str], tgt: Session, cleanup: ExitStack
):
    dump_argv = argv.pg_dump(job.source, job.tables, snapshot, job.tools.pg_dump)
    proc = subprocess.Popen(
        dump_argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environ(job.source),
        start_new_session=True,
        bufsize=1 << 20,
    )
    cleanup.callback(_reap, proc)
    errors: deque[str] = deque(maxlen=50)
    drain = threading.Thread(
        target=lambda: errors.extend(
            line.decode("utf-8", "replace").rstrip() for line in proc.stderr or ()
        ),
        daemon=True,
    )
    drain.start()
    progress = log.Progress(f"{job.source.name} -> {job.target.name}")
    try:
        assert proc.stdout is not None
        stats = forward_copy_data(proc.stdout, copy_targets, tgt.send, progress.update)
    except Failed as exc:
        try:
            code = proc.wait(timeout=1)
        except subprocess.TimeoutExpired:  # pg_dump is still running: the target side failed
            raise exc from None
        if code != 0:
            drain.join(timeout=5)
            raise _dump_failure(job, code, errors) from None
        raise
    finally:
        progress.done()
    code = proc.wait()
    drain.join(timeout=5)
    if code != 0:
        raise _dump_failure(job, code, errors)
    tgt.run("", "loading the staged rows")  # waits until psql has finished the COPY
    return stats


def _dump_failure(job: Job, code: int, errors: deque[str]) -> Failed:
    why = reason(list(errors)) if errors else f"exit status {code}"
    if code < 0:
        why = f"killed by signal {-code}" + (f" ({why})" if errors else "")
    return Failed(
        f"pg_dump of {job.source.name} failed: {why}; nothing was applied",
        transient=bool(errors) and bool(TRANSIENT.search(why)),
    )


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def _print_plan(
    plan: dict[Table, promote.Change], diffs: list[diff.TableDiff], target: str
) -> None:
    """The plan on stdout: `table<TAB>insert<TAB>update<TAB>delete`, then the rows."""
    for table, change in plan.items():
        sys.stdout.write(f"{table}\t{change.inserted}\t{change.updated}\t{change.deleted}\n")
        log.info(f"plan for {target} {table}: {change.as_plan()}")
    for found in diffs:
        sys.stdout.write("".join(f"{line}\n" for line in found.lines(PLAN_ROWS)))
    sys.stdout.flush()


def _confirm(target: str) -> bool:
    sys.stderr.write(f"This will OVERWRITE all prompts in {target}. Continue? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
