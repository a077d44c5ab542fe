from __future__ import annotations

from promptsync.django.base import SyncCommand


class Command(SyncCommand):
    help = (
        "Copy staging's prompts to production (promptsync sync staging production): verified "
        "and atomic; refuses without --force; asks only on a terminal (never on Render); exit "
        "codes 0 done, 1 differences (--dry-run), 2 configuration, 3 refused, 4 failed "
        "(production unchanged). With PROMPT_SYNC_OPTIONAL=1 a failure is a WARNING and exit 0."
    )
    source = "staging"
    target = "production"
    optional_setting = "PROMPT_SYNC_OPTIONAL"
