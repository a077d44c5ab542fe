"""Connection poolers: a real PgBouncer (tests/pgbouncer.py) in front of a target or a source,
in transaction mode (the pooled URLs hosted providers hand out) and in session mode.

Everything promptsync sets, creates or locks ends with its transaction, so a target and verify
work through a transaction pooler, and the application's next query on the same pooled server
connection (a pool of one makes sure it is the same) sees nothing of promptsync: its own
search_path and settings, no helper functions, no lock, no open transaction. A sync's source
is read in one exported snapshot over several connections, which a transaction pooler cannot
give: it is refused before any change, with the fix, and never waits for the pooler's queue
timeout. Session mode works on both sides."""

from __future__ import annotations

import time

import pytest

import pgbouncer
from integration.test_schemas import fails, ok
from integration.test_sync import HOSTILE

pytestmark = pytest.mark.integration

APP_QUERY = (
    "SHOW search_path; SHOW TimeZone; SHOW statement_timeout; SHOW DateStyle;"
    " SELECT count(*) FROM prompts;"
)


@pytest.fixture
def bouncers(cluster, tmp_path):
    """start(env, mode, pool_size): a PgBouncer in front of env's server."""
    started: list[pgbouncer.Bouncer] = []

    def start(env: str, mode: str, pool_size: int = 1) -> pgbouncer.Bouncer:
        try:
            found = pgbouncer.start(
                cluster.servers[env], tmp_path / f"bouncer-{len(started)}", mode, pool_size
            )
        except pgbouncer.Unavailable as exc:
            pytest.skip(str(exc))
        started.append(found)
        return found

    yield start
    for bouncer in started:
        bouncer.stop()


def count(cluster, env: str) -> int:
    return int(cluster.sql(env, "SELECT count(*) FROM prompts"))


def app_sees_nothing(cluster, env: str, bouncer: pgbouncer.Bouncer, rows: int) -> None:
    """The application's unqualified query through the pooler works with its own settings,
    and the server shows nothing promptsync left: no helper function, no advisory lock, no
    open transaction."""
    direct = cluster.sql(env, APP_QUERY).split()
    assert bouncer.psql(APP_QUERY).split() == direct
    assert direct[-1] == str(rows)
    leftovers = cluster.sql(
        env,
        "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE 'promptsync%'),"
        " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        "   AND pid <> pg_backend_pid() AND (xact_start IS NOT NULL OR state <> 'idle'))",
    ).strip()
    assert leftovers == "0|0|0"


def test_a_target_through_a_transaction_pooler(cluster, bouncers):
    bouncer = bouncers("production", "transaction")
    cluster.sql("staging", HOSTILE)
    env = cluster.env(PROD_DB_PORT=str(bouncer.port))
    result = ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert "pooler in transaction mode" in result.stderr
    assert cluster.rows("production") == cluster.rows("staging")
    rows = count(cluster, "staging")
    app_sees_nothing(cluster, "production", bouncer, rows)
    # again through the pooler, with a change: nothing of the first run is in the way
    cluster.sql("staging", "UPDATE prompts SET body = 'edited' WHERE id = 3")
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")
    app_sees_nothing(cluster, "production", bouncer, rows)
    # and directly: no lock was left behind to refuse it
    cluster.sql("staging", "UPDATE prompts SET body = 'again' WHERE id = 3")
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")


def test_verify_check_and_rollback_through_a_transaction_pooler(cluster, bouncers):
    bouncer = bouncers("production", "transaction")
    cluster.sql("staging", HOSTILE)
    ok(cluster.run("sync", "staging", "production", "--force"))
    env = cluster.env(PROD_DB_PORT=str(bouncer.port))
    ok(cluster.run("verify", "staging", "production", env=env))
    app_sees_nothing(cluster, "production", bouncer, count(cluster, "staging"))
    check = ok(cluster.run("check", "production", env=env))
    assert "pooler      transaction mode" in check.stdout
    assert "use the direct, non-pooled URL" in check.stdout
    ok(cluster.run("rollback", "production", "--force", env=env))
    assert cluster.rows("production") == ""
    app_sees_nothing(cluster, "production", bouncer, 0)


def test_a_source_through_a_transaction_pooler_is_refused_at_once(cluster, bouncers):
    """With a pool of one the sync would wait on itself until query_wait_timeout (120 s)."""
    bouncer = bouncers("staging", "transaction")
    cluster.sql("staging", HOSTILE)
    before = cluster.state("production")
    env = cluster.env(STAGING_DATABASE_URL=bouncer.url())
    began = time.monotonic()
    result = cluster.run("sync", "staging", "production", "--force", env=env, timeout=60)
    assert time.monotonic() - began < pgbouncer.QUERY_WAIT_TIMEOUT / 2
    fails(result, 4, "staging", "transaction mode", "use the direct, non-pooled URL")
    assert cluster.state("production") == before
    app_sees_nothing(cluster, "staging", bouncer, count(cluster, "staging"))


def test_a_source_behind_a_pool_of_one_in_session_mode_is_refused_at_once(cluster, bouncers):
    bouncer = bouncers("staging", "session", pool_size=1)
    cluster.sql("staging", HOSTILE)
    before = cluster.state("production")
    env = cluster.env(STAGING_DATABASE_URL=bouncer.url())
    result = cluster.run("sync", "staging", "production", "--force", env=env, timeout=60)
    fails(result, 4, "no second server connection", "use the direct, non-pooled URL")
    assert cluster.state("production") == before


@pytest.mark.parametrize("path", ["delta", "full"])
def test_session_mode_on_both_sides(cluster, bouncers, path):
    source = bouncers("staging", "session", pool_size=4)
    target = bouncers("production", "session", pool_size=4)
    cluster.sql("staging", HOSTILE)
    cluster.sql("production", "INSERT INTO prompts (id, name, prompt_type) VALUES (3, 'x', 'y')")
    env = cluster.env(
        STAGING_DATABASE_URL=source.url(),
        PROD_DB_PORT=str(target.port),
        PROMPTSYNC_TRANSFER=path,
    )
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")
    ok(cluster.run("verify", "staging", "production", env=env))
    app_sees_nothing(cluster, "production", target, count(cluster, "staging"))
