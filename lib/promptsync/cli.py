"""The command line: parse, load configuration once, run, map errors to exit codes.

Each command imports the modules it runs when it runs: `verify` on a small table should not
pay for loading the sync's machinery (startup is most of a command's time at 1,000 rows)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promptsync import __version__, api, output
from promptsync.errors import EXIT_FAILED

EPILOG = """exit codes: 0 done (verify: all match), 1 differences found (verify, dry run),
2 usage or configuration error, 3 refused for safety, 4 failed (target unchanged)"""
FORMAT_HELP = "stdout as text (default), json (= --json) or markdown (the run summary)"
TABLE_HELP = "table to sync (repeatable; default PROMPTSYNC_TABLES or prompts)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptsync",
        description="Move the prompts table between PostgreSQL environments, verified and atomic.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"promptsync {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("--table", action="append", metavar="TABLE", help=TABLE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tables = argparse.ArgumentParser(add_help=False)
    tables.add_argument(
        "--table", action="append", dest="sub_table", metavar="TABLE", help=TABLE_HELP
    )
    for add in (_add_sync, _add_diff, _add_export, _add_rollback, _add_history, _add_verify,
                _add_check):  # fmt: skip
        add(commands, tables)
    return parser


def _add_sync(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "sync", parents=[tables], help="copy SOURCE's tables over TARGET's, verified, atomic"
    )
    p.add_argument("source", help="local, staging, production (prod), ...")
    p.add_argument("target")
    p.add_argument("--force", action="store_true", help="allow overwriting TARGET")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _output_arguments(p)
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


def _add_diff(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "diff", parents=[tables], help="the rows that differ between SOURCE and TARGET"
    )
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--limit", type=_positive, default=50, help="rows listed per kind (default 50)")
    _output_arguments(p)
    _listing_arguments(p)
    p.set_defaults(run=_diff)


def _add_export(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "export", parents=[tables], help="write ENV's tables to a deterministic snapshot FILE"
    )
    p.add_argument("env")
    p.add_argument("file", type=Path)
    p.set_defaults(run=_export)


def _add_rollback(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "rollback", parents=[tables], help="restore TARGET's content before its last promotion"
    )
    p.add_argument("target")
    p.add_argument("--force", action="store_true", help="allow overwriting TARGET")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(run=_rollback)


def _add_history(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "history", parents=[tables], help="promotions and rollbacks recorded on TARGET"
    )
    p.add_argument("target")
    p.add_argument("--limit", type=_positive, default=20, help="newest N lines (default 20)")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    p.set_defaults(run=_history)


def _add_verify(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "verify", parents=[tables], help="row counts and checksums side by side"
    )
    p.add_argument("envs", nargs="*", metavar="ENV", help="default: every configured one")
    _output_arguments(p)
    p.add_argument(
        "--fast",
        action="store_true",
        help="let each database's ledger vouch for the rows it recorded (says how many)",
    )
    p.set_defaults(run=_verify)


def _add_check(commands, tables: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "check", parents=[tables], help="preflight only: connections, tables, versions"
    )
    p.add_argument("envs", nargs="*", metavar="ENV", help="default: every configured one")
    p.set_defaults(run=_check)


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    parser.add_argument("--format", choices=output.FORMATS, help=FORMAT_HELP)


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


# -- the commands: each imports what it runs -----------------------------------------------


def _sync(settings, args) -> int:
    from promptsync import guards, sync

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
    from promptsync import review

    return review.run(settings, args.source, args.target, args.limit, args.stat, args.context)


def _export(settings, args) -> int:
    from promptsync import export

    return export.run(settings, args.env, args.file)


def _rollback(settings, args) -> int:
    from promptsync import rollback

    return rollback.run(settings, args.target, args.force, args.yes, _interactive())


def _history(settings, args) -> int:
    from promptsync import history

    return history.run(settings, args.target, args.limit)


def _verify(settings, args) -> int:
    from promptsync import verify

    return verify.verify(settings, args.envs, fast=args.fast)


def _check(settings, args) -> int:
    """verify.check, after saying (exit 4) that no client here can reach a TLS-only PostgreSQL
    18, and the line that fixes it: what `manage.py check` says as promptsync.E001."""
    from promptsync import clientcheck, log, verify

    missing = clientcheck.missing()
    if missing:
        log.error(f"{missing}; {clientcheck.fix()}")
    code = verify.check(settings, args.envs)
    return max(code, EXIT_FAILED) if missing else code


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
