"""The app's configuration. It has no models and uses none of Django's databases; it registers
one system check (checks.py)."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class PromptsyncConfig(AppConfig):
    name = "promptsync.django"
    label = "promptsync"
    verbose_name = "promptsync"

    def ready(self) -> None:
        from promptsync.django.checks import tls_client

        checks.register(tls_client)
