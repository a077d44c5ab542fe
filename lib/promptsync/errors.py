"""One error hierarchy; the CLI maps each class to its documented exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DIFFERENCES = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_FAILED = 4


class PromptsyncError(Exception):
    """Base class. The message is one line, safe to print (no secrets)."""

    exit_code = EXIT_FAILED


class UsageError(PromptsyncError):
    """Bad command line."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A missing or malformed setting; the message names the variable to set."""


class Refused(PromptsyncError):
    """Refused for safety: no --force, a guard tripped, another sync holds the lock."""

    exit_code = EXIT_REFUSED


class Failed(PromptsyncError):
    """A connection, dump, load or check failed; the target is unchanged."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class CommitUnknown(Failed):
    """The connection broke while COMMIT was in flight: the outcome must be looked up."""
