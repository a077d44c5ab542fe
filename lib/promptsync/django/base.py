"""What the management commands share: the options of `promptsync sync` and `verify`, and the
exit code carried out of Django by CommandError (manage.py exits with its returncode)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models

from promptsync import api, summary
from promptsync.guards import References


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--format",
        choices=api.FORMATS,
        default="text",
        help="stdout as text (default), json, or markdown (the run summary)",
    )
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="TABLE",
        help="table to sync (repeatable; default PROMPTSYNC_TABLES or prompts)",
    )


def finish(command: str, code: int) -> None:
    """Return on 0; otherwise raise CommandError carrying promptsync's exit code. The reason
    is already on stderr, as the promptsync CLI writes it."""
    if code:
        raise CommandError(
            f"{command}: {summary.MEANING.get(code, 'failed')} (exit {code})", returncode=code
        )


def references_from_models(allow_cascade: bool) -> References:
    """What a sync may do to rows that point at prompts it deletes, as each model's foreign
    key declares it: SET_NULL detaches them (as Django would have), CASCADE deletes them only
    with --allow-cascade (they are user data), PROTECT, RESTRICT and the rest refuse."""
    columns = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not (
                field.concrete and field.is_relation and (field.many_to_one or field.one_to_one)
            ):
                continue
            on_delete = field.remote_field.on_delete
            if on_delete is models.SET_NULL:
                action = "detach"
            elif on_delete is models.CASCADE:
                action = "cascade" if allow_cascade else "refuse-cascade"
            elif on_delete is models.PROTECT:
                action = "refuse-protect"
            elif on_delete is models.RESTRICT:
                action = "refuse-restrict"
            else:
                action = "refuse"
            table = model._meta.db_table
            qualified = table if "." in table else f"public.{table}"
            columns.append((f"{qualified}.{field.column}", action))
    return References(columns=tuple(columns))


class SyncCommand(BaseCommand):
    """`promptsync sync SOURCE TARGET` as a management command."""

    source = ""
    target = ""
    # A setting that, set to 1, turns a failed sync into a loud warning and exit 0 (the old
    # commands' behaviour, for a build that must deploy anyway).
    optional_setting: str | None = None
    # The sync checks what it needs itself; Django's checks of the project must not stop it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help=f"allow overwriting {self.target}")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change, change nothing"
        )
        parser.add_argument(
            "--yes",
            "-y",
            "--no-input",
            "--noinput",
            action="store_true",
            dest="yes",
            help="do not ask for confirmation (without a terminal nobody is asked anyway)",
        )
        parser.add_argument("--allow-empty", action="store_true", help="allow an empty source")
        parser.add_argument(
            "--allow-mass-delete",
            action="store_true",
            help=f"allow deleting more than half of {self.target}'s rows",
        )
        parser.add_argument(
            "--discard-target-edits",
            action="store_true",
            help=f"overwrite rows changed in {self.target} outside promptsync since its last sync",
        )
        parser.add_argument(
            "--allow-cascade",
            action="store_true",
            help="delete rows whose model says on_delete=CASCADE when their prompt goes",
        )
        add_common_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = api.sync(
            self.source,
            self.target,
            force=options["force"],
            dry_run=options["dry_run"],
            yes=options["yes"],
            allow_empty=options["allow_empty"],
            allow_mass_delete=options["allow_mass_delete"],
            discard_target_edits=options["discard_target_edits"],
            references=references_from_models(options["allow_cascade"]),
            tables=options["table"],
            fmt=options["format"],
            quiet=options["verbosity"] == 0,
        )
        if code > 1 and self.optional_setting and os.environ.get(self.optional_setting) == "1":
            sys.stderr.write(
                f"WARNING: the prompt sync FAILED (exit {code}), and {self.optional_setting}=1 "
                f"lets this go on anyway: {self.target} keeps its OLD prompts.\n"
            )
            return
        finish(self.command_name(), code)

    def command_name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]
