"""The command line: parse, load configuration once, run, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promptsync import (
    __version__,
    api,
    clientcheck,
    diff,
    export,
    guards,
    history,
    log,
    output,
    preflight,
    promote,
    rollback,
    sources,
    sync,
    verify,
)
from promptsync.config import environment
from promptsync.errors import EXIT_DIFFERENCES, EXIT_FAILED, EXIT_OK, Refused
from promptsync.tools import find_tools

EPILOG = """exit codes: 0 done (verify: all match), 1 differences found (verify, dry run),
2 usage or configuration error, 3 refused for safety, 4 failed (target unchanged)"""
FORMAT_HELP = "stdout as text (default), json (= --json) or markdown (the run summary)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptsync",
        description="Move the prompts table between PostgreSQL environments, verified and atomic.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"promptsync {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument(
        "--table",
        action="append",
        metavar="TABLE",
        help="table to sync (repeatable; default PROMPTSYNC_TABLES or prompts)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tables = argparse.ArgumentParser(add_help=False)
    tables.add_argument(
        "--table",
        action="append",
        dest="sub_table",
        metavar="TABLE",
        help="table to sync (repeatable; default PROMPTSYNC_TABLES or prompts)",
    )

    p = commands.add_parser(
        "sync", parents=[tables], help="copy SOURCE's tables over TARGET's, verified, atomic"
    )
    p.add_argument("source", help="local, staging, production (prod), ...")
    p.add_argument("target")
    p.add_argument("--force", action="store_true", help="allow overwriting TARGET")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    p.add_argument("--format", choices=api.FORMATS, help=FORMAT_HELP)
    p.add_argument("--allow-empty", action="store_true", help="allow an empty source")
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow leaving the target with fewer than half of its rows",
    )
    p.add_argument(
        "--only",
        type=_keys,
        metavar="KEY[,KEY...]",
        help="copy just the rows with these primary keys (insert, update or delete them)",
    )
    p.add_argument(
        "--discard-target-edits",
        action="store_true",
        help="overwrite rows changed on TARGET outside promptsync since its last promotion",
    )
    p.add_argument(
        "--detach-references",
        action="store_true",
        help="set nullable columns of other tables that point at deleted prompts to NULL",
    )
    p.add_argument(
        "--expect-plan",
        metavar="ID",
        default="",
        help="refuse any plan but this one (the id a dry run or diff prints; "
        "PROMPTSYNC_EXPECT_PLAN)",
    )
    _listing_arguments(p)
    p.set_defaults(run=_sync)

    p = commands.add_parser(
        "diff", parents=[tables], help="the rows that differ between SOURCE and TARGET"
    )
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--limit", type=_positive, default=50, help="rows listed per kind (default 50)")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    p.add_argument("--format", choices=api.FORMATS, help=FORMAT_HELP)
    _listing_arguments(p)
    p.set_defaults(run=lambda s, a: _diff(s, a))

    p = commands.add_parser(
        "export", parents=[tables], help="write ENV's tables to a deterministic snapshot FILE"
    )
    p.add_argument("env")
    p.add_argument("file", type=Path)
    p.set_defaults(run=lambda s, a: export.run(s, a.env, a.file))

    p = commands.add_parser(
        "rollback", parents=[tables], help="restore TARGET's content before its last promotion"
    )
    p.add_argument("target")
    p.add_argument("--force", action="store_true", help="allow overwriting TARGET")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(run=lambda s, a: rollback.run(s, a.target, a.force, a.yes, _interactive()))

    p = commands.add_parser(
        "history", parents=[tables], help="promotions and rollbacks recorded on TARGET"
    )
    p.add_argument("target")
    p.add_argument("--limit", type=_positive, default=20, help="newest N lines (default 20)")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    p.set_defaults(run=lambda s, a: _history(s, a.target, a.limit))

    p = commands.add_parser(
        "verify", parents=[tables], help="row counts and checksums side by side"
    )
    p.add_argument("envs", nargs="*", metavar="ENV", help="default: every configured one")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    p.add_argument("--format", choices=api.FORMATS, help=FORMAT_HELP)
    p.add_argument(
        "--fast",
        action="store_true",
        help="let each database's ledger vouch for the rows it recorded (says how many)",
    )
    p.set_defaults(run=lambda s, a: verify.verify(s, a.envs, fast=a.fast))

    p = commands.add_parser(
        "check", parents=[tables], help="preflight only: connections, tables, versions"
    )
    p.add_argument("envs", nargs="*", metavar="ENV", help="default: every configured one")
    p.set_defaults(run=lambda s, a: _check(s, a.envs))
    return parser


def _listing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stat",
        action="store_true",
        help="one line per row: the columns that changed, not what changed in them",
    )
    parser.add_argument(
        "--context",
        type=_count,
        default=3,
        metavar="N",
        help="lines of context around a change in a text column (default 3)",
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(","))
    if not all(keys):
        raise argparse.ArgumentTypeError(f"expected KEY[,KEY...], got {text!r}")
    return keys


def _interactive() -> bool:
    """A person at a terminal who can answer a confirmation."""
    return api.is_interactive()


def _check(settings, names: list[str]) -> int:
    """verify.check, after saying (exit 4) that no client here can reach a TLS-only PostgreSQL
    18, and the line that fixes it: what `manage.py check` says as promptsync.E001."""
    missing = clientcheck.missing()
    if missing:
        log.error(f"{missing}; {clientcheck.fix()}")
    code = verify.check(settings, names)
    return max(code, EXIT_FAILED) if missing else code


def _sync(settings, args) -> int:
    options = sync.Options(
        force=args.force,
        dry_run=args.dry_run,
        yes=args.yes,
        interactive=_interactive(),
        allow_empty=args.allow_empty,
        allow_mass_delete=args.allow_mass_delete,
        only=args.only or (),
        discard_target_edits=args.discard_target_edits,
        references=guards.References(detach=args.detach_references),
        expect_plan=args.expect_plan,
        stat=args.stat,
        context=args.context,
    )
    return api.run_sync(settings, args.source, args.target, options)


def _diff(settings, args) -> int:
    source_name, target_name, limit = args.source, args.target, args.limit
    if sources.is_file(source_name):  # rows of a file can only be compared once staged
        options = sync.Options(
            dry_run=True, listing_only=True, stat=args.stat, context=args.context
        )
        return sync.run(settings, source_name, target_name, options)
    envs = [environment(settings, n) for n in (source_name, target_name)]
    for env in envs:
        log.add_secrets(env.secrets)
    tools = find_tools(settings.get("PROMPTSYNC_PG_BIN"))
    src, _ = preflight.connect(envs[0], tools)
    with src:
        tgt, _ = preflight.connect(envs[1], tools)
        with tgt:
            src_infos = preflight.describe_tables(src, settings.tables)
            tgt_infos = preflight.describe_tables(tgt, settings.tables)
            try:
                for table in settings.tables:
                    guards.check_drift(
                        table,
                        src.label,
                        tgt.label,
                        guards.columns(src, src_infos[table].rel),
                        guards.columns(tgt, tgt_infos[table].rel),
                    )
            except Refused as drift:
                output.put("schema_drift", str(drift))
                output.text([str(drift)])
                return EXIT_DIFFERENCES
            found = diff.between(src, tgt, src_infos, tgt_infos, limit)
            _note_ledger(tgt, tgt_infos, found, limit)
    output.put("source", src.label)
    output.put("target", tgt.label)
    diff.report(found, limit, args.stat, args.context)
    if not any(d.any for d in found):
        return EXIT_OK
    plan = diff.plan_id({str(d.table): d.digest for d in found})
    output.put("plan_id", plan)
    output.text([f"plan id {plan}"])
    log.info(f"plan id {plan}: deploy exactly this plan with --expect-plan {plan}")
    return EXIT_DIFFERENCES


def _note_ledger(tgt, infos, found: list[diff.TableDiff], limit: int) -> None:
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


def _history(settings, target_name: str, limit: int) -> int:
    target = environment(settings, target_name)
    log.add_secrets(target.secrets)
    session, _ = preflight.connect(target, find_tools(settings.get("PROMPTSYNC_PG_BIN")))
    with session:
        rows = history.show(session, limit)
    output.put("target", target.name)
    output.put("promotions", history.as_dicts(rows))
    if not rows:
        log.info(f"no promotion is recorded on {target.name} yet")
        return EXIT_OK
    output.text(history.format_rows(rows))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fmt = getattr(args, "format", None) or ("json" if getattr(args, "json", False) else "text")
    return api.run(
        args.command,
        lambda settings: args.run(settings, args),
        tables=(args.table or []) + (getattr(args, "sub_table", None) or []),
        fmt=fmt,
        quiet=args.quiet,
    )


if __name__ == "__main__":
    sys.exit(main())
