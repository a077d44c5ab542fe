"""promptsync.retry: bounded retries of transient failures only, re-raising the original."""

from __future__ import annotations

import time

import pytest
import tenacity

from promptsync import log, retry
from promptsync.errors import CommitUnknown, ConfigError, Failed, Refused, UsageError

REAL_WAIT = retry.wait_exponential_jitter


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    """Backoff without the waiting, so these tests are instant."""
    monkeypatch.setattr(retry, "wait_exponential_jitter", lambda **_: tenacity.wait_none())


class Flaky:
    """Raises the given exceptions in turn, then returns 'done'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def always(exc: BaseException, times: int = 50) -> Flaky:
    return Flaky(*[exc] * times)


def transient(message: str = "connection refused") -> Failed:
    return Failed(message, transient=True)


# -- attempts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("retries", "attempts"), [("0", 1), ("1", 2), ("2", 3), ("5", 6)])
def test_promptsync_retries_bounds_the_attempts(settings_of, retries, attempts):
    fn = always(transient())
    with pytest.raises(Failed):
        retry.call(settings_of(PROMPTSYNC_RETRIES=retries), fn)
    assert fn.calls == attempts


def test_default_is_three_retries(settings_of):
    fn = always(transient())
    with pytest.raises(Failed):
        retry.call(settings_of(), fn)
    assert fn.calls == 4


def test_empty_promptsync_retries_means_the_default(settings_of):
    fn = always(transient())
    with pytest.raises(Failed):
        retry.call(settings_of(PROMPTSYNC_RETRIES=""), fn)
    assert fn.calls == 4


def test_success_after_transient_failures(settings_of):
    fn = Flaky(transient(), transient("the database system is starting up"))
    assert retry.call(settings_of(PROMPTSYNC_RETRIES="3"), fn) == "done"
    assert fn.calls == 3


def test_success_first_time_is_one_call(settings_of):
    fn = Flaky()
    assert retry.call(settings_of(PROMPTSYNC_RETRIES="3"), fn) == "done"
    assert fn.calls == 1


def test_commit_unknown_counts_as_transient(settings_of):
    fn = Flaky(CommitUnknown("commit on staging failed", transient=True))
    assert retry.call(settings_of(), fn) == "done"
    assert fn.calls == 2


# -- what is not retried -------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        Failed("password authentication failed"),
        Failed("transient defaults to False"),
        Refused("another promptsync is promoting staging"),
        ConfigError("STAGING_DB_HOST is not set"),
        UsageError("bad"),
        RuntimeError("a bug"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_only_transient_failures_are_retried(settings_of, error):
    fn = always(error)
    with pytest.raises(type(error)) as excinfo:
        retry.call(settings_of(PROMPTSYNC_RETRIES="5"), fn)
    assert excinfo.value is error
    assert fn.calls == 1


def test_a_permanent_failure_after_a_transient_one_stops(settings_of):
    permanent = Failed("relation does not exist")
    fn = Flaky(transient(), permanent, transient())
    with pytest.raises(Failed) as excinfo:
        retry.call(settings_of(PROMPTSYNC_RETRIES="5"), fn)
    assert excinfo.value is permanent
    assert fn.calls == 2


def test_the_original_exception_is_reraised_not_a_retry_error(settings_of):
    last = transient("third")
    fn = Flaky(transient("first"), transient("second"), last)
    with pytest.raises(Failed) as excinfo:
        retry.call(settings_of(PROMPTSYNC_RETRIES="2"), fn)
    assert excinfo.value is last
    assert not isinstance(excinfo.value, tenacity.RetryError)
    assert excinfo.value.transient


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "three", "0x3"])
def test_bad_promptsync_retries_is_a_config_error(settings_of, raw):
    fn = Flaky()
    with pytest.raises(ConfigError) as excinfo:
        retry.call(settings_of(PROMPTSYNC_RETRIES=raw), fn)
    assert "PROMPTSYNC_RETRIES" in str(excinfo.value)
    assert fn.calls == 0  # rejected before anything runs


def test_retrying_rejects_a_bad_value_when_built(settings_of):
    with pytest.raises(ConfigError, match="PROMPTSYNC_RETRIES"):
        retry.retrying(settings_of(PROMPTSYNC_RETRIES="x"))


def test_retrying_object_with_wait_none(settings_of, monkeypatch):
    monkeypatch.setattr(retry, "wait_exponential_jitter", REAL_WAIT)  # the real backoff
    retrying = retry.retrying(settings_of(PROMPTSYNC_RETRIES="1"))
    assert isinstance(retrying, tenacity.Retrying)
    assert isinstance(retrying.wait, tenacity.wait_exponential_jitter)
    retrying.wait = tenacity.wait_none()
    fn = always(transient())
    with pytest.raises(Failed):
        retrying(fn)
    assert fn.calls == 2


def test_the_backoff_grows_and_is_capped(settings_of, monkeypatch):
    monkeypatch.setattr(retry, "wait_exponential_jitter", REAL_WAIT)
    wait = retry.retrying(settings_of()).wait
    state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    delays = []
    for attempt in (1, 2, 3, 10):
        state.attempt_number = attempt
        delays.append(wait(state))
    assert 1 <= delays[0] <= 2
    assert 2 <= delays[1] <= 3
    assert delays[3] <= 20


def test_retries_are_instant_in_these_tests(settings_of):
    fn = always(transient())
    started = time.monotonic()
    with pytest.raises(Failed):
        retry.call(settings_of(PROMPTSYNC_RETRIES="5"), fn)
    assert time.monotonic() - started < 1


# -- messages ------------------------------------------------------------------------------


def test_each_retry_is_announced_on_stderr(settings_of, capsys):
    fn = Flaky(transient("connection refused"), transient("connection refused"))
    retry.call(settings_of(), fn)
    out, err = capsys.readouterr()
    assert out == ""
    assert "attempt 1 failed: connection refused" in err
    assert "attempt 2 failed: connection refused" in err
    assert err.count("retrying in") == 2


def test_retry_messages_are_redacted(settings_of, capsys):
    log.add_secrets(["hunter2-secret"])
    fn = Flaky(transient("cannot connect as app/hunter2-secret"))
    retry.call(settings_of(), fn)
    err = capsys.readouterr().err
    assert "attempt 1 failed" in err
    assert "hunter2-secret" not in err


def test_is_transient():
    assert retry.is_transient(transient())
    assert not retry.is_transient(Failed("x"))
    assert not retry.is_transient(RuntimeError("connection refused"))
