"""The ledger as a row-hash cache: a row whose version (xmin) is the one a promotion's ledger
recorded is not read or hashed again, on the target and on a source that was once a target
(staging, the production build's source). It is trusted only while provably current, and every
answer it gives must be the answer a full read gives: `verify` stays a full read, `verify
--fast` uses the ledgers and says how far."""

from __future__ import annotations

import json
import re

import pytest

from integration.test_schemas import ok

pytestmark = pytest.mark.integration

N = 3000  # past the sizes where the planner prefers other joins than at 20 or 300 rows
FILL = f"""
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, metadata, created_at)
SELECT i, 'prompt ' || i, 'state' || (i % 10), 'system', i, 'You are Dev Coach, take ' || i,
       jsonb_build_object('n', i), timestamptz '2026-01-01 00:00:00+00'
  FROM generate_series(1, {N}) AS i;
SELECT setval('prompts_id_seq', {N});
"""


@pytest.fixture
def promoted(cluster):
    """local holds N prompts; staging and production got them through promptsync, so each has
    a ledger that vouches for every row."""
    cluster.sql("local", FILL)
    ok(cluster.run("sync", "local", "staging", "--force"))
    ok(cluster.run("sync", "staging", "production", "--force"))
    return cluster


def vouched(result, env: str) -> str:
    (line,) = re.findall(rf"^\S+ {env} public\.prompts: (.*)$", result.stderr, re.M)
    return line


def verify_both(cluster, *envs: str):
    """verify --fast and the full verify; their tables of counts and checksums must agree."""
    fast = cluster.run("verify", "--fast", *envs)
    full = cluster.run("verify", *envs)
    assert fast.returncode == full.returncode, fast.stderr + full.stderr
    assert fast.stdout == full.stdout
    assert "vouched" not in full.stderr and "hashed" not in full.stderr  # a full read says none
    return fast


def test_verify_fast_says_what_each_ledger_vouched_for(promoted):
    fast = verify_both(promoted)
    assert fast.returncode == 0
    assert vouched(fast, "local") == "every row hashed: no ledger (none yet)"
    for env in ("staging", "production"):
        assert re.fullmatch(
            r"3,000 of 3,000 rows vouched for by the ledger of promotion \d+, 0 hashed",
            vouched(fast, env),
        ), fast.stderr
    data = json.loads(promoted.run("verify", "--fast", "--json").stdout)
    assert data["fast"] is True and data["differing"] == []


@pytest.mark.parametrize(
    "edit, hashed, differs",
    [
        ("UPDATE prompts SET body = 'hotfix' WHERE id IN (7, 2999)", 2, True),
        ("DELETE FROM prompts WHERE id = 8", 0, True),
        (
            "INSERT INTO prompts (id, name, prompt_type, body) VALUES (9001, 'x', 'system', 'y')",
            1,
            True,
        ),
        ("UPDATE prompts SET body = body WHERE id BETWEEN 1 AND 500", 500, False),  # same text
        ("UPDATE prompts SET metadata = '{\"n\": 11}' WHERE id = 10", 1, True),
        (
            "ALTER TABLE prompts ADD COLUMN extra int; ALTER TABLE prompts DROP COLUMN extra",
            0,
            False,
        ),
    ],
)
def test_rows_written_since_are_hashed_again_and_the_answer_is_a_full_reads(
    promoted, edit, hashed, differs
):
    promoted.sql("production", edit)
    fast = verify_both(promoted, "staging", "production")
    assert fast.returncode == (1 if differs else 0), fast.stderr
    rows = int(promoted.sql("production", "SELECT count(*) FROM prompts"))
    assert re.fullmatch(
        rf"{rows - hashed:,} of {rows:,} rows vouched for by the ledger of promotion \d+, "
        rf"{hashed:,} hashed",
        vouched(fast, "production"),
    ), fast.stderr


@pytest.mark.parametrize(
    "tamper, why",
    [
        (
            "UPDATE promptsync.ledgers SET checksum = '000000000000'",
            "its register row was not written by the promotion's own transaction",
        ),
        (
            "UPDATE promptsync.ledgers SET system_identifier = '42'",
            "it was written on another server (system identifier 42)",
        ),
        (
            "UPDATE promptsync.ledgers SET server_version = 90600",
            "it was written on PostgreSQL 9",
        ),
        ("LEDGER SET promptsync_hash = md5('forged') WHERE id = 5", "its rows were edited since"),
        ("DROP TABLE LEDGER", "is gone"),
        ("ALTER TABLE prompts ADD COLUMN extra int", "the table's columns changed"),
    ],
)
def test_a_ledger_not_provably_current_vouches_for_nothing_and_says_why(promoted, tamper, why):
    """Each of these leaves the rows as they were, or changes them as the ledger cannot see:
    every row is then hashed, the sync and verify --fast say why, and the answers are right."""
    table = promoted.sql("production", "SELECT ledger_table FROM promptsync.ledgers").strip()
    if tamper.startswith("LEDGER"):
        tamper = f"UPDATE {table} " + tamper.removeprefix("LEDGER ")
    promoted.sql("production", tamper.replace("LEDGER", table))
    if "ADD COLUMN" in tamper:
        promoted.sql("staging", "ALTER TABLE prompts ADD COLUMN extra int")
        promoted.sql("staging", "UPDATE prompts SET extra = 1 WHERE id = 1")
    # a row written again with the same text: a trusted ledger would now add up its entries
    # (a forged one among them) rather than take its recorded checksum
    promoted.sql("production", "UPDATE prompts SET body = body WHERE id = 6")
    fast = verify_both(promoted, "staging", "production")
    assert "every row hashed" in vouched(fast, "production") and why in vouched(
        fast, "production"
    ), fast.stderr
    result = promoted.run("sync", "staging", "production", "--force", "--discard-target-edits")
    ok(result)
    assert why in vouched(result, "production"), result.stderr
    assert promoted.rows("production") == promoted.rows("staging")
    assert ok(promoted.run("verify", "staging", "production")).returncode == 0


def test_a_no_op_deploy_reads_no_row_and_a_changed_source_row_still_ships(promoted):
    """Staging, the production build's source, uses its own ledger: a row edited there by hand
    is the one row it hashes, and it ships."""
    noop = ok(promoted.run("sync", "staging", "production", "--force", "--json"))
    assert "already matches" in noop.stderr
    for env in ("staging", "production"):
        assert vouched(noop, env).endswith(", 0 hashed"), noop.stderr
    assert json.loads(noop.stdout)["transfer"]["list_bytes"] == 0  # no row listed
    promoted.sql("staging", "UPDATE prompts SET body = 'edited in staging' WHERE id = 42")
    result = ok(promoted.run("sync", "staging", "production", "--force", "--json"))
    assert json.loads(result.stdout)["transfer"]["list_bytes"] > 0
    assert re.search(r"2,999 of 3,000 rows vouched .*, 1 hashed", vouched(result, "staging"))
    assert "0 inserted, 1 updated, 0 deleted" in result.stderr
    assert promoted.rows("production") == promoted.rows("staging")
    after = ok(promoted.run("verify", "--fast", "staging", "production"))
    expected = f"3,000 of 3,000 rows vouched for by the ledger of promotion {promotion(promoted)}"
    assert vouched(after, "production") == expected + ", 0 hashed"


def promotion(cluster) -> str:
    return cluster.sql("production", "SELECT promotion FROM promptsync.ledgers").strip()


def test_one_percent_through_the_cache_leaves_a_ledger_that_vouches_for_every_row(promoted):
    promoted.sql(
        "staging",
        "UPDATE prompts SET body = body || ' (revised)' WHERE id % 100 = 0;"
        "DELETE FROM prompts WHERE id BETWEEN 2991 AND 3000;"
        "INSERT INTO prompts (name, prompt_type, body) SELECT 'new ' || i, 'system', 'b'"
        "  FROM generate_series(1, 10) i",
    )
    promoted.sql("production", "UPDATE prompts SET body = body WHERE id BETWEEN 100 AND 110")
    result = ok(promoted.run("sync", "staging", "production", "--force"))
    assert "10 inserted, 29 updated, 10 deleted" in result.stderr
    assert promoted.rows("production") == promoted.rows("staging")
    fast = verify_both(promoted, "staging", "production")
    assert fast.returncode == 0
    assert re.search(r"3,000 of 3,000 rows vouched .*, 0 hashed", vouched(fast, "production"))


def test_a_rollback_leaves_answers_right(promoted):
    promoted.sql("staging", "UPDATE prompts SET body = 'next' WHERE id <= 30")
    ok(promoted.run("sync", "staging", "production", "--force"))
    ok(promoted.run("rollback", "production", "--force"))
    fast = verify_both(promoted, "local", "production")
    assert fast.returncode == 0, fast.stderr
