from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from promptsync import api
from promptsync.django.base import add_common_arguments, finish


class Command(BaseCommand):
    help = (
        "Row count and checksum of the prompts in every configured environment (or ENV...), "
        "side by side (promptsync verify); exit 1 when they differ."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("envs", nargs="*", metavar="ENV", help="default: every configured one")
        add_common_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = api.verify(
            options["envs"],
            tables=options["table"],
            fmt=options["format"],
            quiet=options["verbosity"] == 0,
        )
        finish("verify_prompts", code)
