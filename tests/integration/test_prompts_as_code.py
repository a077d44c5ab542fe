"""Prompts as code (export and file: sources), environments by prefix, --json output and
progress lines: run against the real servers of the fixture."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

ROWS = r"""
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, metadata, tags,
                     temperature, created_at) VALUES
 (1, 'a', 's', 'system', 1, E'tab\there\nline\\.\r\n', '{"k": [1, 2]}', '{x,NULL,""}', 'NaN',
  '2026-01-01 00:00:00+05:30'),
 (2, 'b', '', 'user', 2, '', NULL, '{}', -1.5e-300, '2026-02-01 00:00:00+00'),
 (3, 'c', 'ü', 'user', 3, NULL, '"s"', NULL, 'Infinity', '2026-03-01 00:00:00+00');
SELECT setval('prompts_id_seq', 3);
"""


def export(cluster, env: str, path) -> None:
    result = cluster.run("export", env, str(path))
    assert result.returncode == 0, result.stderr


def test_export_is_deterministic_and_a_source_for_sync_verify_and_diff(cluster, tmp_path):
    cluster.sql("local", ROWS)
    first, second = tmp_path / "p1.sql", tmp_path / "prompts" / "p2.sql"
    export(cluster, "local", first)
    export(cluster, "local", second)
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert text.startswith("-- promptsync snapshot 1\n") and "-- rows 3" in text

    diff = cluster.run("diff", f"file:{first}", "staging")
    assert diff.returncode == 1 and "3 to add" in diff.stdout, diff.stderr
    sync = cluster.run("sync", f"file:{first}", "staging", "--force")
    assert sync.returncode == 0, sync.stderr
    assert cluster.rows("staging") == cluster.rows("local")
    verify = cluster.run("verify", f"file:{first}", "staging", "local")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # after a change in local the file no longer matches local
    cluster.sql("local", "UPDATE prompts SET body = 'x' WHERE id = 2")
    assert cluster.run("verify", f"file:{first}", "local").returncode == 1


@pytest.mark.parametrize(
    "damage",
    ["truncated", "edited row", "bad field count", "missing"],
)
def test_a_damaged_snapshot_is_refused_before_anything_changes(cluster, tmp_path, damage):
    cluster.sql("local", ROWS)
    path = tmp_path / "prompts.sql"
    export(cluster, "local", path)
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "edited row":
        path.write_text(text.replace("\tb\t", "\tB\t"))
    elif damage == "bad field count":
        path.write_text(text.replace("\tb\t\t", "\tb\t"))
    else:
        path.unlink()
    before = cluster.state("staging")
    result = cluster.run("sync", f"file:{path}", "staging", "--force")
    assert result.returncode == 4, result.stderr
    assert "snapshot" in result.stderr and result.stderr.count("error:") == 1
    assert cluster.state("staging") == before


def test_an_environment_by_prefix_works_like_staging(cluster):
    cluster.sql("staging", ROWS)
    prod = cluster.servers["production"]
    env = cluster.env(PREVIEW_42_DATABASE_URL=prod.url())
    result = cluster.run("sync", "staging", "preview-42", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert cluster.rows("production") == cluster.rows("staging")
    unknown = cluster.run("sync", "staging", "preview-43", "--force", env=env)
    assert unknown.returncode == 2 and "PREVIEW_43_DATABASE_URL" in unknown.stderr


def test_json_output_has_stable_keys(cluster):
    cluster.sql("local", ROWS)
    dry = cluster.run("sync", "local", "staging", "--dry-run", "--json")
    doc = json.loads(dry.stdout)
    assert dry.returncode == 1 and doc["exit_code"] == 1 and doc["result"] == "dry run"
    assert doc["plan"]["public.prompts"] == {"inserted": 3, "updated": 0, "deleted": 0}
    assert [r["key"] for r in doc["tables"]["public.prompts"]["added"]] == [["1"], ["2"], ["3"]]

    synced = json.loads(cluster.run("sync", "local", "staging", "--force", "--json").stdout)
    assert synced["result"] == "synced" and synced["ok"] is True
    assert synced["applied"]["public.prompts"]["inserted"] == 3
    assert synced["after"] == synced["source_fingerprint"]

    verify = json.loads(cluster.run("verify", "local", "staging", "--json").stdout)
    assert verify["differing"] == [] and verify["environments"] == ["local", "staging"]
    rows = verify["tables"]["public.prompts"]
    assert rows["local"] == rows["staging"] and rows["local"]["rows"] == 3

    history = json.loads(cluster.run("history", "staging", "--json").stdout)
    (promotion,) = history["promotions"]
    assert promotion["kind"] == "sync" and promotion["inserted"] == 3

    failed = cluster.run("sync", "local", "nowhere", "--json")
    doc = json.loads(failed.stdout)
    assert failed.returncode == 2 and doc["exit_code"] == 2 and "NOWHERE" in doc["error"]


def test_progress_lines_on_a_long_transfer_without_a_terminal(cluster):
    cluster.sql(
        "local",
        "INSERT INTO prompts (name, prompt_type, body) SELECT 'p' || i, 't', repeat(md5(i::text),"
        " 20) FROM generate_series(1, 20000) i",
    )
    env = cluster.env(PROMPTSYNC_PROGRESS_SECONDS="0.001")
    result = cluster.run("sync", "local", "staging", "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert "staged 20,000 rows" in result.stderr
    progress = [line for line in result.stderr.splitlines() if "local -> staging:" in line]
    assert progress, result.stderr
    assert all(" rows, " in line and "/s, " in line for line in progress)
