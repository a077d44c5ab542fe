"""Servers set up the way real teams set them up: databases not in UTF8 (LATIN1, SQL_ASCII),
primary keys that are equal by = but print otherwise (numeric 1000.1 and 1000.10), and targets
that cannot be written (default_transaction_read_only, a hot standby).

Row hashes are md5 of the row's text as UTF-8 whatever the server's encoding, so verify, the
plan and the checks agree across encodings: a LATIN1 copy of the source's text matches, a
LATIN1 database holding mojibake does not. A value the target's encoding cannot hold fails with
the server's message and the row's key, the target unchanged."""

from __future__ import annotations

import shutil
import uuid

import pytest

from conftest import SCHEMA
from integration.test_schemas import fails, ok
from promptsync.throwaway import Server, _run, free_port

pytestmark = pytest.mark.integration

ROWS = (
    "INSERT INTO prompts (id, name, coach_state, prompt_type, body, created_at) VALUES"
    " (1, 'café', 'état', 'system', 'Grüße aus Köln: ß, é, ü, ½', '2024-01-01 00:00:00+00'),"
    " (2, 'plain', '', 'system', 'ASCII only', '2024-01-01 00:00:00+00'),"
    " (3, 'naïve', '', 'user', E'tab\\there «quoted» ¿sí?', '2024-01-01 00:00:00+00');"
)


def utf8_rows(server: Server, dbname: str, table: str = "public.prompts") -> str:
    """The table's content as UTF-8 COPY text, whatever the database's encoding."""
    return server.psql(
        f"SET client_encoding = 'UTF8'; COPY (SELECT * FROM {table} ORDER BY 1) TO STDOUT;",
        dbname=dbname,
    )


@pytest.fixture
def database(cluster):
    """make(env, encoding): a fresh database in `encoding` on env's server with the prompts
    table, which env then points at; dropped at the end."""
    made: list[tuple[Server, str]] = []
    overrides: dict[str, str] = {}

    def make(env: str, encoding: str) -> str:
        server = cluster.servers[env]
        name = f"dev_coach_{encoding.lower()}_{uuid.uuid4().hex[:6]}"
        server.psql(
            f"CREATE DATABASE {name} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0",
            dbname="postgres",
        )
        made.append((server, name))
        server.psql(SCHEMA, dbname=name)
        if env == "staging":
            url = cluster.env()["STAGING_DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
            overrides["STAGING_DATABASE_URL"] = url
        elif env == "production":
            overrides["PROD_DB_NAME"] = name
        else:
            overrides["LOCAL_DB_NAME"] = name
        cluster.extra_env.update(overrides)
        return name

    yield make
    for server, name in made:
        server.psql(f"DROP DATABASE {name} WITH (FORCE)", dbname="postgres")


def test_a_latin1_target_holding_the_sources_text_matches(cluster, database):
    prod = database("production", "LATIN1")
    cluster.sql("staging", ROWS)
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert utf8_rows(cluster.servers["production"], prod) == cluster.rows("staging")
    assert "ü" in utf8_rows(cluster.servers["production"], prod)
    ok(cluster.run("verify", "staging", "production"))
    again = ok(cluster.run("sync", "staging", "production", "--force"))
    assert "already matches staging: nothing to do" in again.stderr


def test_mojibake_in_a_latin1_target_is_drift_and_the_sync_mends_it(cluster, database):
    """'cafÃ©' in LATIN1 has the bytes of 'café' in UTF-8: hashing the server's bytes would
    call them equal."""
    prod = database("production", "LATIN1")
    cluster.sql("staging", ROWS)
    server = cluster.servers["production"]
    server.psql("SET client_encoding = 'UTF8';" + ROWS, dbname=prod)
    server.psql(
        "SET client_encoding = 'UTF8'; UPDATE prompts SET name = 'cafÃ©' WHERE id = 1;",
        dbname=prod,
    )
    verify = cluster.run("verify", "staging", "production")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "production differs from staging" in verify.stderr
    plan = cluster.run("sync", "staging", "production", "--dry-run")
    assert plan.returncode == 1, plan.stderr
    assert "public.prompts\t0\t1\t0" in plan.stdout
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert utf8_rows(server, prod) == cluster.rows("staging")


@pytest.mark.parametrize("path", ["delta", "full"])
def test_a_latin1_source_into_a_utf8_target(cluster, database, path):
    staging = database("staging", "LATIN1")
    cluster.servers["staging"].psql("SET client_encoding = 'UTF8';" + ROWS, dbname=staging)
    cluster.sql("production", "INSERT INTO prompts (id, name, prompt_type) VALUES (2, 'x', 'y')")
    env = cluster.env(PROMPTSYNC_TRANSFER=path)
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == utf8_rows(cluster.servers["staging"], staging)
    ok(cluster.run("verify", "staging", "production", env=env))


def test_a_sql_ascii_target(cluster, database):
    prod = database("production", "SQL_ASCII")
    cluster.sql("staging", ROWS)
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.servers["production"].psql(
        "COPY (SELECT * FROM prompts ORDER BY 1) TO STDOUT", dbname=prod
    ) == cluster.rows("staging")
    ok(cluster.run("verify", "staging", "production"))


@pytest.mark.parametrize("path", ["delta", "full"])
def test_a_value_the_target_encoding_cannot_hold_names_the_row(cluster, database, path):
    prod = database("production", "LATIN1")
    cluster.sql(
        "staging",
        ROWS + "INSERT INTO prompts (id, name, prompt_type, body)"
        " VALUES (7, 'cjk', 'system', '日本語');",
    )
    server = cluster.servers["production"]
    server.psql("SET client_encoding = 'UTF8';" + ROWS, dbname=prod)
    server.psql("UPDATE prompts SET body = 'old' WHERE id = 2", dbname=prod)
    before = utf8_rows(server, prod)
    env = cluster.env(PROMPTSYNC_TRANSFER=path)
    result = cluster.run("sync", "staging", "production", "--force", env=env)
    fails(result, 4, 'has no equivalent in encoding "LATIN1"', "id=7", "nothing was applied")
    assert utf8_rows(server, prod) == before


@pytest.mark.parametrize("path", ["delta", "full"])
def test_numeric_keys_equal_by_eq_but_printed_otherwise(cluster, path):
    table = "CREATE TABLE prices (k numeric PRIMARY KEY, label text);"
    for env in ("staging", "production"):
        cluster.sql(env, table)
    cluster.sql("staging", "INSERT INTO prices VALUES (1000.10, 'a'), (2, 'b'), (3.500, 'c')")
    cluster.sql("production", "INSERT INTO prices VALUES (1000.1, 'a'), (2.0, 'b'), (3.5, 'c')")
    env = cluster.env(PROMPTSYNC_TABLES="prices", PROMPTSYNC_TRANSFER=path)
    verify = cluster.run("verify", "staging", "production", env=env)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    result = ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert "0 inserted, 3 updated, 0 deleted" in result.stderr
    assert cluster.rows("production", "prices") == cluster.rows("staging", "prices")
    assert "1000.10\ta" in cluster.rows("production", "prices")
    ok(cluster.run("verify", "staging", "production", env=env))
    # and back: a rollback restores the target's own spelling of the keys
    before = "2.0\tb\n3.5\tc\n1000.1\ta\n"
    ok(cluster.run("rollback", "production", "--force", env=env))
    assert cluster.rows("production", "prices") == before


# -- targets that cannot be written ----------------------------------------------------------


READ_ONLY = "ALTER DATABASE dev_coach SET default_transaction_read_only = on"
WRITABLE = (
    "SET default_transaction_read_only = off;"
    " ALTER DATABASE dev_coach RESET default_transaction_read_only"
)


def test_a_read_only_database_is_reported_by_check_and_refused_by_sync(cluster):
    cluster.sql("staging", ROWS)
    try:
        cluster.sql("production", READ_ONLY)
        before = cluster.state("production")
        check = cluster.run("check", "production")
        assert check.returncode == 4, check.stdout + check.stderr
        assert "production: FAILED" in check.stdout
        assert "default_transaction_read_only = on" in check.stderr
        result = cluster.run("sync", "staging", "production", "--force")
        fails(result, 4, "production", "cannot be written", "default_transaction_read_only")
        assert cluster.state("production") == before
        # a source may well be read-only: it is only read
        cluster.sql("production", WRITABLE)
        cluster.sql("staging", READ_ONLY)
        ok(cluster.run("sync", "staging", "production", "--force"))
        assert cluster.rows("production") == cluster.rows("staging")
    finally:
        for env in ("staging", "production"):
            cluster.sql(env, WRITABLE)


@pytest.fixture
def standby(cluster, tmp_path):
    """A hot standby of the production server, on a port of its own."""
    primary = cluster.servers["production"]
    datadir = tmp_path / "standby"
    argv = [str(primary.bindir / "pg_basebackup"), "-D", str(datadir), "-R", "-X", "stream"]
    argv += ["-h", str(primary.socket_dir), "-p", str(primary.port), "-U", primary.user]
    datadir.parent.chmod(0o777)  # the server's OS user writes the copy
    done = _run(argv, owner=True)
    assert done.returncode == 0, done.stderr
    port = free_port()
    conf = datadir / "throwaway.conf"
    conf.write_text(conf.read_text().replace(f"port = {primary.port}", f"port = {port}"))
    node = Server("standby", primary.bindir, datadir, primary.socket_dir, port, primary.password)
    node.start()
    yield node
    node.stop("immediate")
    shutil.rmtree(datadir, ignore_errors=True)


def test_a_hot_standby_is_reported_by_check_and_refused_by_sync(cluster, standby):
    cluster.sql("staging", ROWS)
    env = cluster.env(PROD_DB_PORT=str(standby.port))
    check = cluster.run("check", "production", env=env)
    assert check.returncode == 4, check.stdout + check.stderr
    assert "hot standby" in check.stderr
    result = cluster.run("sync", "staging", "production", "--force", env=env)
    fails(result, 4, "cannot be written", "hot standby", "primary")
