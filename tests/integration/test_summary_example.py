"""The documented example of a workflow run's summary is produced here, not typed by hand: the
staging workflow's steps (what the push changes, the sync from the committed snapshot, then the
verify against it) run for real against the test servers with GITHUB_STEP_SUMMARY set, and what
they append must equal docs/summary-example.md (tests/unit/test_summary.py checks that
docs/usage.md quotes that file).
When the output changed, this test writes the new file and fails: review it, then commit it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "summary-example.md"
LOCAL = """
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) VALUES
 (1, 'greeting', 'intro', 'system', 2, 'Hello! What would you like to work on today?',
  '2026-01-05 09:00:00+00'),
 (2, 'one question', 'session', 'system', 1, 'Ask one question at a time.',
  '2026-01-05 09:00:00+00'),
 (3, 'reflect', 'session', 'user', 1, 'What did you learn from this?',
  '2026-01-06 09:00:00+00'),
 (5, 'farewell', 'outro', 'system', 1, 'See you next time.', '2026-01-06 09:00:00+00');
SELECT setval('prompts_id_seq', 5);
"""
STAGING = """
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) VALUES
 (1, 'greeting', 'intro', 'system', 1, 'Hello!', '2026-01-01 09:00:00+00'),
 (2, 'one question', 'session', 'system', 1, 'Ask one question at a time.',
  '2026-01-05 09:00:00+00'),
 (4, 'old farewell', 'outro', 'system', 1, 'Bye.', '2026-01-01 09:00:00+00');
"""


def test_a_workflow_runs_summary_matches_docs_summary_example(cluster):
    cluster.sql("local", LOCAL)
    cluster.sql("staging", STAGING)
    (cluster.tmp / "prompts").mkdir()
    exported = cluster.run("export", "local", "prompts/prompts.sql")
    assert exported.returncode == 0, exported.stderr

    step_summary = cluster.tmp / "step-summary.md"
    env = cluster.env(GITHUB_STEP_SUMMARY=str(step_summary))
    diffed = cluster.run("diff", "file:prompts/prompts.sql", "staging", env=env)
    assert diffed.returncode == 1, diffed.stderr  # it differs; the workflow goes on
    synced = cluster.run("sync", "file:prompts/prompts.sql", "staging", "--force", "--yes", env=env)
    assert synced.returncode == 0, synced.stderr
    verified = cluster.run("verify", "file:prompts/prompts.sql", "staging", env=env)
    assert verified.returncode == 0, verified.stderr
    produced = step_summary.read_text()
    assert produced.count("### promptsync ") == 3  # every step's summary landed
    assert "+Hello! What would you like to work on today?" in produced  # what changes
    assert "**synced**" in produced and "**all 2 match**" in produced

    committed = EXAMPLE.read_text() if EXAMPLE.exists() else ""
    if produced != committed:
        EXAMPLE.write_text(produced)
    assert produced == committed, f"{EXAMPLE} was out of date: rewritten; review and commit it"
