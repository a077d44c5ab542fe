"""`promptsync rollback TARGET --force`: restore the content TARGET had before its last
promotion, from the undo data that promotion stored. A rollback is a promotion too: recorded
in the history, with undo data of its own, so it can be rolled back in turn."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from promptsync import guards, history, log, preflight, promote, retry
from promptsync.config import Environment, Settings, Table, environment
from promptsync.errors import EXIT_OK, Failed, Refused
from promptsync.fingerprint import Fingerprint, fingerprint
from promptsync.preflight import TableInfo
from promptsync.session import Session, sql_text
from promptsync.tools import find_tools


@dataclass(frozen=True)
class LastPromotion:
    id: int
    kind: str
    source: str
    before: dict[str, Fingerprint]  # by quoted table name
    after: dict[str, Fingerprint]


def last_promotion(session: Session) -> LastPromotion | None:
    if session.value(sql_text("has_history.sql"), "reading the history") != "t":
        return None
    rows = session.run_file("last_promotion.sql", "reading the history")
    if not rows:
        return None
    before = {r[3]: Fingerprint(int(r[4]), r[5]) for r in rows}
    after = {r[3]: Fingerprint(int(r[6]), r[7]) for r in rows}
    return LastPromotion(int(rows[0][0]), rows[0][1], rows[0][2], before, after)


def run(settings: Settings, target_name: str, force: bool, yes: bool, interactive: bool) -> int:
    target = environment(settings, target_name)
    log.add_secrets(target.secrets)
    if not force:
        raise Refused(
            f"a rollback overwrites the prompts in {target.name}: add --force "
            f"(make rollback-{'prod' if target.name == 'production' else target.name} FORCE=1)"
        )
    tools = find_tools(settings.get("PROMPTSYNC_PG_BIN"))
    log.info(f"rollback {target.name} ({target.display})")
    return retry.call(settings, lambda: _attempt(settings, target, tools, yes, interactive))


def _attempt(settings: Settings, target: Environment, tools, yes: bool, interactive: bool) -> int:
    """The steps of a sync, where the source is the target's own undo data: preflight, plan
    (the promotion to undo, unchanged since), lock, stage, check, guard, apply, commit."""
    with ExitStack() as cleanup:
        opened = preflight.open_target(target, tools, cleanup)
        tgt = opened.session
        last = last_promotion(tgt)
        if last is None:
            raise Refused(f"no promotion is recorded on {target.name}: nothing to roll back")
        infos = opened.describe(settings.tables).infos
        preflight.check_privileges(tgt, infos)
        _check_unchanged(tgt, target.name, infos, last)
        expected = {t: last.before[infos[t].rel] for t in infos}
        log.info(
            f"rolling back promotion {last.id} ({last.kind} from {last.source}) to "
            + ", ".join(f"{t} {expected[t]}" for t in infos)
        )
        work = promote.Work(settings.tables, infos)
        promote.begin(tgt)
        promote.find_ledgers(tgt, work)
        promote.lock_tables(tgt, work)  # writers wait from here to COMMIT; readers never
        _stage(tgt, work, last.id)
        compared = _check(tgt, work, last.id, expected, target.name)
        if interactive and not yes:
            promote.confirmed(tgt)
        changes = promote.apply(
            tgt,
            work,
            history.Record("rollback", f"promotion {last.id}", target.name, undoes=last.id),
            before={t: c.live for t, c in compared.items()},
            expected=expected,
            keep=settings.int_setting("PROMPTSYNC_KEEP", 10, minimum=1),
            triggers=opened.triggers,
        )
        tgt.commit()
        tgt.close()
        log.info(f"committed: {target.name} is back to its content before promotion {last.id}")
        promote.report(target.name, changes, expected)
        return EXIT_OK


def _check_unchanged(
    tgt: Session, name: str, infos: dict[Table, TableInfo], last: LastPromotion
) -> None:
    """The last promotion covered exactly these tables, and left them as they are."""
    if {info.rel for info in infos.values()} != set(last.after):
        raise Refused(
            f"promotion {last.id} covered {', '.join(sorted(last.after))}; set "
            "PROMPTSYNC_TABLES (or --table) to exactly those tables to roll it back"
        )
    for table, info in infos.items():
        now = fingerprint(tgt, info.rel)
        if now != last.after[info.rel]:
            raise Refused(
                f"{table} in {name} changed since promotion {last.id} (now {now}, "
                f"then {last.after[info.rel]}): a rollback would lose that change"
            )


def _stage(tgt: Session, work: promote.Work, promotion: int) -> None:
    """The content before `promotion`, rebuilt from its undo data into the staging tables."""
    for table in work.tables:
        tgt.run_file(
            "rollback_stage.sql",
            "rebuilding the previous content",
            rel=work.rel(table),
            stage=work.stage(table),
            promotion=promotion,
        )


def _check(
    tgt: Session,
    work: promote.Work,
    promotion: int,
    expected: dict[Table, Fingerprint],
    name: str,
) -> dict[Table, promote.Comparison]:
    """What was rebuilt is what the promotion recorded it replaced; a rollback never deletes
    or changes rows in other tables either."""
    compared = promote.compare(tgt, work)
    for table, found in compared.items():
        if found.staged != expected[table]:
            raise Failed(
                f"{table}: the undo data of promotion {promotion} rebuilds {found.staged}, "
                f"not the recorded {expected[table]}; nothing was changed"
            )
        log.info(f"plan for {name} {table}: {found.plan.as_plan()}")
        guards.check_references(
            tgt,
            table,
            work.rel(table),
            work.stage(table),
            work.cmp(table),
            [work.rel(t) for t in work.tables],
            guards.References(),
        )
    return compared
