from __future__ import annotations

from promptsync.django.base import SyncCommand


class Command(SyncCommand):
    help = (
        "Copy the local database's prompts to staging (promptsync sync local staging): "
        "verified and atomic; refuses without --force; exit codes 0 done, 1 differences "
        "(--dry-run), 2 configuration, 3 refused, 4 failed (staging unchanged)."
    )
    source = "local"
    target = "staging"
