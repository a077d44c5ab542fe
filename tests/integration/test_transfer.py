"""Transfers in proportion to the change (docs/usage.md, "How the rows travel"): the source and
the target each list (primary key, row hash) once; only the rows that differ travel (delta), or
the whole dump when most do. Both paths copy hostile data exactly, say which one ran and how
many bytes moved, and re-read only the rows a writer changed before the lock."""

from __future__ import annotations

import json
import time

import pytest
from test_sync import HOSTILE, bulk, canonical_rows, ok, seed

from psqlpipe import PsqlPipe

pytestmark = pytest.mark.integration


def edit_target(cluster, env: str) -> None:
    """The target holds the source's hostile rows (copied from local), some changed, two
    missing, one extra: changed there outside promptsync, so a sync that overwrites them
    needs --discard-target-edits."""
    ok(cluster.run("sync", "local", env, "--force"))
    cluster.sql(
        env,
        "UPDATE prompts SET body = body || 'x' WHERE id IN (1, 4, 10, 150);"
        "UPDATE prompts SET temperature = 0.25 WHERE id = 9;"
        "UPDATE prompts SET tags = NULL WHERE id = 3;"
        "DELETE FROM prompts WHERE id IN (7, 120);"
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (999, 'extra', 'system', 'e');",
    )


@pytest.mark.parametrize("path", ["delta", "full"])
def test_both_paths_copy_hostile_data_exactly(cluster, path):
    seed(cluster, "local")
    edit_target(cluster, "staging")
    assert cluster.rows("staging") != cluster.rows("local")

    result = ok(
        cluster.run(
            "sync",
            "local",
            "staging",
            "--force",
            "--json",
            "--discard-target-edits",
            env=cluster.env(PROMPTSYNC_TRANSFER=path),
        )
    )

    assert cluster.rows("staging") == cluster.rows("local")
    assert canonical_rows(cluster, "staging") == canonical_rows(cluster, "local")
    doc = json.loads(result.stdout)
    assert doc["transfer"]["path"] == path
    assert doc["applied"]["public.prompts"] == {"inserted": 2, "updated": 6, "deleted": 1}
    if path == "delta":
        assert "staged 8 rows" in result.stderr, result.stderr
        assert "by delta transfer (changed rows only)" in result.stderr
        assert doc["staged"]["rows"] == 8  # 6 changed + 2 missing: nothing else travelled
    else:
        assert "staged 210 rows" in result.stderr and "by full dump" in result.stderr, result.stderr
    ok(cluster.run("verify", "local", "staging"))


def test_auto_ships_the_dump_for_a_first_sync_and_only_changed_rows_after(cluster):
    bulk(cluster, "local", 3000, tag="x" * 500)
    first = json.loads(ok(cluster.run("sync", "local", "staging", "--force", "--json")).stdout)
    assert first["transfer"]["path"] == "full"

    cluster.sql("local", "UPDATE prompts SET body = body || '!' WHERE id % 100 = 0")  # 1%
    result = ok(cluster.run("sync", "local", "staging", "--force", "--json"))
    doc = json.loads(result.stdout)

    assert doc["transfer"]["path"] == "delta"
    assert "30 of 3,000 rows to write (1.0%): only those travel" in result.stderr
    assert doc["staged"]["rows"] == 30
    # the list of row hashes plus 30 rows: a few percent of what the first sync moved
    assert doc["transfer"]["bytes"] < 0.1 * first["transfer"]["bytes"], doc["transfer"]
    assert cluster.rows("staging") == cluster.rows("local")


def test_most_rows_changed_ships_the_dump(cluster):
    bulk(cluster, "local", 400)
    bulk(cluster, "staging", 400, tag="old ")
    result = ok(cluster.run("sync", "local", "staging", "--force", "--json"))
    assert json.loads(result.stdout)["transfer"]["path"] == "full"
    assert "400 of 400 rows to write (100.0%): the full dump travels" in result.stderr
    assert cluster.rows("staging") == cluster.rows("local")


def test_unknown_transfer_setting_is_a_configuration_error(cluster):
    bulk(cluster, "local", 5)
    before = cluster.state("staging")
    result = cluster.run(
        "sync", "local", "staging", "--force", env=cluster.env(PROMPTSYNC_TRANSFER="fast")
    )
    assert result.returncode == 2, result.stderr
    assert "PROMPTSYNC_TRANSFER must be auto, delta or full, not 'fast'" in result.stderr
    assert cluster.state("staging") == before


@pytest.mark.parametrize("path", ["delta", "full"])
def test_dry_run_lists_the_same_rows_on_both_paths(cluster, path):
    seed(cluster, "local")
    edit_target(cluster, "staging")
    before = cluster.state("staging")
    result = cluster.run(
        "sync", "local", "staging", "--dry-run", env=cluster.env(PROMPTSYNC_TRANSFER=path)
    )
    assert result.returncode == 1, result.stderr
    assert cluster.state("staging") == before
    assert "public.prompts: 2 to add, 6 to change, 1 to remove" in result.stdout, result.stdout
    assert "  - id=999" in result.stdout
    # each row changed in staging outside promptsync says so, from staging's ledger
    notes = [line for line in result.stdout.splitlines() if "outside promptsync" in line]
    assert len(notes) == 9, result.stdout
    assert any(
        line.startswith("  - id=999")
        and "[created in staging outside promptsync since promotion 1]" in line
        for line in notes
    ), notes
    assert "a real sync would refuse: staging was changed outside promptsync" in result.stderr


@pytest.mark.parametrize("path", ["delta", "full"])
def test_rows_written_on_the_target_before_the_lock_are_read_again(cluster, path):
    """The target's rows are listed without blocking anyone; a writer that commits while the
    sync waits for its lock changes rows the list already holds. Only those are read again,
    and the target still ends exactly like the source."""
    bulk(cluster, "local", 200)
    bulk(cluster, "staging", 200)
    cluster.sql("local", "UPDATE prompts SET body = 'new' WHERE id IN (1, 2)")
    writer = PsqlPipe(cluster.servers["staging"], "admin")
    writer.query(
        "BEGIN; UPDATE prompts SET body = 'edited' WHERE id = 50;"
        "DELETE FROM prompts WHERE id = 60;"
        "INSERT INTO prompts (id, name, prompt_type, body) VALUES (500, 'n', 'system', 'b');"
    )
    sync = cluster.popen(
        "sync", "local", "staging", "--force", env=cluster.env(PROMPTSYNC_TRANSFER=path)
    )
    try:
        deadline = time.monotonic() + 30
        while "Lock" not in cluster.sql(
            "staging",
            "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'promptsync'",
        ):
            assert sync.poll() is None, sync.communicate()
            assert time.monotonic() < deadline, "the sync never waited for the writer"
            time.sleep(0.02)
        writer.query("COMMIT;")
        out, err = sync.communicate(timeout=60)
    finally:
        if sync.poll() is None:
            sync.kill()
        writer.kill()
    assert sync.returncode == 0, err
    assert "(2 listed rows updated or deleted, 2 rows new or updated)" in err, err
    assert cluster.rows("staging") == cluster.rows("local")


def test_hostile_data_through_the_delta_path_into_production(cluster):
    """staging -> production with a changed 1 MB row among hostile ones, through the delta
    path chosen by itself."""
    seed(cluster, "staging", HOSTILE)
    ok(cluster.run("sync", "staging", "production", "--force", "--yes"))
    cluster.sql("staging", "UPDATE prompts SET body = body || E'\\\\.\\n' WHERE id IN (2, 10)")
    result = ok(cluster.run("sync", "staging", "production", "--force", "--yes"))
    assert "only those travel" in result.stderr
    assert cluster.rows("production") == cluster.rows("staging")
