"""Real schemas: row level security, self-references, cascades between synced tables, triggers,
sequences and identity columns, partitioned tables and views, concurrent writers, roles with
the least privileges, the mass-delete guard on a first sync, and schema drift in `check`.

Each case ends in an exact copy, or in a refusal before anything changes (exit 3, one line
naming the object and what to do); the target is compared with its state before on every
refusal or failure. The real CLI runs against the `cluster` fixture's PostgreSQL servers.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from psqlpipe import PsqlPipe

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
T0 = "2024-01-01 00:00:00+00"
ROLE = "promptsync_app"
ROLE_PASSWORD = "app-S3cret pw"


# -- helpers ---------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if " error: " in f" {line}"]
    assert len(lines) == 1, result.stderr
    return lines[0]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def fails(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Exit `code` and one error line holding every one of `words`."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    line = error_line(result)
    for word in words:
        assert word in line, line
    return line


def put(cluster, env: str, *ids: int, body: str = "body", extra: str = "") -> None:
    """Prompts with explicit ids and fixed values (same call, same bytes anywhere)."""
    cluster.sql(
        env,
        "INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) "
        f"SELECT i, 'p' || i, 'intro', 'system', 1, '{body} ' || i, timestamptz '{T0}' "
        f"FROM unnest(ARRAY[{', '.join(map(str, ids))}]::bigint[]) AS i; {extra}",
    )


def put_range(cluster, env: str, first: int, last: int) -> None:
    cluster.sql(
        env,
        "INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) "
        f"SELECT i, 'p' || i, 'intro', 'system', 1, 'body ' || i, timestamptz '{T0}' "
        f"FROM generate_series({first}, {last}) AS i",
    )


def value(cluster, env: str, sql: str) -> str:
    return cluster.sql(env, sql).strip()


def snapshot(cluster, env: str, *tables: str) -> list[str]:
    """Exact content of `tables` (default prompts) plus promptsync's records there."""
    out = [cluster.rows(env, t) for t in (tables or ("public.prompts",))]
    if value(cluster, env, "SELECT to_regclass('promptsync.undo') IS NOT NULL") == "t":
        out.append(
            cluster.sql(
                env,
                "COPY (SELECT * FROM promptsync.promotions ORDER BY id) TO STDOUT;",
            )
            + cluster.undo(env)
        )
    return out


def all_envs(cluster, sql: str) -> None:
    for env in ("local", "staging", "production"):
        cluster.sql(env, sql)


def app_role(cluster, env: str, grants: str = "") -> dict[str, str]:
    """A fresh login role (not a superuser) on env; returns the overrides to connect as it."""
    cluster.sql(
        env,
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"EXECUTE 'DROP OWNED BY {ROLE}'; END IF; END $$; DROP ROLE IF EXISTS {ROLE}; "
        f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'; "
        f"GRANT USAGE ON SCHEMA public TO {ROLE}; {grants}",
    )
    assert env == "production"
    return {"PROD_DB_USER": ROLE, "PROD_DB_PASSWORD": ROLE_PASSWORD}


def run_grants(cluster, env: str, role: str = ROLE, script: str = "grants.sql") -> None:
    """What an administrator runs once: psql -v role=... -f sql/grants.sql (or another)."""
    server = cluster.servers[env]
    result = subprocess.run(
        [
            str(server.bindir / "psql"),
            "-X",
            "-q",
            "-h",
            str(server.socket_dir),
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            server.dbname,
            "-v",
            f"role={role}",
            "-f",
            str(ROOT / "sql" / script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- 1. row level security --------------------------------------------------------------------


def rls_production(cluster) -> dict[str, str]:
    """Production's prompts owned by an application role, FORCE ROW LEVEL SECURITY, and a
    policy that hides inactive prompts; staging lacks the hidden prompt 9."""
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2, 3)
    put(cluster, "production", 9, extra="UPDATE prompts SET is_active = false WHERE id = 9")
    cluster.sql("staging", "UPDATE prompts SET body = 'new' WHERE id = 2")
    env = app_role(cluster, "production", f"GRANT CREATE ON DATABASE dev_coach TO {ROLE};")
    cluster.sql(
        "production",
        f"ALTER TABLE prompts OWNER TO {ROLE}; ALTER SEQUENCE prompts_id_seq OWNER TO {ROLE}; "
        "ALTER TABLE prompts ENABLE ROW LEVEL SECURITY; "
        "ALTER TABLE prompts FORCE ROW LEVEL SECURITY; "
        "CREATE POLICY only_active ON prompts USING (is_active);",
    )
    return cluster.env(**env)


def test_row_level_security_is_refused_by_sync_and_verify(cluster):
    env = rls_production(cluster)
    before = snapshot(cluster, "production")
    for args in (("--force",), ("--dry-run",), ("--force", "--yes")):
        fails(
            cluster.run("sync", "staging", "production", *args, env=env),
            3,
            "row level security",
            "only_active",
            "BYPASSRLS",
            "NO FORCE ROW LEVEL SECURITY",
        )
        assert snapshot(cluster, "production") == before
    result = cluster.run("verify", env=env)
    fails(result, 3, "row level security", "only_active")
    assert "match" not in result.stderr.replace("row level", "")
    result = cluster.run("check", env=env)
    assert result.returncode == 3 and "production: REFUSED" in result.stdout
    # the owner without FORCE sees every row: an exact copy, the hidden row included
    cluster.sql("production", "ALTER TABLE prompts NO FORCE ROW LEVEL SECURITY")
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")
    ok(cluster.run("verify", "staging", "production", env=env))


# -- 2. self-referencing foreign keys ----------------------------------------------------------

SELF_REF = "ALTER TABLE prompts ADD COLUMN parent_id bigint REFERENCES prompts (id) {how}"


@pytest.mark.parametrize("how", ["", "DEFERRABLE INITIALLY IMMEDIATE"], ids=["plain", "deferrable"])
def test_self_reference_reparent_and_delete_the_old_root(cluster, how):
    all_envs(cluster, SELF_REF.format(how=how))
    put(cluster, "production", 1, 2, 3, 4, 5, extra="UPDATE prompts SET parent_id = 1 WHERE id > 2")
    # the source moved the children under root 2 and deleted root 1
    put(cluster, "staging", 2, 3, 4, 5, extra="UPDATE prompts SET parent_id = 2 WHERE id > 2")
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")


@pytest.mark.parametrize("how", ["", "DEFERRABLE INITIALLY IMMEDIATE"], ids=["plain", "deferrable"])
def test_self_reference_insert_and_move_under_the_new_row(cluster, how):
    all_envs(cluster, SELF_REF.format(how=how))
    put(cluster, "production", 1, 2)
    put(cluster, "staging", 1, 2, 7, extra="UPDATE prompts SET parent_id = 7 WHERE id = 2")
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    # and back: the new row goes, its child returns to the top
    put(cluster, "local", 1, 2)
    ok(cluster.run("sync", "local", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("local")


def test_unique_swap_and_self_reference_together(cluster):
    all_envs(cluster, SELF_REF.format(how=""))
    put(cluster, "production", 1, 2, 3, extra="UPDATE prompts SET parent_id = 1 WHERE id = 3")
    put(cluster, "staging", 1, 2, 3, extra="UPDATE prompts SET parent_id = 1 WHERE id = 3")
    cluster.sql(
        "staging",
        "UPDATE prompts SET name = 'tmp' WHERE id = 1; UPDATE prompts SET name = 'p1' WHERE id = 2;"
        "UPDATE prompts SET name = 'p2' WHERE id = 1",
    )
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")


# -- 3. ON DELETE CASCADE between tables synced together ----------------------------------------

EXAMPLES = (
    "CREATE TABLE prompt_examples (id int PRIMARY KEY, "
    "prompt_id bigint NOT NULL REFERENCES prompts (id) ON DELETE CASCADE, text text)"
)
BOTH = ("public.prompts", "public.prompt_examples")


def test_cascade_between_synced_tables_moves_children_before_deleting_parents(cluster):
    all_envs(cluster, EXAMPLES)
    put(cluster, "production", 1, 2, 3)
    cluster.sql("production", "INSERT INTO prompt_examples VALUES (1, 1, 'a'), (2, 2, 'b')")
    # the source moved example 1 to prompt 2 and deleted prompt 1
    put(cluster, "staging", 2, 3)
    cluster.sql("staging", "INSERT INTO prompt_examples VALUES (1, 2, 'a'), (2, 2, 'b')")
    env = cluster.env(PROMPTSYNC_TABLES="prompts,prompt_examples")
    result = ok(cluster.run("sync", "staging", "production", "--force", env=env))
    for table in BOTH:
        assert cluster.rows("production", table) == cluster.rows("staging", table)
    # "now holds" is said after COMMIT, once per table
    lines = result.stderr.splitlines()
    committed = next(i for i, line in enumerate(lines) if "committed in" in line)
    holds = [i for i, line in enumerate(lines) if "now holds" in line]
    assert len(holds) == 2 and min(holds) > committed, result.stderr


# -- 4. triggers -----------------------------------------------------------------------------


def test_trigger_that_changes_copied_rows_fails_naming_it(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1, 2)
    cluster.sql("staging", "UPDATE prompts SET body = 'new' WHERE id = 1")
    cluster.sql(
        "production",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$; "
        "CREATE TRIGGER set_updated_at BEFORE UPDATE ON prompts "
        "FOR EACH ROW EXECUTE FUNCTION touch();",
    )
    before = snapshot(cluster, "production")
    result = cluster.run("sync", "staging", "production", "--force")
    fails(result, 4, "set_updated_at", "BEFORE UPDATE", "nothing changed")
    assert "now holds" not in result.stderr
    assert snapshot(cluster, "production") == before
    # check names it as well
    assert "set_updated_at" in cluster.run("check").stdout


def test_trigger_that_rewrites_an_untouched_row_fails(cluster):
    # the check before COMMIT re-reads only the touched rows: a row the sync did not touch,
    # rewritten by a trigger (same values, a new version), must still be caught
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2, 3)
    cluster.sql("staging", "UPDATE prompts SET body = 'new' WHERE id = 1")
    cluster.sql(
        "production",
        "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN UPDATE prompts SET version = version + 1 WHERE id = 3; RETURN NULL; END $$; "
        "CREATE TRIGGER bump_three AFTER UPDATE ON prompts "
        "FOR EACH ROW WHEN (NEW.id = 1) EXECUTE FUNCTION bump();",
    )
    before = snapshot(cluster, "production")
    result = cluster.run("sync", "staging", "production", "--force")
    fails(result, 4, "bump_three", "nothing changed")
    assert snapshot(cluster, "production") == before


def test_trigger_writing_an_unqualified_table_works_and_is_named(cluster):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2)
    cluster.sql("staging", "UPDATE prompts SET body = 'new' WHERE id = 1")
    cluster.sql(
        "production",
        "CREATE TABLE audit (at timestamptz DEFAULT now(), op text, prompt_id bigint); "
        "CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO audit (op, prompt_id) VALUES (TG_OP, NEW.id); RETURN NULL; END $$;"
        "CREATE TRIGGER audit_prompts AFTER INSERT OR UPDATE ON prompts "
        "FOR EACH ROW EXECUTE FUNCTION log_change();",
    )
    result = ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    assert (
        value(
            cluster, "production", "SELECT string_agg(op || prompt_id, ',' ORDER BY op) FROM audit"
        )
        == "INSERT3,UPDATE1"
    )
    assert "audit_prompts" in result.stderr and "may write other tables" in result.stderr


# -- 5. sequences and identity columns ----------------------------------------------------------


def test_renamed_serial_sequence_is_a_note_and_moves(cluster):
    put(cluster, "staging", 1, 2, 40)
    cluster.sql(
        "production",
        "ALTER TABLE prompts RENAME TO old_prompts; "
        "ALTER TABLE old_prompts RENAME CONSTRAINT prompts_identity_key TO old_key; "
        "ALTER INDEX prompts_pkey RENAME TO old_pkey; "
        + (ROOT / "sql" / "demo" / "schema.sql").read_text()
        + "DROP TABLE old_prompts;",
    )
    seq = value(cluster, "production", "SELECT pg_get_serial_sequence('prompts', 'id')")
    assert seq == "public.prompts_id_seq1"
    result = ok(cluster.run("sync", "staging", "production", "--force"))
    assert "note:" in result.stderr and "prompts_id_seq1" in result.stderr
    assert cluster.rows("production") == cluster.rows("staging")
    assert value(cluster, "production", "SELECT nextval('prompts_id_seq1')") == "41"
    result = ok(cluster.run("check"))
    assert "prompts_id_seq1" in result.stdout and "drift" not in result.stdout


def test_serial_on_one_side_identity_on_the_other(cluster):
    put(cluster, "staging", 1, 2, 7)
    put(cluster, "production", 1)
    cluster.sql(
        "production",
        "UPDATE prompts SET body = 'old' WHERE id = 1; "
        "ALTER TABLE prompts ALTER COLUMN id DROP DEFAULT; DROP SEQUENCE prompts_id_seq; "
        "ALTER TABLE prompts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;",
    )
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    seq = "pg_get_serial_sequence('prompts', 'id')::regclass"
    assert value(cluster, "production", f"SELECT nextval({seq})") == "8"
    result = ok(cluster.run("check"))
    assert "identity/generated" in result.stdout


def test_non_key_generated_always_identity_column_is_copied(cluster):
    all_envs(cluster, "ALTER TABLE prompts ADD COLUMN rank bigint GENERATED ALWAYS AS IDENTITY")
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 3, 2, 1)  # same rows, other ranks
    cluster.sql("production", "UPDATE prompts SET body = 'old' WHERE id = 2")
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")


def test_nullability_refused_only_when_the_data_violates_it(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1)
    cluster.sql("production", "ALTER TABLE prompts ALTER COLUMN body SET NOT NULL")
    result = ok(cluster.run("sync", "staging", "production", "--force"))
    assert "note:" in result.stderr and "nullability" in result.stderr
    assert cluster.rows("production") == cluster.rows("staging")
    cluster.sql("staging", "UPDATE prompts SET body = NULL WHERE id = 2")
    before = snapshot(cluster, "production")
    fails(
        cluster.run("sync", "staging", "production", "--force"),
        3,
        "NULL in body (1 rows)",
        "NOT NULL in production",
    )
    assert snapshot(cluster, "production") == before


# -- 6. partitioned source, a view as target -----------------------------------------------------


def test_partitioned_source_table_is_copied(cluster):
    cluster.sql(
        "staging",
        "DROP TABLE prompts; "
        + (ROOT / "sql" / "demo" / "schema.sql")
        .read_text()
        .replace(
            "CONSTRAINT prompts_identity_key UNIQUE (name, coach_state, prompt_type, version)",
            "CONSTRAINT prompts_identity_key UNIQUE (id, name)",
        )
        .replace(");\n", ") PARTITION BY RANGE (id);\n", 1)
        + "CREATE TABLE prompts_low PARTITION OF prompts FOR VALUES FROM (MINVALUE) TO (100);"
        "CREATE TABLE prompts_high PARTITION OF prompts FOR VALUES FROM (100) TO (MAXVALUE);",
    )
    put(cluster, "staging", 1, 2, 150, 151)
    put(cluster, "production", 1, 3)
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    assert value(cluster, "production", "SELECT count(*) FROM prompts") == "4"
    ok(cluster.run("verify", "staging", "production"))


def test_view_as_target_is_refused_naming_it(cluster):
    put(cluster, "staging", 1)
    cluster.sql(
        "production",
        "ALTER TABLE prompts RENAME TO prompts_real; "
        "CREATE VIEW prompts AS SELECT * FROM prompts_real;",
    )
    before = cluster.rows("production", "public.prompts_real")
    fails(
        cluster.run("sync", "staging", "production", "--force"),
        3,
        "public.prompts in production is a view",
        "PROMPTSYNC_TABLES",
    )
    assert cluster.rows("production", "public.prompts_real") == before


# -- 7. concurrent writers on the target --------------------------------------------------------


def test_writers_wait_for_the_apply_readers_never_do(cluster):
    put_range(cluster, "staging", 1, 50)
    put_range(cluster, "production", 1, 50)
    cluster.sql("staging", "UPDATE prompts SET body = 'from staging' WHERE id <= 5")
    admin = PsqlPipe(cluster.servers["production"], "admin")
    try:
        # an admin is editing prompt 30 (a row the sync would not change) in an open transaction
        admin.query("BEGIN; UPDATE prompts SET body = 'admin edit' WHERE id = 30;")
        sync = cluster.popen("sync", "staging", "production", "--force")
        waiting = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not waiting:
            waiting = value(
                cluster,
                "production",
                "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE a.application_name = 'promptsync' AND NOT l.granted "
                "AND l.relation = 'public.prompts'::regclass",
            )
            if sync.poll() is not None:
                break
            time.sleep(0.05)
        assert waiting == "ShareRowExclusiveLock", sync.communicate()
        # a reader is not blocked meanwhile
        assert (
            value(cluster, "production", "SET lock_timeout = '1s'; SELECT count(*) FROM prompts")
            == "50"
        )
        admin.query("COMMIT;")
        out, err = sync.communicate(timeout=60)
        assert sync.returncode == 0, err
    finally:
        admin.kill()
    # the admin's committed edit was seen by the comparison: the copy is exact
    assert cluster.rows("production") == cluster.rows("staging")


# -- 8. least privilege ---------------------------------------------------------------------


TABLE_GRANTS = (
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON prompts TO {ROLE}; "
    f"GRANT USAGE, UPDATE ON SEQUENCE prompts_id_seq TO {ROLE};"
)


def test_role_without_create_is_refused_then_works_after_grants_sql(cluster):
    put(cluster, "staging", 1, 2, 30)
    put(cluster, "production", 1)
    env = cluster.env(**app_role(cluster, "production", TABLE_GRANTS))
    before = snapshot(cluster, "production")
    fails(
        cluster.run("sync", "staging", "production", "--force", env=env),
        3,
        "CREATE on database",
        "GRANT CREATE ON DATABASE dev_coach",
        "sql/grants.sql",
    )
    assert snapshot(cluster, "production") == before
    assert value(cluster, "production", "SELECT to_regnamespace('promptsync') IS NULL") == "t"
    result = cluster.run("check", env=env)
    assert result.returncode == 3 and "lacks CREATE on database" in result.stdout
    # an administrator creates promptsync's schema and grants the role what it needs
    run_grants(cluster, "production")
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")
    # not the sequence's owner: moved with setval (UPDATE on it is enough)
    assert value(cluster, "production", "SELECT last_value FROM prompts_id_seq") == "30"
    assert value(cluster, "production", "SELECT count(*) FROM promptsync.promotions") == "1"
    ok(cluster.run("check", env=env))
    # the role can roll back its own promotion too
    ok(cluster.run("rollback", "production", "--force", "--yes", env=env))
    assert snapshot(cluster, "production")[0] == before[0]


def test_schema_created_by_another_role_and_missing_grants(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1)
    ok(cluster.run("sync", "staging", "production", "--force"))  # the superuser creates it
    cluster.sql("staging", "UPDATE prompts SET body = 'again' WHERE id = 2")
    env = cluster.env(**app_role(cluster, "production", TABLE_GRANTS))
    before = snapshot(cluster, "production")
    fails(
        cluster.run("sync", "staging", "production", "--force", env=env),
        3,
        "USAGE on schema promptsync",
        "GRANT USAGE ON SCHEMA promptsync",
    )
    assert snapshot(cluster, "production") == before
    # what an earlier grants.sql gave: no CREATE on the schema, where undo tables now go
    cluster.sql(
        "production",
        f"GRANT USAGE ON SCHEMA promptsync TO {ROLE};"
        f"GRANT SELECT, INSERT, DELETE ON promptsync.promotions TO {ROLE};"
        f"GRANT SELECT, INSERT ON promptsync.promotion_tables, promptsync.undo TO {ROLE};"
        f"GRANT USAGE ON SEQUENCE promptsync.promotions_id_seq TO {ROLE};",
    )
    fails(
        cluster.run("sync", "staging", "production", "--force", env=env),
        3,
        "CREATE on schema promptsync",
        f"GRANT CREATE ON SCHEMA promptsync TO {ROLE};",
    )
    assert snapshot(cluster, "production") == before
    run_grants(cluster, "production")
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")


def test_table_owner_creates_the_schema_itself(cluster):
    put(cluster, "staging", 1, 2, 12)
    env = cluster.env(
        **app_role(cluster, "production", f"GRANT CREATE ON DATABASE dev_coach TO {ROLE};")
    )
    cluster.sql(
        "production",
        f"ALTER TABLE prompts OWNER TO {ROLE}; ALTER SEQUENCE prompts_id_seq OWNER TO {ROLE};",
    )
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert cluster.rows("production") == cluster.rows("staging")
    assert value(cluster, "production", "SELECT nextval('prompts_id_seq')") == "13"


def test_missing_table_privilege_is_named_with_its_grant(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1)
    env = cluster.env(
        **app_role(cluster, "production", f"GRANT SELECT, INSERT ON prompts TO {ROLE};")
    )
    before = snapshot(cluster, "production")
    fails(
        cluster.run("sync", "staging", "production", "--force", env=env),
        3,
        "UPDATE on table public.prompts",
        f"GRANT UPDATE ON TABLE public.prompts TO {ROLE};",
        "USAGE on sequence public.prompts_id_seq",
    )
    assert snapshot(cluster, "production") == before


# -- 9. the mass-delete guard ----------------------------------------------------------------


def test_first_sync_that_grows_the_target_is_not_a_mass_delete(cluster):
    put_range(cluster, "staging", 1, 150)
    cluster.sql("staging", "UPDATE prompts SET name = 'seed ' || id")
    put_range(cluster, "local", 95, 902)  # 808 prompts, partly other ids
    result = ok(cluster.run("sync", "local", "staging", "--force"))
    assert "94 deleted" in result.stderr
    assert cluster.rows("staging") == cluster.rows("local")


def test_mass_delete_overrides_from_the_environment_and_make(cluster):
    put_range(cluster, "staging", 1, 10)
    put(cluster, "local", 1, 2)
    before = snapshot(cluster, "staging")
    fails(
        cluster.run("sync", "local", "staging", "--force"),
        3,
        "leave 2 of 10 rows",
        "ALLOW_MASS_DELETE=1",
        "PROMPTSYNC_ALLOW_MASS_DELETE=1",
    )
    assert snapshot(cluster, "staging") == before
    env = cluster.env(PROMPTSYNC_ALLOW_MASS_DELETE="1")
    ok(cluster.run("sync", "local", "staging", "--force", env=env))
    assert cluster.rows("staging") == cluster.rows("local")
    # make: ALLOW_MASS_DELETE=1 reaches the sync as PROMPTSYNC_ALLOW_MASS_DELETE=1
    show = [
        "make",
        "-s",
        "-C",
        str(ROOT),
        "--eval",
        "show: ; @echo $${PROMPTSYNC_ALLOW_MASS_DELETE-unset}",
        "show",
    ]
    clean = {k: v for k, v in os.environ.items() if k != "PROMPTSYNC_ALLOW_MASS_DELETE"}
    shown = subprocess.run(
        [*show, "ALLOW_MASS_DELETE=1"], capture_output=True, text=True, check=True, env=clean
    ).stdout
    assert shown.strip() == "1", shown
    shown = subprocess.run(show, capture_output=True, text=True, check=True, env=clean).stdout
    assert shown.strip() == "unset", shown


# -- 10. check compares schemas --------------------------------------------------------------


def test_check_reports_drift_with_the_full_column_table(cluster):
    long_default = "'" + "x" * 60 + "-production-end'"
    cluster.sql(
        "production",
        "ALTER TABLE prompts ADD COLUMN owner text; "
        f"ALTER TABLE prompts ALTER COLUMN coach_state SET DEFAULT {long_default}",
    )
    result = cluster.run("check")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "schema drift in public.prompts" in result.stdout
    assert "production has column owner that local lacks" in result.stdout
    assert "x" * 60 + "-production-end" in result.stdout  # never cut
    table_line = next(line for line in result.stdout.splitlines() if line.startswith("  owner"))
    assert "(missing)" in table_line and "text" in table_line
    result = cluster.run("check", "local", "staging")
    ok(result)
