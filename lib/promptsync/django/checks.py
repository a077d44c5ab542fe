"""promptsync's Django system check, registered by the app (apps.py): `manage.py check` fails with
promptsync.E001 when no client here can reach a TLS-only PostgreSQL 18, and the hint is the line
to add to the build. Django runs it in `check`, `migrate` and `runserver`, so a Render build that
lacks the client fails there, before the sync (docs/deploying.md, "In the application's
repository").

The management commands of this app skip Django's checks (requires_system_checks = []): a sync
checks what it needs itself, and an unrelated problem of the project must not stop it."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from promptsync import clientcheck


def tls_client(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """promptsync.E001: the TLS-capable PostgreSQL 18 client tools are missing."""
    problem = clientcheck.missing()
    if problem is None:
        return []
    return [Error(problem, hint=clientcheck.fix(), id="promptsync.E001")]
