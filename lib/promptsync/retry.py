"""Bounded retries of transient failures (tenacity): exponential backoff with jitter, each
attempt from a clean state, never past PROMPTSYNC_RETRIES retries or two minutes in all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from promptsync import log
from promptsync.config import Settings
from promptsync.errors import Failed

T = TypeVar("T")
GIVE_UP_AFTER = 100.0  # seconds; with connect timeouts of 10 s a failing target ends in < 2 min


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Failed) and exc.transient


def _before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0
    log.info(f"attempt {state.attempt_number} failed: {exc}")
    log.info(f"retrying in {delay:.1f} s")


def retrying(settings: Settings) -> Retrying:
    retries = settings.int_setting("PROMPTSYNC_RETRIES", 3, minimum=0)
    return Retrying(
        stop=stop_after_attempt(retries + 1) | stop_after_delay(GIVE_UP_AFTER),
        wait=wait_exponential_jitter(initial=1, max=20, jitter=1),
        retry=retry_if_exception(is_transient),
        before_sleep=_before_sleep,
        reraise=True,
    )


def call(settings: Settings, fn: Callable[[], T]) -> T:
    return retrying(settings)(fn)
