"""Reviewing a prompt change where code is reviewed: `diff` and a dry run show what changed
inside each column (the words of a prompt, the paths of its jsonb, old -> new otherwise), the
pull-request workflow's comment is what its steps produce (docs/review-example.md), and the plan
a reviewer approved is the only one a deploy applies (`--expect-plan`)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from integration.test_schemas import fails, ok, run_grants

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REVIEW = ROOT / ".github" / "workflows" / "prompt-review.yml"
EXAMPLE = ROOT / "docs" / "review-example.md"
REVIEWER_PASSWORD = "review-only-S3cret"
ROWS = """
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, metadata, tags,
                     temperature, created_at, updated_at) VALUES
 (1, 'greeting', 'intro', 'system', 1, E'Hello!\\tWelcome to Dev Coach.\\r\\nAsk one thing.',
  '{"model": "gpt-4o-mini", "max_tokens": 300, "stop": ["\\n\\nUser:"]}', ARRAY['a', 'b'], 0.3,
  '2026-01-01 09:00:00+00', '2026-01-02 09:00:00+00'),
 (2, 'unicode', 'état', 'user', 1, 'Ünïcödé 日本語 😀 stays', NULL, NULL, NULL,
  '2026-01-01 09:00:00+00', NULL),
 (3, 'megabyte', '', 'system', 1, repeat(E'é\\t\\\\日\\r\\n😀 ', 87382) || 'the end', NULL, NULL,
  NULL, '2026-01-01 09:00:00+00', NULL);
"""
EDITS = """
UPDATE prompts SET body = E'Hello!\\tWelcome to Dev Coach.\\nAsk one question.',
                   metadata = '{"model": "gpt-4o", "max_tokens": 400,
                                "stop": ["\\n\\nUser:", "AI:"]}',
                   tags = ARRAY['a', 'c'], temperature = 0.4, updated_at = '2026-03-01 09:00:00+00'
 WHERE id = 1;
UPDATE prompts SET body = replace(body, 'the end', 'THE END') WHERE id = 3;
INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) VALUES
 (4, 'new prompt', 'outro', 'system', 1, 'See you next time.', '2026-03-02 09:00:00+00');
"""


@pytest.fixture
def reviewed(cluster):
    """production holds the rows; staging holds them edited (what a merge would ship)."""
    for env in ("staging", "production"):
        cluster.sql(env, ROWS)
    cluster.sql("staging", EDITS)
    return cluster


def test_diff_shows_the_words_that_change_inside_each_column(reviewed):
    result = reviewed.run("diff", "staging", "production")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "public.prompts: 1 to add, 2 to change, 0 to remove" in out
    assert "-Ask one [-thing-]." in out and "+Ask one {+question+}." in out  # the words
    assert "-Hello!\tWelcome to Dev Coach.[-␍-]" in out  # a line ending that changed shows
    assert "      metadata:\n        + $.stop[1]" in out and "~ $.model" in out
    assert "~ $.max_tokens: 300 → 400" in out and '+ $.stop[1]: "AI:"' in out
    assert 'tags:\n        ~ $[1]: "b" → "c"' in out  # an array, by index
    assert "temperature: 0.3 → 0.4" in out
    assert "-😀 the end\n" in out and "+😀 THE END\n" in out  # the change in 1 MB of text
    assert len(out) < 20_000  # the megabyte is cut to its change, never printed whole
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)  # no raw control characters
    assert re.search(r"^plan id [0-9a-f]{16}$", out, re.M)
    stat = reviewed.run("diff", "staging", "production", "--stat")
    assert "changed: body, tags, metadata, updated_at, temperature" in stat.stdout
    assert "[-thing-]" not in stat.stdout
    context = "       😀 é\t\\日␍"  # an unchanged line around the change in row 3
    assert out.count(context) == 3
    narrow = reviewed.run("diff", "staging", "production", "--context", "0").stdout
    assert narrow.count(context) == 0 and "+😀 THE END" in narrow


def test_a_dry_run_lists_the_same_changes_and_the_same_plan_id(reviewed):
    diffed = reviewed.run("diff", "staging", "production")
    (plan,) = re.findall(r"^plan id ([0-9a-f]{16})$", diffed.stdout, re.M)
    dry = reviewed.run("sync", "staging", "production", "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "+Ask one {+question+}." in dry.stdout
    assert f"plan id {plan}" in dry.stderr


def test_only_the_reviewed_plan_ships(reviewed):
    dry = reviewed.run("sync", "staging", "production", "--dry-run")
    (plan,) = re.findall(r"plan id ([0-9a-f]{16})", dry.stderr)
    # staging moved on after the review: refused, production unchanged
    reviewed.sql("staging", "UPDATE prompts SET body = 'sneaked in' WHERE id = 2")
    before = reviewed.state("production")
    line = fails(
        reviewed.run("sync", "staging", "production", "--force", "--expect-plan", plan),
        3,
        f"expected {plan}",
        "not the plan that was reviewed",
        "~ id=2",
    )
    assert "1 inserted, 3 updated, 0 deleted" in line
    assert reviewed.state("production") == before
    reviewed.sql("staging", "UPDATE prompts SET body = 'Ünïcödé 日本語 😀 stays' WHERE id = 2")
    # production edited by hand after the review: refused as well
    reviewed.sql("production", "UPDATE prompts SET temperature = 0.5 WHERE id = 2")
    env = reviewed.env(PROMPTSYNC_EXPECT_PLAN=plan, PROMPTSYNC_DISCARD_TARGET_EDITS="1")
    fails(reviewed.run("sync", "staging", "production", "--force", env=env), 3, f"expected {plan}")
    reviewed.sql("production", "UPDATE prompts SET temperature = NULL WHERE id = 2")
    # the reviewed plan itself goes through, given by the flag or the variable
    ok(reviewed.run("sync", "staging", "production", "--force", env=env))
    assert reviewed.rows("production") == reviewed.rows("staging")


# -- the pull-request workflow ---------------------------------------------------------------


def review_steps() -> list[dict]:
    data = yaml.safe_load(REVIEW.read_text())
    (job,) = data["jobs"].values()
    return job["steps"]


def review_command() -> list[str]:
    """The promptsync command the workflow's diff step runs, as argv (without bin/promptsync)."""
    (step,) = [s for s in review_steps() if s.get("id") == "diff"]
    (line,) = [
        line.strip().rstrip("\\").strip()
        for line in step["run"].splitlines()
        if line.strip().startswith("bin/promptsync ")
    ]
    continued = step["run"].split(line, 1)[1].splitlines()[1].split(">")[0]
    return shlex.split(line)[1:] + shlex.split(continued)


def test_the_review_comment_is_what_the_workflows_steps_produce(reviewed, tmp_path):
    """With a role that may only read (sql/grants_readonly.sql) on both databases, the
    workflow's diff step writes the comment; it must equal docs/review-example.md."""
    for env in ("staging", "production"):
        reviewed.sql(
            env,
            "DROP ROLE IF EXISTS prompt_reviewer;"
            f" CREATE ROLE prompt_reviewer LOGIN PASSWORD '{REVIEWER_PASSWORD}';",
        )
        run_grants(reviewed, env, "prompt_reviewer", "grants_readonly.sql")
    argv = review_command()
    assert argv[:3] == ["diff", "staging", "production"] and "--format" in argv
    staging = reviewed.servers["staging"]
    env = reviewed.env(
        STAGING_DATABASE_URL=(
            f"postgresql://prompt_reviewer:{REVIEWER_PASSWORD}@{staging.host}:{staging.port}/"
            f"{staging.dbname}"
        ),
        PROD_DB_USER="prompt_reviewer",
        PROD_DB_PASSWORD=REVIEWER_PASSWORD,
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
    )
    result = reviewed.run(*argv, env=env)
    assert result.returncode == 1, result.stderr  # differences: the step goes on
    comment = "<!-- promptsync prompt-review -->\n" + result.stdout
    assert "+Ask one {+question+}." in comment and "Plan id `" in comment
    assert (tmp_path / "summary.md").read_text().rstrip() == result.stdout.rstrip()  # the page
    for env_name in ("staging", "production"):  # the reviewer really can only read
        granted = reviewed.sql(
            env_name,
            "SELECT has_table_privilege('prompt_reviewer', 'public.prompts', 'UPDATE'),"
            " (SELECT setconfig FROM pg_db_role_setting WHERE setrole ="
            " 'prompt_reviewer'::regrole)",
        ).strip()
        assert granted == "f|{default_transaction_read_only=on}"
    committed = EXAMPLE.read_text() if EXAMPLE.exists() else ""
    if comment != committed:
        EXAMPLE.write_text(comment)
    assert comment == committed, f"{EXAMPLE} was out of date: rewritten; review and commit it"
