"""The app's configuration. It has no models and uses none of Django's databases."""

from __future__ import annotations

from django.apps import AppConfig


class PromptsyncConfig(AppConfig):
    name = "promptsync.django"
    label = "promptsync"
    verbose_name = "promptsync"
