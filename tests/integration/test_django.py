"""The Django management commands (promptsync.django), run the way the team runs them: a real
`manage.py` of a minimal Django project (tests/django_project) as a process, with the three
servers of the `cluster` fixture configured in its environment. Each outcome is checked by
manage.py's exit status, its output and the target's content."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

MANAGE = Path(__file__).resolve().parents[1] / "django_project" / "manage.py"
TABLE = "public.prompts"
PROMPTS = """
INSERT INTO prompts (id, name, coach_state, prompt_type, body, created_at) VALUES
 (1, 'greeting', 'intro', 'system', E'Hello!\\tWelcome', '2026-01-01 00:00:00+00'),
 (2, 'coach', 'session', 'user', 'Ask one question at a time.', '2026-01-01 00:00:00+00'),
 (3, 'farewell', 'outro', 'system', 'Bye', '2026-01-01 00:00:00+00');
SELECT setval('prompts_id_seq', 3);
"""
OLD = """
INSERT INTO prompts (id, name, coach_state, prompt_type, body, created_at) VALUES
 (1, 'greeting', 'intro', 'system', 'Hello (old)', '2025-01-01 00:00:00+00');
"""


def manage(cluster, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGS` with the cluster's environment, no terminal (as on Render)."""
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=cluster.env(**env),
        cwd=cluster.tmp,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


def command_error(result: subprocess.CompletedProcess[str]) -> str:
    """Django's last line for a failed command; no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()[-1]


@pytest.fixture
def seeded(cluster):
    cluster.sql("local", PROMPTS)
    cluster.sql("staging", OLD)
    cluster.sql("production", OLD)
    return cluster


def test_dry_run_shows_the_plan_changes_nothing_and_exits_1(seeded):
    before = seeded.state("staging")
    result = manage(seeded, "copy_prompts_to_staging", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert f"{TABLE}\t2\t1\t0" in result.stdout.splitlines()
    assert "dry run: nothing was changed" in result.stderr
    assert (
        command_error(result) == "CommandError: copy_prompts_to_staging: differences found (exit 1)"
    )
    assert seeded.state("staging") == before


def test_without_force_it_refuses_with_exit_3(seeded):
    before = seeded.state("staging")
    result = manage(seeded, "copy_prompts_to_staging")
    assert result.returncode == 3, result.stderr
    assert "error: staging differs from local; refusing to overwrite it without --force" in (
        result.stderr
    )
    assert (
        command_error(result)
        == "CommandError: copy_prompts_to_staging: refused for safety (exit 3)"
    )
    assert result.stdout == ""
    assert seeded.state("staging") == before


def test_force_syncs_staging_then_production_and_verify_agrees(seeded):
    result = manage(seeded, "copy_prompts_to_staging", "--force")
    assert result.returncode == 0, result.stderr
    assert "Continue?" not in result.stderr  # no terminal: --force proceeds
    assert "staging now matches local" in result.stderr
    assert seeded.rows("staging") == seeded.rows("local")

    result = manage(seeded, "copy_prompts_to_production", "--force")
    assert result.returncode == 0, result.stderr
    assert seeded.rows("production") == seeded.rows("staging")
    assert seeded.rows("production") != ""

    result = manage(seeded, "verify_prompts")
    assert result.returncode == 0, result.stderr
    assert "all 3 environments match" in result.stderr
    (header, row) = result.stdout.splitlines()
    assert header.split() == ["table", "local", "staging", "production"]
    assert row.startswith(TABLE) and row.count("3 rows") == 3

    again = manage(seeded, "copy_prompts_to_production", "--force")
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_verify_prompts_exit_status_for_drift_and_a_bad_environment(seeded):
    drift = manage(seeded, "verify_prompts", "--format", "json")
    assert drift.returncode == 1, drift.stderr
    doc = json.loads(drift.stdout)
    assert doc["command"] == "verify" and doc["differing"] == ["production", "staging"]
    assert command_error(drift) == "CommandError: verify_prompts: differences found (exit 1)"

    two = manage(seeded, "verify_prompts", "staging", "production")
    assert two.returncode == 0, two.stderr

    unknown = manage(seeded, "verify_prompts", "nowhere")
    assert unknown.returncode == 2
    assert "NOWHERE_DATABASE_URL" in unknown.stderr
    assert command_error(unknown).endswith("usage or configuration error (exit 2)")

    bad_option = manage(seeded, "verify_prompts", "--format", "yaml")
    assert bad_option.returncode == 2 and "invalid choice" in bad_option.stderr


def test_a_failed_sync_exits_4_and_leaves_production_as_it_was(seeded):
    before = seeded.state("production")
    result = manage(seeded, "copy_prompts_to_production", "--force", PROD_DB_PASSWORD="wrong")
    assert result.returncode == 4
    assert "authentication failed" in result.stderr
    assert "wrong" not in result.stderr
    assert command_error(result) == "CommandError: copy_prompts_to_production: failed (exit 4)"
    assert seeded.state("production") == before


def test_prompt_sync_optional_turns_a_failed_production_sync_into_a_warning(seeded):
    before = seeded.state("production")
    result = manage(
        seeded,
        "copy_prompts_to_production",
        "--force",
        PROD_DB_PASSWORD="wrong",
        PROMPT_SYNC_OPTIONAL="1",
    )
    assert result.returncode == 0, result.stderr
    assert "authentication failed" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("WARNING: the prompt sync FAILED (exit 4)")
    assert seeded.state("production") == before

    staging = manage(seeded, "copy_prompts_to_staging", PROMPT_SYNC_OPTIONAL="1")
    assert staging.returncode == 3  # only the production build's sync may be optional


def test_configuration_errors_exit_2_before_anything_changes(seeded):
    before = seeded.state("staging")
    result = manage(seeded, "copy_prompts_to_staging", "--force", STAGING_DATABASE_URL="")
    assert result.returncode == 2
    assert "set STAGING_DB_NAME" in result.stderr or "STAGING_DATABASE_URL" in result.stderr
    assert seeded.state("staging") == before


def test_verbosity_0_keeps_only_errors_and_data(seeded):
    result = manage(seeded, "copy_prompts_to_staging", "--dry-run", "-v", "0")
    assert result.returncode == 1
    assert f"{TABLE}\t2\t1\t0" in result.stdout.splitlines()
    lines = result.stderr.splitlines()
    assert lines == [lines[-1]] and lines[-1].startswith("CommandError:"), result.stderr


def test_markdown_for_a_pull_request_comment_and_the_step_summary(seeded):
    summary = seeded.tmp / "step-summary.md"
    result = manage(
        seeded,
        "copy_prompts_to_staging",
        "--force",
        "--format",
        "markdown",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### promptsync sync: local → staging\n")
    assert "**synced**: staging now matches local." in result.stdout
    assert f"| {TABLE} | 3 rows `" in result.stdout
    assert summary.read_text() == result.stdout + "\n"


def run_on_terminal(cluster, args: list[str], answer: bytes) -> tuple[int, str]:
    """manage.py with stdin and stderr on a pseudo-terminal; answers the confirmation."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(MANAGE), *args],
        env=cluster.env(),
        cwd=cluster.tmp,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.DEVNULL,
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
                if not answered and b"[y/N]" in seen:
                    os.write(master, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, seen.decode("utf-8", "replace")


def test_on_a_terminal_it_asks_and_no_means_no(seeded):
    before = seeded.state("staging")
    code, seen = run_on_terminal(seeded, ["copy_prompts_to_staging", "--force"], b"n\n")
    assert code == 3, seen
    assert "This will OVERWRITE all prompts in staging. Continue? [y/N]" in seen
    assert "not confirmed" in seen
    assert seeded.state("staging") == before

    code, seen = run_on_terminal(seeded, ["copy_prompts_to_staging", "--force"], b"y\n")
    assert code == 0, seen
    assert seeded.rows("staging") == seeded.rows("local")
