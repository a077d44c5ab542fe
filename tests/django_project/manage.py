#!/usr/bin/env python
"""A minimal Django project, as Dev Coach's server/manage.py is: the tests run the
promptsync.django management commands through it as real processes."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
