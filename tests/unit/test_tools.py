"""Which client tools promptsync chooses for a server (tools.py), decided without running any:
the version and TLS look-ups are replaced by a table of made-up tools."""

from __future__ import annotations

import itertools

import pytest

from promptsync import tools
from promptsync.config import Environment
from promptsync.errors import ConfigError, Failed
from promptsync.tools import Client, Tools

_unique = itertools.count()


@pytest.fixture
def made_up(monkeypatch):
    """made_up(kind, major, tls, runs=True) -> a Client whose --version and TLS probe answer
    from a table (paths are unique per call: the real look-ups are cached by path)."""
    table: dict[str, tuple[int, bool, bool]] = {}

    def version_of(executable: str) -> str:
        major, _, runs = table[executable]
        if not runs:
            raise Failed(f"{executable} does not run: error while loading shared libraries")
        return f"pg_dump (PostgreSQL) {major}.2"

    monkeypatch.setattr(tools, "version_of", version_of)
    monkeypatch.setattr(tools, "has_tls", lambda executable: table[executable][1])

    def make(kind: str, major: int, tls: bool, runs: bool = True) -> Client:
        n = next(_unique)
        dump, psql = f"/made-up/{kind}{n}/pg_dump", f"/made-up/{kind}{n}/psql"
        table[dump] = table[psql] = (major, tls, runs)
        return Client(kind, dump, psql)

    return make


def env(sslmode: str = "prefer") -> Environment:
    return Environment("production", "db", "u", host="h", port=5432, params=(("sslmode", sslmode),))


PG15, PG18 = 150006, 180001


def test_the_newest_tls_capable_client_is_chosen(made_up):
    path15, bundled18, embedded18 = (
        made_up("path", 15, True),
        made_up("bundled", 18, True),
        made_up("embedded", 18, False),
    )
    choice = Tools(candidates=[path15, bundled18, embedded18]).for_server(env(), PG15)
    assert choice.client == bundled18
    assert "PostgreSQL 15+" in choice.why and "PATH 15 (TLS)" in choice.why


def test_tls_capable_wins_over_newer_without_tls(made_up):
    path16, embedded18 = made_up("path", 16, True), made_up("embedded", 18, False)
    assert Tools(candidates=[path16, embedded18]).for_server(env(), PG15).client == path16


def test_too_old_clients_are_never_chosen(made_up):
    path15, embedded18 = made_up("path", 15, True), made_up("embedded", 18, False)
    assert Tools(candidates=[path15, embedded18]).for_server(env(), PG18).client == embedded18


def test_a_client_without_tls_is_never_chosen_when_tls_is_required(made_up):
    path15, embedded18 = made_up("path", 15, True), made_up("embedded", 18, False)
    with pytest.raises(Failed) as failed:
        Tools(candidates=[path15, embedded18]).for_server(env("require"), PG18)
    message = str(failed.value)
    assert "needs pg_dump 18 or newer built with TLS (OpenSSL)" in message
    assert "PATH 15 (TLS), embedded 18 (no TLS)" in message
    assert "bin/bootstrap" in message and "\n" not in message


def test_a_client_that_does_not_run_here_is_skipped_and_named(made_up):
    broken, path15 = made_up("bundled", 18, True, runs=False), made_up("path", 15, True)
    tools_ = Tools(candidates=[broken, path15])
    assert tools_.for_server(env(), PG15).client == path15
    with pytest.raises(Failed, match=r"bundled \(does not run here\)"):
        tools_.for_server(env(), PG18)


def test_same_major_prefers_path(made_up):
    path18, bundled18 = made_up("path", 18, True), made_up("bundled", 18, True)
    assert Tools(candidates=[bundled18, path18]).for_server(env(), PG18).client == path18


def test_no_candidates_at_all_says_what_to_do():
    with pytest.raises(Failed, match="no PostgreSQL client tools .* bin/bootstrap"):
        Tools().for_connect(env())


def test_pinned_is_used_as_given(made_up):
    pinned = made_up("pin", 16, True)
    choice = Tools(pinned=pinned).for_server(env("verify-full"), PG15)
    assert choice.client == pinned and choice.why == "set by PROMPTSYNC_PG_BIN"


@pytest.mark.parametrize(
    ("major", "tls", "sslmode", "message"),
    [
        (15, True, "prefer", "pg_dump 15 cannot read production"),
        (18, False, "require", "built without TLS"),
    ],
)
def test_pinned_that_cannot_work_says_why_and_never_falls_back(
    made_up, major, tls, sslmode, message
):
    pinned = made_up("pin", major, tls)
    with pytest.raises(ConfigError, match=message):
        Tools(pinned=pinned).for_server(env(sslmode), PG18)


def test_pinned_that_does_not_run(made_up):
    with pytest.raises(ConfigError, match="PROMPTSYNC_PG_BIN: .* does not run"):
        Tools(pinned=made_up("pin", 18, True, runs=False)).for_connect(env())


def test_needs_tls_follows_sslmode():
    assert [tools.needs_tls(env(m)) for m in ("disable", "prefer", "require", "verify-full")] == [
        False,
        False,
        True,
        True,
    ]
