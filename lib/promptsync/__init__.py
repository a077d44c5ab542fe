"""promptsync: move a prompts table between PostgreSQL environments, verified and atomic."""

__version__ = "0.2.0"
