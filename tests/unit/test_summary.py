"""The Markdown summary and the one-line outcome (promptsync.summary) from --json documents,
where promptsync.api publishes them (stdout, GITHUB_STEP_SUMMARY, PROMPTSYNC_JSON_FILE), that
promptsync never imports Django, and that docs/usage.md shows the example the tests produced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from promptsync import api, output, summary
from promptsync.errors import EXIT_DIFFERENCES, Refused

ROOT = Path(__file__).resolve().parents[2]
T = "public.prompts"
OLD = {"rows": 1, "checksum": "a" * 32}
NEW = {"rows": 3, "checksum": "b" * 32}

SYNCED = {
    "command": "sync",
    "exit_code": 0,
    "ok": True,
    "source": "local",
    "target": "staging",
    "result": "synced",
    "before": {T: OLD},
    "source_fingerprint": {T: NEW},
    "plan": {T: {"inserted": 2, "updated": 1, "deleted": 0}},
    "applied": {T: {"inserted": 2, "updated": 1, "deleted": 0}},
    "after": {T: NEW},
    "staged": {"rows": 3, "bytes": 100, "seconds": 0.1},
}


def test_a_sync_as_markdown_has_the_outcome_and_the_plan_table():
    text = summary.markdown(SYNCED)
    lines = text.splitlines()
    assert lines[0] == "### promptsync sync: local → staging"
    assert lines[2] == "✅ **synced**: staging now matches local."
    assert "| table | local | staging before | insert | update | delete | staging after |" in lines
    b, a = "3 rows `bbbbbbbbbbbb`", "1 row `aaaaaaaaaaaa`"
    assert f"| {T} | {b} | {a} | 2 | 1 | 0 | {b} |" in lines
    assert text.endswith("|\n")
    assert "0.1" not in text  # no timings: the same sync gives the same summary


def test_a_dry_run_lists_the_rows_and_a_refusal_it_would_meet():
    doc = {
        **SYNCED,
        "exit_code": 1,
        "ok": False,
        "result": "dry run",
        "would_refuse": "the sync would delete 3 of 4 rows",
        "tables": {
            T: {
                "key_columns": ["id"],
                "added": [{"key": ["7"], "ident": {"name": "new <b>|x"}}],
                "changed": [{"key": ["1"], "ident": {"name": "greeting"}, "columns": ["body"]}],
                "removed": [{"key": [str(i)], "ident": {}} for i in range(30)],
            }
        },
    }
    del doc["applied"], doc["after"]
    text = summary.markdown(doc)
    assert "⚠️ **dry run**: staging differs from local; nothing was changed." in text
    assert "⛔ a real sync would refuse: the sync would delete 3 of 4 rows" in text
    assert f"#### {T}: 1 to add, 1 to change, 30 to remove" in text
    assert "- `+` 7 name=new &lt;b&gt;\\|x" in text  # no HTML, no column break
    assert "- `~` 1 name=greeting (changed: body)" in text
    assert "- `-` … and 10 more" in text
    assert f"| {T} | 3 rows `bbbbbbbbbbbb` | 1 row `aaaaaaaaaaaa` | 2 | 1 | 0 | – |" in text


def test_a_refusal_says_why_and_shows_both_sides():
    doc = {
        "command": "sync",
        "exit_code": 3,
        "ok": False,
        "source": "local",
        "target": "staging",
        "before": {T: OLD},
        "source_fingerprint": {T: NEW},
        "error": "staging differs from local; refusing to overwrite it without --force",
    }
    text = summary.markdown(doc)
    assert "⛔ **refused for safety** (exit 3): staging differs from local; refusing" in text
    assert f"| {T} | 3 rows `bbbbbbbbbbbb` | 1 row `aaaaaaaaaaaa` | – | – | – | – |" in text
    assert summary.line(doc) == (
        "prompts local -> staging: not synced, refused for safety (exit 3): staging differs "
        f"from local; refusing to overwrite it without --force; staging still 1 row, checksum "
        f"{'a' * 32}"
    )


def test_an_error_before_anything_is_known_is_one_sentence():
    doc = {"command": "sync", "exit_code": 2, "ok": False, "error": "staging is not\nconfigured"}
    assert summary.markdown(doc) == (
        "### promptsync sync\n\n❌ **usage or configuration error** (exit 2): staging is not "
        "configured\n"
    )
    assert summary.line(doc) == (
        "prompts ? -> ?: not synced, usage or configuration error (exit 2): staging is not "
        "configured"
    )


def test_verify_marks_the_environments_that_differ():
    doc = {
        "command": "verify",
        "exit_code": 1,
        "ok": False,
        "environments": ["local", "staging"],
        "tables": {T: {"local": NEW, "staging": OLD}},
        "differing": ["staging"],
    }
    lines = summary.markdown(doc).splitlines()
    assert lines[2] == "⚠️ **differences**: staging differs from local."
    assert lines[4:] == [
        "| table | local | staging ⚠️ |",
        "|---|---|---|",
        f"| {T} | 3 rows `bbbbbbbbbbbb` | 1 row `aaaaaaaaaaaa` |",
    ]
    assert summary.line(doc) == (
        f"prompts: staging differs: local 3 rows, checksum {'b' * 32}; staging 1 row, "
        f"checksum {'a' * 32}"
    )
    same = {**doc, "exit_code": 0, "differing": [], "tables": {T: {"local": NEW, "staging": NEW}}}
    assert "✅ **all 2 match**: local, staging." in summary.markdown(same)
    assert "--fast" not in summary.markdown(same)
    assert summary.markdown({**same, "fast": True}).endswith(summary.FAST_NOTE + "\n")


def test_the_one_line_of_a_sync_has_the_counts_and_the_checksum_after():
    assert summary.line(SYNCED) == (
        "prompts local -> staging: 2 inserted, 1 updated, 0 deleted; staging now 3 rows, "
        f"checksum {'b' * 32}"
    )
    in_sync = {**SYNCED, "result": "in sync", "before": {T: NEW}}
    assert summary.line(in_sync) == (
        f"prompts local -> staging: already in sync; staging 3 rows, checksum {'b' * 32}"
    )
    failed = {"command": "sync", "exit_code": 4, "source": "staging", "target": "production"}
    assert summary.line({**failed, "error": "boom"}) == (
        "prompts staging -> production: not synced, failed (exit 4): boom"
    )


def test_summary_renders_a_saved_document(tmp_path, capsys):
    saved = tmp_path / "doc.json"
    saved.write_text(json.dumps(SYNCED))
    assert summary.main(["line", str(saved)]) == 0
    assert capsys.readouterr().out == summary.line(SYNCED) + "\n"
    assert summary.main(["markdown", str(saved)]) == 0
    assert capsys.readouterr().out == summary.markdown(SYNCED)
    assert summary.main(["line", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.fixture
def unconfigured(monkeypatch, tmp_path):
    """No environment configured, no .env: nothing can connect."""
    for name in list(os.environ):
        if name.startswith(("LOCAL_DB", "STAGING_", "PROD_", "PG", "PROMPTSYNC_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROMPTSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    return tmp_path


def test_api_appends_each_summary_to_github_step_summary(unconfigured, monkeypatch, capsys):
    step = unconfigured / "step-summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))

    def drift(settings):
        output.put("environments", ["local", "staging"])
        output.put("tables", {T: {"local": NEW, "staging": OLD}})
        output.put("differing", ["staging"])
        return EXIT_DIFFERENCES

    assert api.run("verify", drift) == 1
    assert api.verify() == 2  # nothing configured
    text = step.read_text()
    assert text.startswith("earlier step\n### promptsync verify\n")
    assert text.count("### promptsync verify") == 2
    assert "staging differs from local" in text and "no environment is configured" in text
    out = capsys.readouterr().out
    assert out == ""  # text mode: no Markdown on stdout

    assert api.run("history", lambda settings: 0) == 0  # not a summarized command
    assert step.read_text() == text


def test_api_markdown_on_stdout_and_the_json_file(unconfigured, monkeypatch, capsys):
    saved = unconfigured / "report.json"
    monkeypatch.setenv("PROMPTSYNC_JSON_FILE", str(saved))

    def refused(settings):
        output.put("source", "local")
        output.put("target", "staging")
        raise Refused("refusing to overwrite it without --force")

    assert api.run("sync", refused, fmt="markdown") == 3
    captured = capsys.readouterr()
    assert captured.out.startswith("### promptsync sync: local → staging\n")
    assert "error: refusing to overwrite" in captured.err
    doc = json.loads(saved.read_text())
    assert doc == {
        "command": "sync",
        "exit_code": 3,
        "ok": False,
        "source": "local",
        "target": "staging",
        "error": "refusing to overwrite it without --force",
    }
    assert captured.out == summary.markdown(doc)


def test_a_summary_that_cannot_be_written_does_not_change_the_exit_code(
    unconfigured, monkeypatch, capsys
):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(unconfigured))  # a directory
    assert api.run("verify", lambda settings: 0) == 0
    assert "GITHUB_STEP_SUMMARY: cannot write" in capsys.readouterr().err


def test_an_unknown_format_is_a_usage_error(unconfigured, capsys):
    assert api.run("verify", lambda settings: 0, fmt="yaml") == 2
    assert "--format: 'yaml' is not one of text, json, markdown" in capsys.readouterr().err


def test_promptsync_and_its_cli_never_import_django(tmp_path):
    """Django is an optional extra: only the promptsync.django app may import it."""
    script = (
        "import sys, pkgutil, importlib, promptsync\n"
        "for m in pkgutil.iter_modules(promptsync.__path__):\n"
        "    if m.name != '__main__':\n"
        "        importlib.import_module('promptsync.' + m.name)\n"
        "from promptsync.cli import main\n"
        "code = main(['verify'])\n"
        "print(code, sorted(n for n in sys.modules if n == 'django' or n.startswith('django.')))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PROMPTSYNC_ENV_FILE": str(tmp_path / "absent.env"),
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "2 []\n", result.stdout + result.stderr
    import django  # noqa: F401  the check above means something only where Django is installed


EXAMPLE = ROOT / "docs" / "summary-example.md"
WORKFLOW = ROOT / ".github" / "workflows" / "sync-staging.yml"
START, END = "<!-- summary-example: start -->", "<!-- summary-example: end -->"


def test_the_usage_page_shows_the_summary_example_the_tests_produced():
    """tests/integration/test_summary_example.py writes docs/summary-example.md from a real
    sync and verify; docs/usage.md quotes it verbatim between the markers."""
    usage = (ROOT / "docs" / "usage.md").read_text()
    assert usage.count(START) == 1 and usage.count(END) == 1
    block = usage.split(START)[1].split(END)[0].strip("\n")
    quoted = "\n".join(f"> {line}".rstrip() for line in EXAMPLE.read_text().splitlines())
    assert block == quoted


def test_the_staging_workflow_shows_every_steps_summary():
    """Actions sets GITHUB_STEP_SUMMARY for every step; no step may hide it, the diff's exit 1
    (differences) does not stop the job, and verify runs (and summarizes) even after a failed
    sync."""
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    steps = [s for s in job["steps"] if "bin/promptsync" in s.get("run", "")]
    assert [s["run"].split()[1] for s in steps] == ["check", "diff", "sync", "verify"]
    assert all("GITHUB_STEP_SUMMARY" not in s.get("env", {}) for s in steps)
    assert steps[1]["run"].endswith("|| [ $? -eq 1 ]")
    assert "if" not in steps[2]
    assert steps[3]["if"] == "${{ !cancelled() }}"


def changed_row(key: int, body_old: str, body_new: str, when: str) -> dict:
    """A listed changed row carrying its values, as sql/diff_values.sql gives them."""
    return {
        "key": [str(key)],
        "ident": {"name": f"prompt {key}"},
        "columns": ["body", "metadata", "updated_at"],
        "values": {
            "old": {
                "body": json.dumps([body_old]),
                "metadata": json.dumps([{"max_tokens": 300}]),
                "updated_at": json.dumps(["2026-01-01 00:00:00+00"]),
            },
            "new": {
                "body": json.dumps([body_new]),
                "metadata": json.dumps([{"max_tokens": 400}]),
                "updated_at": json.dumps([when]),
            },
        },
    }


KINDS = {"body": "text", "metadata": "json", "updated_at": "scalar"}


def test_a_dry_run_shows_what_changed_inside_each_column_newest_first():
    doc = {
        **SYNCED,
        "exit_code": 1,
        "result": "dry run",
        "plan_id": "0123456789abcdef",
        "tables": {
            T: {
                "key_columns": ["id"],
                "kinds": KINDS,
                "added": [],
                "changed": [
                    changed_row(1, "Be brief.\nBe kind.", "Be brief.\nBe warm.", "2026-03-01"),
                    changed_row(2, "Old <b>", "New ``` fence", "2026-05-01"),
                ],
                "removed": [],
            }
        },
    }
    del doc["applied"], doc["after"]
    text = summary.markdown(doc)
    assert text.index("id=2 name=prompt 2") < text.index("id=1 name=prompt 1")  # newest first
    assert "-Be [-kind-]." in text and "+Be {+warm+}." in text
    assert "~ $.max_tokens: 300 → 400" in text
    assert "````diff" in text  # a fence longer than the ``` inside the value
    assert "Plan id `0123456789abcdef`" in text and "--expect-plan 0123456789abcdef" in text


def test_5000_changed_rows_stay_under_githubs_limit_with_a_count_of_the_rest():
    body = "You are Dev Coach. " * 100
    rows = [
        changed_row(i, body + "old", body + f"new {i}", f"2026-01-{1 + i % 28:02d}")
        for i in range(5000)
    ]
    doc = {
        "command": "diff",
        "exit_code": 1,
        "source": "staging",
        "target": "production",
        "plan_id": "0123456789abcdef",
        "tables": {
            T: {"key_columns": ["id"], "kinds": KINDS, "added": [], "changed": rows, "removed": []}
        },
    }
    text = summary.markdown(doc)
    assert len(text.encode()) < 1024 * 1024
    shown = text.count("<details>")
    assert 100 < shown < 5000
    assert text.rstrip().endswith(f"{5000 - shown:,} more rows not shown")
    assert "production differs from staging" in text
