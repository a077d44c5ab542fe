"""The old way of copying prompts, measured next to promptsync (make bench).

    python bench/oldway.py django          # what the old management commands did (the ORM)
    python bench/oldway.py django-batched  # the same, bulk_create(batch_size=1000)
    python bench/oldway.py psycopg         # its best case: plain psycopg, one transaction

Both overwrite the whole target table with the source's rows, whatever differs:

- django: the old `copy_prompts_to_staging` / `copy_prompts_to_production` commands.
  `Prompt.objects.using(target).all().delete()`, then `bulk_create()` of every row read through
  `Prompt.objects.using(source).all()`, in Django's default autocommit: the target is empty
  from the DELETE until the INSERT commits. Django is configured in-process (two DATABASES
  entries, no project) with a minimal unmanaged model of the table. bulk_create's default on
  PostgreSQL is ONE INSERT of every row (its SQL text grows with the table: past 1 GB,
  PostgreSQL refuses it); django-batched sends batches of 1,000 rows instead.
- psycopg: read every source row with psycopg, then DELETE + `executemany` INSERT (pipelined
  by psycopg 3) in one transaction on the target.

The source and target are BENCH_SOURCE_URL and BENCH_TARGET_URL (postgresql:// URLs).
Prints one JSON line on stdout: rows copied and seconds per phase.
"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import unquote, urlsplit

BATCH_SIZE = 1000  # django-batched
COLUMNS = (
    "id, name, coach_state, prompt_type, version, body, metadata, tags, temperature, "
    "is_active, created_at, updated_at"
)


def django_database(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or 5432),
    }


def copy_with_django(source_url: str, target_url: str, batch_size: int | None = None) -> dict:
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {},
            "source": django_database(source_url),
            "target": django_database(target_url),
        },
        INSTALLED_APPS=[],
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
    django.setup()
    from django.contrib.postgres.fields import ArrayField
    from django.db import models
    from django.utils import timezone

    class Prompt(models.Model):
        """The prompts table as Dev Coach's migrations create it (sql/demo/schema.sql)."""

        id = models.BigAutoField(primary_key=True)
        name = models.CharField(max_length=200)
        coach_state = models.CharField(max_length=100, default="", blank=True)
        prompt_type = models.CharField(max_length=50)
        version = models.IntegerField(default=1)
        body = models.TextField(null=True)
        metadata = models.JSONField(null=True)
        tags = ArrayField(models.TextField(), null=True)
        temperature = models.FloatField(null=True)
        is_active = models.BooleanField(default=True)
        created_at = models.DateTimeField(default=timezone.now)
        updated_at = models.DateTimeField(null=True)

        class Meta:
            app_label = "bench"
            managed = False
            db_table = "prompts"

    started = time.monotonic()
    Prompt.objects.using("target").all().delete()
    deleted = time.monotonic()
    rows = list(Prompt.objects.using("source").all())
    read = time.monotonic()
    Prompt.objects.using("target").bulk_create(rows, batch_size=batch_size)
    done = time.monotonic()
    return {
        "rows": len(rows),
        "delete_s": deleted - started,
        "read_s": read - deleted,
        "write_s": done - read,
    }


def copy_with_psycopg(source_url: str, target_url: str) -> dict:
    import psycopg
    from psycopg.types.string import TextLoader

    started = time.monotonic()
    with psycopg.connect(source_url) as src:
        src.adapters.register_loader("jsonb", TextLoader)  # pass json through as text
        rows = src.execute(f"SELECT {COLUMNS} FROM public.prompts").fetchall()
    read = time.monotonic()
    placeholders = ", ".join(["%s"] * len(COLUMNS.split(",")))
    with psycopg.connect(target_url) as tgt, tgt.transaction(), tgt.cursor() as cur:
        cur.execute("DELETE FROM public.prompts")
        deleted = time.monotonic()
        cur.executemany(f"INSERT INTO public.prompts ({COLUMNS}) VALUES ({placeholders})", rows)
    done = time.monotonic()  # committed
    return {
        "rows": len(rows),
        "read_s": read - started,
        "delete_s": deleted - read,
        "write_s": done - deleted,
    }


def main() -> int:
    methods = {
        "django": copy_with_django,
        "django-batched": lambda s, t: copy_with_django(s, t, batch_size=BATCH_SIZE),
        "psycopg": copy_with_psycopg,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in methods:
        print(__doc__, file=sys.stderr)
        return 2
    result = methods[sys.argv[1]](os.environ["BENCH_SOURCE_URL"], os.environ["BENCH_TARGET_URL"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
