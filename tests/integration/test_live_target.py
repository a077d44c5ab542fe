"""Production is a live database: people edit it (the Django admin), user data points at its
prompts, and ids come from each database's own sequence. promptsync records what it left on
each target (its ledger, written in the promotion's transaction) and never silently undoes
what happened there since; it names those rows and refuses unless told to discard them.

The schema is Dev Coach's (tests/django_project/coach/models.py): prompts with their natural
key, sessions that point at a prompt (on_delete=SET_NULL), feedback (PROTECT) and bookmarks
(CASCADE), as Django's migrations create them (foreign keys DEFERRABLE INITIALLY DEFERRED).
Each case runs through the CLI and through `manage.py copy_prompts_to_production --force`, the
way the Render build runs it."""

from __future__ import annotations

import pytest

from integration.test_django import manage
from integration.test_schemas import fails, ok

pytestmark = pytest.mark.integration

N = 300
DJANGO_SCHEMA = """
ALTER TABLE prompts DROP CONSTRAINT prompts_identity_key;
ALTER TABLE prompts ADD CONSTRAINT prompts_natural_key UNIQUE (coach_state, prompt_type, version);
CREATE TABLE coach_coachingsession (
    id bigserial PRIMARY KEY,
    prompt_id bigint NULL REFERENCES prompts (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE coach_feedback (
    id bigserial PRIMARY KEY,
    prompt_id bigint NOT NULL REFERENCES prompts (id) DEFERRABLE INITIALLY DEFERRED,
    text text NOT NULL DEFAULT '');
CREATE TABLE coach_bookmark (
    id bigserial PRIMARY KEY,
    prompt_id bigint NOT NULL REFERENCES prompts (id) DEFERRABLE INITIALLY DEFERRED);
"""
FILL = f"""
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at)
SELECT i, 'prompt ' || i, 'state' || (i % 10), 'system', i, 'You are Dev Coach, take ' || i,
       timestamptz '2026-01-01 00:00:00+00'
  FROM generate_series(1, {N}) AS i;
SELECT setval('prompts_id_seq', {N});
"""
ENVS = ("local", "staging", "production")


@pytest.fixture
def live(cluster):
    """local holds N prompts; staging and production got them through promptsync (so both
    have a ledger), and production's users have sessions on every prompt."""
    for env in ENVS:
        cluster.sql(env, DJANGO_SCHEMA)
    cluster.sql("local", FILL)
    ok(cluster.run("sync", "local", "staging", "--force"))
    ok(cluster.run("sync", "staging", "production", "--force"))
    cluster.sql(
        "production",
        f"INSERT INTO coach_coachingsession (prompt_id) SELECT i FROM generate_series(1, {N}) i",
    )
    return cluster


def deploy(cluster, *args: str, **env: str):
    """The Render production build's sync: manage.py, no terminal."""
    return manage(cluster, "copy_prompts_to_production", "--force", *args, **env)


def sessions(cluster) -> str:
    return cluster.rows("production", "public.coach_coachingsession")


def everything(cluster) -> tuple:
    return cluster.state("production"), sessions(cluster), cluster.undo("production")


def promote_from_local(cluster, sql: str) -> None:
    """A developer's change in local, synced to staging."""
    cluster.sql("local", sql)
    ok(cluster.run("sync", "local", "staging", "--force"))


# -- 1. a prompt created in production's admin, and a developer's prompt with the same id ----


@pytest.mark.parametrize("how", ["cli", "manage.py"])
def test_a_prompt_created_in_production_is_never_replaced(live, how):
    admin = live.sql(
        "production",
        "INSERT INTO prompts (name, coach_state, prompt_type, body) VALUES"
        " ('admin prompt', 'hotfix', 'system', 'made in the admin') RETURNING id",
    ).strip()
    live.sql("production", f"INSERT INTO coach_coachingsession (prompt_id) VALUES ({admin})")
    promote_from_local(
        live,
        "INSERT INTO prompts (name, coach_state, prompt_type, body) VALUES"
        " ('developer prompt', 'new', 'user', 'made on a laptop')",
    )
    assert live.sql("local", "SELECT max(id) FROM prompts").strip() == admin  # the same id
    before = everything(live)
    if how == "manage.py":
        result = deploy(live)
    else:
        result = live.run("sync", "staging", "production", "--force")
    line = fails(result, 3, f"id={admin}", "name=admin prompt", "created there", "promotion 1")
    assert "--discard-target-edits" in line
    assert everything(live) == before


# -- 2. an admin's hotfix ------------------------------------------------------------------


def test_a_hotfix_is_named_brought_back_and_kept(live):
    live.sql("production", "UPDATE prompts SET body = 'hotfix: be brief' WHERE id = 17")
    promote_from_local(live, "UPDATE prompts SET body = body || ' (v2)' WHERE id = 40")
    before = everything(live)
    line = fails(deploy(live), 3, "id=17", "name=prompt 17", "edited there", "overwrite body")
    assert "promptsync sync production staging --only 17" in line
    assert everything(live) == before
    dry = live.run("sync", "staging", "production", "--dry-run")
    assert dry.returncode == 1 and "a real sync would refuse" in dry.stderr

    # the team adopts the hotfix upstream, then deploys again
    ok(live.run("sync", "production", "staging", "--force", "--only", "17"))
    assert "hotfix: be brief" in live.sql("staging", "SELECT body FROM prompts WHERE id = 17")
    assert live.rows("staging").count("hotfix") == 1  # that row only
    ok(deploy(live))
    assert live.sql("production", "SELECT body FROM prompts WHERE id = 17").strip() == (
        "hotfix: be brief"
    )
    assert "(v2)" in live.sql("production", "SELECT body FROM prompts WHERE id = 40")


def body(cluster, env: str, key: int) -> str:
    return cluster.sql(env, f"SELECT body FROM prompts WHERE id = {key}").strip()


def test_a_hotfix_discarded_when_told_comes_back_with_a_rollback(live):
    live.sql("production", "UPDATE prompts SET body = 'hotfix' WHERE id = 18")
    promote_from_local(live, "UPDATE prompts SET body = 'staged' WHERE id = 18")
    ok(deploy(live, "--discard-target-edits"))
    assert body(live, "production", 18) == "staged"
    # again, with the variable, as for a one-off Render deploy
    live.sql("production", "UPDATE prompts SET body = 'hotfix' WHERE id = 18")
    hotfixed = live.rows("production")
    ok(deploy(live, PROMPTSYNC_DISCARD_TARGET_EDITS="1"))
    assert body(live, "production", 18) == "staged"
    ok(live.run("rollback", "production", "--force"))
    assert live.rows("production") == hotfixed
    # the rollback put the ledger back too: the hotfix is an edit made outside promptsync again
    fails(live.run("sync", "staging", "production", "--force"), 3, "id=18", "edited there")


def test_an_edit_that_the_source_has_too_is_no_conflict(live):
    live.sql("production", "UPDATE prompts SET body = 'agreed' WHERE id = 20")
    promote_from_local(
        live,
        "UPDATE prompts SET body = 'agreed' WHERE id = 20;"
        " UPDATE prompts SET body = 'other' WHERE id = 21",
    )
    ok(live.run("sync", "staging", "production", "--force"))
    assert live.rows("production") == live.rows("staging")
    # the ledger now says what production holds: a later change of row 20 passes
    promote_from_local(live, "UPDATE prompts SET body = 'next' WHERE id = 20")
    ok(live.run("sync", "staging", "production", "--force"))


def test_an_application_that_writes_the_table_is_shown_as_a_pattern(live):
    live.sql("production", "ALTER TABLE prompts ADD COLUMN used integer NOT NULL DEFAULT 0")
    for env in ("local", "staging"):
        live.sql(env, "ALTER TABLE prompts ADD COLUMN used integer NOT NULL DEFAULT 0")
    live.sql("local", "UPDATE prompts SET body = body || '.'")
    # a migration changed every row's text: the ledgers cannot tell edits apart this once
    result = ok(live.run("sync", "local", "staging", "--force"))
    assert "staging has no ledger (the table's columns changed since" in result.stderr
    ok(live.run("sync", "staging", "production", "--force"))
    live.sql("production", "UPDATE prompts SET used = used + 1")  # the app counts its uses
    promote_from_local(live, "UPDATE prompts SET body = body || '!' WHERE id = 1")
    line = fails(live.run("sync", "staging", "production", "--force"), 3)
    assert f"{N:,} rows since promotion" in line, line
    assert "(columns it would change: body in 1, used in 300)" in line, line


# -- 3. prompts retired while user data points at them ---------------------------------------


def test_retired_prompts_name_the_rows_and_detach_when_told(live):
    promote_from_local(live, "DELETE FROM prompts WHERE id IN (5, 6, 7)")
    before = everything(live)
    line = fails(live.run("sync", "staging", "production", "--force"), 3)
    for word in (
        "public.coach_coachingsession.prompt_id",
        "3 rows",
        "id=5",
        "name=prompt 5",
        "--detach-references",
    ):
        assert word in line, line
    assert everything(live) == before
    ok(live.run("sync", "staging", "production", "--force", "--detach-references"))
    assert live.rows("production") == live.rows("staging")
    detached = live.sql(
        "production", "SELECT id FROM coach_coachingsession WHERE prompt_id IS NULL ORDER BY id"
    ).split()
    assert detached == ["5", "6", "7"]
    ok(live.run("rollback", "production", "--force"))
    assert everything(live)[:2] == before[:2]  # prompts and sessions as they were


def test_the_django_build_follows_the_models(live):
    live.sql(
        "production",
        "INSERT INTO coach_feedback (prompt_id, text) VALUES (8, 'great');"
        " INSERT INTO coach_bookmark (prompt_id) VALUES (9), (9);",
    )
    # SET_NULL: detached, as Django would have done
    promote_from_local(live, "DELETE FROM prompts WHERE id = 5")
    ok(deploy(live))
    assert (
        live.sql("production", "SELECT prompt_id FROM coach_coachingsession WHERE id = 5").strip()
        == ""
    )
    # PROTECT: refused, naming the row
    promote_from_local(live, "DELETE FROM prompts WHERE id = 8")
    before = everything(live)
    line = fails(deploy(live), 3, "public.coach_feedback.prompt_id", "PROTECT", "id=8")
    assert everything(live) == before
    promote_from_local(
        live,
        "INSERT INTO prompts (id, name, coach_state, prompt_type, version,"
        " body) VALUES (8, 'prompt 8', 'state8', 'system', 8,"
        " 'You are Dev Coach, take 8')",
    )
    # CASCADE: bookmarks are user data: refused unless --allow-cascade
    promote_from_local(live, "DELETE FROM prompts WHERE id = 9")
    line = fails(deploy(live), 3, "public.coach_bookmark.prompt_id", "--allow-cascade")
    ok(deploy(live, "--allow-cascade"))
    assert live.sql("production", "SELECT count(*) FROM coach_bookmark").strip() == "0"
    ok(live.run("rollback", "production", "--force"))
    assert live.sql("production", "SELECT count(*) FROM coach_bookmark").strip() == "2"
    assert "Traceback" not in line


# -- 4. schema skew, said right --------------------------------------------------------------


def test_staging_migrated_ahead_of_production(live):
    live.sql("staging", "ALTER TABLE prompts ADD COLUMN tone text")
    before = everything(live)
    fails(
        deploy(live),
        3,
        "staging is migrated ahead of production (columns tone)",
        "deploy the code with that migration",
        "PROMPT_SYNC_OPTIONAL=1",
    )
    assert everything(live) == before
    optional = deploy(live, PROMPT_SYNC_OPTIONAL="1")
    assert optional.returncode == 0 and "WARNING" in optional.stderr
    check = live.run("check", "staging", "production")
    assert "staging is migrated ahead of production (columns tone)" in check.stdout


def test_production_migrated_ahead_of_staging(live):
    live.sql("production", "ALTER TABLE prompts ADD COLUMN tone text")
    line = fails(live.run("sync", "staging", "production", "--force"), 3)
    assert "production is migrated ahead of staging (columns tone): migrate staging first" in line


# -- the ledger's edges ----------------------------------------------------------------------


def ledger(cluster, env: str) -> str:
    """The ledger's entries (key, hash, promotion), '' when there is none."""
    table = cluster.sql(
        env,
        "SELECT ledger_table FROM promptsync.ledgers WHERE table_name = 'public.prompts'"
        " AND to_regclass(ledger_table) IS NOT NULL",
    ).strip()
    if not table:
        return ""
    return cluster.sql(
        env,
        f"COPY (SELECT id, promptsync_hash, promptsync_promotion FROM {table}"
        " ORDER BY id) TO STDOUT",
    )


def test_a_first_sync_onto_a_target_without_a_ledger(cluster):
    cluster.sql(
        "staging",
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES"
        " (1, 'hand made', 'system', 'x'), (2, 'other', 'system', 'y')",
    )
    cluster.sql(
        "local",
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (1, 'from local', 'system', 'z')",
    )
    result = ok(cluster.run("sync", "local", "staging", "--force", "--allow-mass-delete"))
    assert "staging has no ledger (none yet)" in result.stderr
    entries = ledger(cluster, "staging").splitlines()
    assert [e.split("\t")[0] for e in entries] == ["1"] and entries[0].endswith("\t1")
    # from now on, an edit made in staging is told apart
    cluster.sql("staging", "UPDATE prompts SET body = 'edited' WHERE id = 1")
    cluster.sql("local", "UPDATE prompts SET body = 'newer' WHERE id = 1")
    fails(cluster.run("sync", "local", "staging", "--force"), 3, "id=1", "edited there")


def test_a_rollback_restores_the_ledger(live):
    before = ledger(live, "production")
    promote_from_local(
        live,
        "UPDATE prompts SET body = 'changed' WHERE id IN (3, 4);"
        " DELETE FROM prompts WHERE id = 300;"
        " INSERT INTO prompts (name, coach_state, prompt_type, body)"
        " VALUES ('new', 'n', 'system', 'b')",
    )
    ok(live.run("sync", "staging", "production", "--force", "--detach-references"))
    assert ledger(live, "production") != before
    ok(live.run("rollback", "production", "--force"))
    assert ledger(live, "production") == before


def test_a_ledger_dropped_by_hand_is_treated_as_none(live):
    live.sql("production", "UPDATE prompts SET body = 'hotfix' WHERE id = 17")
    table = live.sql("production", "SELECT ledger_table FROM promptsync.ledgers").strip()
    live.sql("production", f"DROP TABLE {table}")
    promote_from_local(live, "UPDATE prompts SET body = 'staged' WHERE id = 17")
    result = ok(live.run("sync", "staging", "production", "--force"))
    assert f"production has no ledger (its table {table} is gone)" in result.stderr
    assert ledger(live, "production")  # a new one, of what the table now holds
