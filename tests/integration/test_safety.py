"""The safety net: diff, undo data and rollback, promotion history, one promotion at a time per
target, guards, schema drift, several tables in one promotion, table names from the user.

Every test runs the real CLI against the `cluster` fixture's three PostgreSQL servers and
checks the exit code, the one-line stderr message, stdout, and the exact state before/after.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from promptsync import __version__

pytestmark = pytest.mark.integration

ENVS = ("local", "staging", "production")
T0 = "2024-01-01 00:00:00+00"
CANONICAL_COLS = (
    "id, name, coach_state, prompt_type, version, body, metadata, tags, temperature, "
    "is_active, created_at, updated_at"
)
# each column as text, in the table's order: the undo data of earlier promptsync versions
TEXT_COLS = ", ".join(f"u.{c.strip()}::text" for c in CANONICAL_COLS.split(","))
# Variables that change who history says promoted (the test process may run under CI).
ACTOR_VARS = (
    "RENDER_SERVICE_NAME",
    "RENDER_GIT_COMMIT",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_SHA",
    "CI",
)


# -- helpers ---------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error: ...` line on stderr (exactly one, no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if " error: " in f" {line}"]
    assert len(lines) == 1, result.stderr
    return lines[0]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    assert " error: " not in f" {result.stderr}", result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], *words: str, code: int = 3) -> str:
    """Exit `code`, nothing on stdout, one error line holding every one of `words`."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stdout == ""
    line = error_line(result)
    for word in words:
        assert word in line, line
    return line


def put(cluster, env: str, *ids: int, body: str = "body") -> None:
    """Prompts with explicit ids and fixed values: the same call writes the same bytes
    anywhere."""
    cluster.sql(
        env,
        "INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) "
        f"SELECT i, 'p' || i, 'intro', 'system', 1, '{body} ' || i, timestamptz '{T0}' "
        f"FROM unnest(ARRAY[{', '.join(map(str, ids))}]::bigint[]) AS i",
    )


def put_range(cluster, env: str, n: int) -> None:
    cluster.sql(
        env,
        "INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) "
        f"SELECT i, 'p' || i, 'intro', 'system', 1, 'body ' || i, timestamptz '{T0}' "
        f"FROM generate_series(1, {n}) AS i",
    )


def value(cluster, env: str, sql: str) -> str:
    return cluster.sql(env, sql).strip()


def records(cluster, env: str) -> str:
    """promptsync's own tables on env, exactly ('' when promptsync never promoted there)."""
    if value(cluster, env, "SELECT to_regnamespace('promptsync') IS NOT NULL") != "t":
        return ""
    return cluster.sql(
        env,
        "COPY (SELECT * FROM promptsync.promotions ORDER BY id) TO STDOUT;"
        "COPY (SELECT * FROM promptsync.promotion_tables ORDER BY 1, 2) TO STDOUT;",
    ) + cluster.undo(env)


def table_rows(cluster, env: str, table: str) -> str:
    if value(cluster, env, f"SELECT to_regclass('{table}') IS NOT NULL") != "t":
        return "(no table)"
    return cluster.rows(env, table)


def everything(cluster, *extra_tables: str) -> dict:
    """Every environment's prompts (content + id sequence), promptsync's records there, and
    the content of `extra_tables`."""
    return {
        env: (
            cluster.state(env),
            records(cluster, env),
            [table_rows(cluster, env, t) for t in extra_tables],
        )
        for env in ENVS
    }


def promotion_ids(cluster, env: str) -> list[str]:
    return cluster.sql(env, "SELECT id FROM promptsync.promotions ORDER BY id").split()


def short_checksum(cluster, env: str, table: str = "public.prompts", run_env=None) -> str:
    """The 12-digit checksum `promptsync verify ENV` shows for the table."""
    result = ok(cluster.run("verify", env, env=run_env))
    match = re.search(rf"^{re.escape(table)}\s+[\d,]+ rows  ([0-9a-f]{{12}})", result.stdout, re.M)
    assert match, result.stdout
    return match.group(1)


def clean_env(cluster, **overrides: str) -> dict[str, str]:
    """The cluster's environment without CI/Render/GitHub variables, plus overrides."""
    env = cluster.env()
    for name in ACTOR_VARS:
        env.pop(name, None)
    env.update(overrides)
    return env


def history_rows(result: subprocess.CompletedProcess[str]) -> list[list[str]]:
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "id",
        "when (UTC)",
        "kind",
        "from",
        "by",
        "tool",
        "commit",
        "table",
        "+ins",
        "~upd",
        "-del",
        "rows before->after",
        "checksum before->after",
    ], lines[0]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert all(len(r) == 13 for r in rows), lines
    return rows


def slow_pg_bin(cluster, tmp_path: Path, seconds: float) -> tuple[Path, Path]:
    """A PROMPTSYNC_PG_BIN whose pg_dump touches a marker, sleeps, then runs the real one."""
    real = cluster.servers["staging"].bindir
    directory = tmp_path / "slow-bin"
    directory.mkdir()
    marker = tmp_path / "dump-started"
    script = directory / "pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --version "*) exec "{real}/pg_dump" "$@" ;; esac\n'
        f': > "{marker}"\n'
        f"sleep {seconds}\n"
        f'exec "{real}/pg_dump" "$@"\n'
    )
    script.chmod(0o755)
    (directory / "psql").symlink_to(real / "psql")
    return directory, marker


def canonical_rows(cluster, env: str) -> str:
    """Content in a fixed column order, whatever the table's physical column order."""
    return cluster.sql(
        env, f"COPY (SELECT {CANONICAL_COLS} FROM public.prompts ORDER BY id) TO STDOUT"
    )


# -- 1. diff ---------------------------------------------------------------------------------


def small_diff(cluster, source: str, target: str) -> None:
    """source 1, 2 (body and tags changed), 3, 4 (renamed, new version); target 1, 2, 4, 5."""
    put(cluster, source, 1, 2, 3, 4)
    put(cluster, target, 1, 2, 4, 5)
    cluster.sql(source, "UPDATE prompts SET body = 'new body', tags = '{x}' WHERE id = 2")
    cluster.sql(source, "UPDATE prompts SET name = 'renamed', version = 2 WHERE id = 4")


SMALL_LISTING = [
    "public.prompts: 1 to add, 2 to change, 1 to remove",
    "  + id=3  name=p3 coach_state=intro prompt_type=system version=1",
    "  ~ id=2  name=p2 coach_state=intro prompt_type=system version=1  changed: body, tags",
    "  ~ id=4  name=renamed coach_state=intro prompt_type=system version=2  changed: name, version",
    "  - id=5  name=p5 coach_state=intro prompt_type=system version=1",
]
SMALL_COLUMNS = {  # under each changed row of SMALL_LISTING (without --stat): what changed
    2: [
        "      @@ -1 +1 @@ body",
        "      -body[- 2-]",
        "      +{+new +}body",
        "      tags:",
        '        ~ $: NULL → ["x"]',
    ],
    4: ["      @@ -1 +1 @@ name", "      -p4", "      +renamed", "      version: 1 → 2"],
}
SMALL_FULL = [*SMALL_LISTING[:3], *SMALL_COLUMNS[2], SMALL_LISTING[3], *SMALL_COLUMNS[4],
              SMALL_LISTING[4]]  # fmt: skip


def without_plan_id(stdout: str) -> list[str]:
    """The listing; its last line, the plan id, checked and left off."""
    *lines, last = stdout.splitlines()
    assert re.fullmatch(r"plan id [0-9a-f]{16}", last), stdout
    return lines


def test_diff_lists_added_changed_removed_rows_and_changes_nothing(cluster):
    small_diff(cluster, "local", "staging")
    before = everything(cluster)

    result = cluster.run("diff", "local", "staging")
    assert result.returncode == 1, result.stderr
    assert without_plan_id(result.stdout) == SMALL_FULL
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    stat = cluster.run("diff", "local", "staging", "--stat")
    assert without_plan_id(stat.stdout) == SMALL_LISTING

    # the other way round: + and - swap, a changed row shows the source's identity
    result = cluster.run("diff", "staging", "local", "--stat")
    assert result.returncode == 1, result.stderr
    assert without_plan_id(result.stdout) == [
        "public.prompts: 1 to add, 2 to change, 1 to remove",
        "  + id=5  name=p5 coach_state=intro prompt_type=system version=1",
        "  ~ id=2  name=p2 coach_state=intro prompt_type=system version=1  changed: body, tags",
        "  ~ id=4  name=p4 coach_state=intro prompt_type=system version=1  changed: name, version",
        "  - id=3  name=p3 coach_state=intro prompt_type=system version=1",
    ]
    assert everything(cluster) == before


def test_diff_of_equal_tables_exits_0(cluster):
    result = ok(cluster.run("diff", "staging", "production"))  # both empty
    assert result.stdout == "public.prompts: 0 to add, 0 to change, 0 to remove\n"
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2, 3)
    before = everything(cluster)
    result = ok(cluster.run("diff", "staging", "production"))
    assert result.stdout == "public.prompts: 0 to add, 0 to change, 0 to remove\n"
    assert everything(cluster) == before


def test_diff_limit_lists_n_rows_per_kind(cluster):
    put(cluster, "staging", 1, 2, 3, 4, 5)
    put(cluster, "production", 10, 11)
    result = cluster.run("diff", "staging", "production", "--limit", "2")
    assert result.returncode == 1, result.stderr
    assert without_plan_id(result.stdout) == [
        "public.prompts: 5 to add, 0 to change, 2 to remove",
        "  + id=1  name=p1 coach_state=intro prompt_type=system version=1",
        "  + id=2  name=p2 coach_state=intro prompt_type=system version=1",
        "  + ... and 3 more",
        "  - id=10  name=p10 coach_state=intro prompt_type=system version=1",
        "  - id=11  name=p11 coach_state=intro prompt_type=system version=1",
    ]


def test_diff_negative_limit_is_a_usage_error(cluster):
    put(cluster, "staging", 1, 2, 3)
    result = cluster.run("diff", "staging", "production", "--limit", "-1")
    assert result.returncode == 2, result.stdout


def test_diff_of_a_big_table_reports_exactly_the_one_changed_row(cluster):
    for env in ("staging", "production"):
        put_range(cluster, env, 50_000)
    cluster.sql("staging", "UPDATE prompts SET body = 'changed' WHERE id = 31337")
    before = everything(cluster)
    started = time.monotonic()
    result = cluster.run("diff", "staging", "production")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert without_plan_id(result.stdout) == [
        "public.prompts: 0 to add, 1 to change, 0 to remove",
        "  ~ id=31337  name=p31337 coach_state=intro prompt_type=system version=1  changed: body",
        "      @@ -1 +1 @@ body",
        "      -body 31337",
        "      +changed",
    ]
    assert elapsed < 20
    assert everything(cluster) == before


def test_sync_dry_run_prints_the_same_listing_after_the_plan_line(cluster):
    small_diff(cluster, "local", "staging")
    before = everything(cluster)
    result = cluster.run("sync", "local", "staging", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == ["public.prompts\t1\t2\t1", *SMALL_FULL]
    assert re.search(r"plan id [0-9a-f]{16}: deploy exactly this plan", result.stderr)
    assert "dry run: nothing was changed" in result.stderr
    assert everything(cluster) == before  # no history recorded either


# -- 2. undo and rollback --------------------------------------------------------------------


def test_rollback_restores_the_content_before_the_last_promotion(cluster):
    put(cluster, "staging", 1, 2, 3, 4)
    cluster.sql("staging", "UPDATE prompts SET body = 'from staging' WHERE id = 2")
    put(cluster, "production", 1, 2, 5, 6)
    old = cluster.rows("production")
    source = cluster.rows("staging")

    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == source

    # without --force: refused, nothing changes
    before = everything(cluster)
    refused(cluster.run("rollback", "production"), "--force", "make rollback-prod FORCE=1")
    refused(cluster.run("rollback", "staging"), "--force", "make rollback-staging FORCE=1")
    assert everything(cluster) == before

    result = ok(cluster.run("rollback", "production", "--force"))
    assert result.stdout == ""
    assert cluster.rows("production") == old
    assert cluster.rows("staging") == source  # the source is never touched

    # a rollback is a promotion: rolling it back gives back the synced content, and so on
    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == source
    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == old
    assert promotion_ids(cluster, "production") == ["1", "2", "3", "4"]
    undoes = cluster.sql("production", "SELECT kind, undoes FROM promptsync.promotions ORDER BY id")
    assert undoes.split() == ["sync|", "rollback|1", "rollback|2", "rollback|3"]


def test_rollback_without_a_recorded_promotion_is_refused(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1)
    before = everything(cluster)
    for target in ("production", "staging", "local"):
        refused(
            cluster.run("rollback", target, "--force"),
            f"no promotion is recorded on {target}",
        )
    # promptsync's schema exists but holds no promotion (all pruned by hand)
    ok(cluster.run("sync", "staging", "production", "--force"))
    cluster.sql("production", "DELETE FROM promptsync.promotions")
    state = everything(cluster)
    refused(cluster.run("rollback", "production", "--force"), "no promotion is recorded")
    assert everything(cluster) == state
    assert before["staging"] == state["staging"]


def undo_table(promotion: int, rel: str = "public.prompts") -> str:
    """Where promotion `promotion` keeps its undo data for `rel` (functions.sql)."""
    return f"promptsync.undo_{promotion}_{hashlib.md5(rel.encode()).hexdigest()[:8]}"


def test_undo_data_costs_in_proportion_to_the_changed_rows(cluster):
    for env in ("staging", "production"):
        put_range(cluster, env, 10_000)
    cluster.sql(
        "staging",
        "UPDATE prompts SET body = 'changed' WHERE id = 500; DELETE FROM prompts WHERE id = 600;",
    )
    put(cluster, "staging", 10_001)
    old = cluster.rows("production")

    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    undo = cluster.sql(
        "production", f"SELECT promptsync_op, id, body FROM {undo_table(1)} ORDER BY 1"
    ).splitlines()
    assert undo == ["d|600|body 600", "i|10001|", "u|500|body 500"]
    # the old rows in the table's own column types, not as text
    types = cluster.sql(
        "production",
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        f" WHERE attrelid = '{undo_table(1)}'::regclass AND attname IN"
        " ('metadata', 'tags', 'temperature', 'created_at') ORDER BY 1",
    ).splitlines()
    assert types == [
        "created_at|timestamp with time zone",
        "metadata|jsonb",
        "tags|text[]",
        "temperature|double precision",
    ]
    assert value(cluster, "production", "SELECT count(*) FROM promptsync.undo") == "0"

    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == old
    counts = [value(cluster, "production", f"SELECT count(*) FROM {undo_table(p)}") for p in (1, 2)]
    assert counts == ["3", "3"]


def test_a_sync_into_an_empty_table_records_one_undo_row_and_rolls_back(cluster):
    put_range(cluster, "staging", 5_000)
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    # "the table was empty" instead of 5,000 inserted keys
    assert cluster.sql(
        "production", f"SELECT promptsync_op, id, body FROM {undo_table(1)}"
    ).splitlines() == ["e||"]

    ok(cluster.run("rollback", "production", "--force"))
    assert value(cluster, "production", "SELECT count(*) FROM prompts") == "0"
    # and rolling the rollback back fills it again
    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")


def test_a_promotion_recorded_with_text_undo_data_still_rolls_back(cluster):
    """Targets promoted by an earlier promptsync keep their undo data as text in
    promptsync.undo: the newest promotion there rolls back as before."""
    for env in ("staging", "production"):
        put(cluster, env, 1, 2, 3)
    cluster.sql(
        "staging",
        "UPDATE prompts SET body = 'new', tags = '{x,\"y z\"}' WHERE id = 1;"
        "DELETE FROM prompts WHERE id = 2;",
    )
    put(cluster, "staging", 4)
    old = cluster.rows("production")
    ok(cluster.run("sync", "staging", "production", "--force"))
    # the same undo data as an earlier version wrote it: old values as text, in column order
    cluster.sql(
        "production",
        "INSERT INTO promptsync.undo (promotion_id, table_name, op, key, old_values)"
        f" SELECT 1, 'public.prompts', promptsync_op, ARRAY[id::text],"
        f"        CASE WHEN promptsync_op <> 'i' THEN ARRAY[{TEXT_COLS}] END"
        f"   FROM {undo_table(1)} u;"
        f"DROP TABLE {undo_table(1)};",
    )
    assert value(cluster, "production", "SELECT count(*) FROM promptsync.undo") == "3"

    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == old


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
  ARRAY[NULL, NULL]::text[], '-Infinity', false, '1969-12-31 23:59:59.5-03:30', 'infinity'),
 (4, 'unicode café', 'état', 'user', 2,
  'Ünïcödé àéîõü ẞ 日本語のテキスト 中文 한국어 😀👍🏽🇳🇵 ‮rtl‬ zero​width',
  '{"emoji": "\ud83d\ude00", "e": "\u00e9", "cjk": "日本", "q": "\"quoted\"", "bs": "a\\b"}',
  ARRAY['😀', 'é', '日本', 'a"b', 'c\d'], '-0', true, '0044-03-15 12:00:00+00 BC', '-infinity'),
 (5, 'null body', '', 'system', 1, NULL, NULL, NULL, NULL, false,
  '1900-01-01 00:00:00+00:19:32', NULL),
 (6, 'empty body', '', 'system', 1, '', '{}', ARRAY['']::text[], 1e-300, true,
  '2038-01-19 03:14:08.000001+00', '2038-01-19 03:14:08.000001-00:01'),
 (7, 'backslash N body', '', 'system', 1, '\N', '{"n": 1.000000000000000000001, "big": 1e40}',
  ARRAY['\N', 'NULL'], 5e-324, true, '2024-06-30 12:00:00+05:30', NULL),
 (8, 'float extremes', '', 'system', 1, 'x', '{"nested": {"deep": [[[{"x": 1e-7}]]]}}',
  NULL, 1.7976931348623157e308, true, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00'),
 (9, 'big', '', 'system', 1, repeat(E'é\t\\日\r\n😀 ', 20000), NULL, NULL,
  0.30000000000000004, true, '2024-01-01 00:00:00+00', NULL);
"""


def test_hostile_data_survives_sync_and_rollback_byte_for_byte(cluster):
    for env in ("staging", "production"):
        cluster.sql(env, HOSTILE)
    # staging: copies of hostile rows (inserts), hostile rows changed (updates: the undo
    # data holds their hostile old values), hostile rows gone (deletes)
    cluster.sql(
        "staging",
        f"INSERT INTO prompts ({CANONICAL_COLS}) SELECT id + 100, name || ' copy', coach_state, "
        "prompt_type, version, body, metadata, tags, temperature, is_active, created_at, "
        "updated_at FROM prompts WHERE id IN (1, 2, 3, 4);"
        "UPDATE prompts SET body = 'replaced ' || id, metadata = '{\"new\": true}', "
        "tags = '{new}', temperature = 0.5, updated_at = now() WHERE id IN (1, 2, 3, 4, 9);"
        "DELETE FROM prompts WHERE id IN (5, 6, 7);",
    )
    old = cluster.rows("production")
    source = cluster.rows("staging")
    assert "\\\\." in old and "NaN" in old and "😀" in old and "\\N" in old

    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == source
    assert value(cluster, "production", f"SELECT count(*) FROM {undo_table(1)}") == "12"

    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == old
    spot = cluster.sql(
        "production",
        "SELECT body IS NULL, body = '', temperature::text, metadata IS NULL "
        "FROM prompts WHERE id IN (5, 6, 7) ORDER BY id",
    ).split()
    assert spot == ["t|||t", "f|t|1e-300|f", "f|f|5e-324|f"]

    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == source


def test_only_the_newest_keep_promotions_are_kept(cluster):
    env = cluster.env(PROMPTSYNC_KEEP="2")
    put(cluster, "staging", 1, 2)
    for n in range(3):
        cluster.sql("staging", f"UPDATE prompts SET body = 'round {n}' WHERE id = 1")
        ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert promotion_ids(cluster, "production") == ["2", "3"]
    assert cluster.sql(
        "production", "SELECT DISTINCT promotion_id FROM promptsync.promotion_tables ORDER BY 1"
    ).split() == ["2", "3"]
    assert cluster.sql(
        "production",
        "SELECT relname FROM pg_class WHERE relnamespace = 'promptsync'::regnamespace"
        " AND relkind = 'r' AND relname ~ '^undo_[0-9]+_' ORDER BY 1",
    ).split() == [
        name
        for p in (2, 3)
        for name in (undo_table(p).split(".")[1], undo_table(p).split(".")[1] + "_ledger")
    ]
    assert [
        cluster.sql("production", f"SELECT promptsync_op, id FROM {undo_table(p)}").strip()
        for p in (2, 3)
    ] == ["u|1", "u|1"]
    rows = history_rows(ok(cluster.run("history", "production", env=env)))
    assert [r[0] for r in rows] == ["3", "2"]

    ok(cluster.run("rollback", "production", "--force", env=env))
    assert value(cluster, "production", "SELECT body FROM prompts WHERE id = 1") == "round 1"
    assert promotion_ids(cluster, "production") == ["3", "4"]


def test_rollback_refuses_when_the_target_changed_since_its_last_promotion(cluster):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2)
    ok(cluster.run("sync", "staging", "production", "--force"))
    cluster.sql("production", "UPDATE prompts SET body = 'edited by hand' WHERE id = 1")
    before = everything(cluster)
    refused(
        cluster.run("rollback", "production", "--force"),
        "changed since promotion 1",
        "a rollback would lose that change",
    )
    assert everything(cluster) == before


@pytest.mark.parametrize(
    "action",
    [
        "CASCADE",
        "SET NULL",
        "NO ACTION",
    ],
)
def test_rollback_never_touches_rows_of_other_tables(cluster, action):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2)
    cluster.sql(
        "production",
        "CREATE TABLE sessions (id serial PRIMARY KEY, "
        f"prompt_id bigint REFERENCES prompts (id) ON DELETE {action})",
    )
    ok(cluster.run("sync", "staging", "production", "--force"))
    # the application starts using the new prompt 3
    cluster.sql("production", "INSERT INTO sessions (prompt_id) VALUES (3), (3)")
    before = everything(cluster, "public.sessions")
    result = cluster.run("rollback", "production", "--force")
    assert cluster.rows("production", "public.sessions") == before["production"][2][0]
    assert everything(cluster, "public.sessions") == before
    refused(result, "public.sessions", "2 rows")


def test_rollback_after_a_write_that_raced_the_sync(cluster, tmp_path):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2)
    pg_bin, marker = slow_pg_bin(cluster, tmp_path, 1)
    sync = cluster.popen(
        "sync", "staging", "production", "--force", env=cluster.env(PROMPTSYNC_PG_BIN=str(pg_bin))
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert sync.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        put(cluster, "production", 50)  # the application writes while the dump streams
        before_apply = cluster.rows("production")
        _, err = sync.communicate(timeout=60)
    finally:
        if sync.poll() is None:
            sync.kill()
            sync.wait()
    assert sync.returncode == 0, err
    assert cluster.rows("production") == cluster.rows("staging")
    result = cluster.run("rollback", "production", "--force")
    assert cluster.rows("production") == before_apply, result.stderr
    ok(result)


# -- 3. history ------------------------------------------------------------------------------


def test_history_lists_syncs_and_rollbacks_newest_first(cluster):
    render_sha = "0123456789abcdef0123456789abcdef01234567"
    github_sha = "fedcba9876543210fedcba9876543210fedcba98"
    render = clean_env(cluster, RENDER_SERVICE_NAME="dev-coach-build", RENDER_GIT_COMMIT=render_sha)
    github = clean_env(
        cluster, GITHUB_ACTIONS="true", GITHUB_ACTOR="octocat", GITHUB_SHA=github_sha
    )
    plain = clean_env(cluster)
    put(cluster, "staging", 1, 2, 3, 4)
    cluster.sql("staging", "UPDATE prompts SET body = 'from staging' WHERE id = 2")
    put(cluster, "production", 1, 2, 5)
    old = short_checksum(cluster, "production")
    new = short_checksum(cluster, "staging")
    started = datetime.now(UTC).replace(microsecond=0)

    result = ok(cluster.run("history", "production", env=plain))
    assert result.stdout == ""
    assert "no promotion is recorded on production yet" in result.stderr

    ok(cluster.run("sync", "staging", "production", "--force", env=render))
    assert short_checksum(cluster, "production") == new
    ok(cluster.run("rollback", "production", "--force", env=github))
    assert short_checksum(cluster, "production") == old
    ok(cluster.run("sync", "staging", "production", "--force", "--yes", env=plain))

    result = ok(cluster.run("history", "production", env=plain))
    rows = history_rows(result)
    user = getpass.getuser()
    expected = [
        [
            "3",
            "sync",
            "staging",
            user,
            __version__,
            "public.prompts",
            "2",
            "1",
            "1",
            "3->4",
            f"{old}->{new}",
        ],
        [
            "2",
            "rollback (undoes 1)",
            "promotion 1",
            "github-actions:octocat",
            __version__,
            "public.prompts",
            "1",
            "1",
            "2",
            "4->3",
            f"{new}->{old}",
        ],
        [
            "1",
            "sync",
            "staging",
            "render:dev-coach-build",
            __version__,
            "public.prompts",
            "2",
            "1",
            "1",
            "3->4",
            f"{old}->{new}",
        ],
    ]
    assert [[r[0], *r[2:6], *r[7:]] for r in rows] == expected
    assert [r[6] for r in rows[1:]] == [github_sha[:12], render_sha[:12]]
    for r in rows:
        when = datetime.strptime(r[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert started - timedelta(seconds=1) <= when <= datetime.now(UTC)
    # the full commit is stored
    commits = cluster.sql("production", "SELECT git_commit FROM promptsync.promotions ORDER BY id")
    assert commits.split()[:2] == [render_sha, github_sha]
    # --limit: the newest N lines
    rows = history_rows(ok(cluster.run("history", "production", "--limit", "1", env=plain)))
    assert [r[0] for r in rows] == ["3"]


def test_dry_run_refusal_and_failed_sync_record_nothing(cluster):
    put(cluster, "staging", 1, 2, 3)
    cluster.sql(
        "production",
        "CREATE TABLE sessions (id serial PRIMARY KEY, "
        "prompt_id bigint REFERENCES prompts (id) ON DELETE CASCADE)",
    )
    result = cluster.run("sync", "staging", "production", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert records(cluster, "production") == ""  # not even the schema

    ok(cluster.run("sync", "staging", "production", "--force"))
    recorded = records(cluster, "production")
    assert promotion_ids(cluster, "production") == ["1"]

    # a dry run with history present
    cluster.sql("staging", "UPDATE prompts SET body = 'dry' WHERE id = 1")
    assert cluster.run("sync", "staging", "production", "--dry-run").returncode == 1
    assert records(cluster, "production") == recorded

    # refused by a guard (mass delete)
    cluster.sql("staging", "DELETE FROM prompts WHERE id IN (2, 3)")
    before = everything(cluster, "public.sessions")
    refused(cluster.run("sync", "staging", "production", "--force"), "--allow-mass-delete")
    assert everything(cluster, "public.sessions") == before

    # failed inside the apply, after the promotion row was written: two prompts swap names
    # while a session points at one of them through a cascading foreign key
    cluster.sql("production", "INSERT INTO sessions (prompt_id) VALUES (1)")
    cluster.sql(
        "staging",
        "DELETE FROM prompts; "
        f"INSERT INTO prompts (id, name, coach_state, prompt_type, version, body, created_at) "
        f"VALUES (1, 'p2', 'intro', 'system', 1, 'body 1', '{T0}'), "
        f"(2, 'p1', 'intro', 'system', 1, 'body 2', '{T0}'), "
        f"(3, 'p3', 'intro', 'system', 1, 'body 3', '{T0}')",
    )
    before = everything(cluster, "public.sessions")
    result = cluster.run("sync", "staging", "production", "--force")
    assert result.returncode == 4, result.stderr
    assert "they trade values under prompts_identity_key" in error_line(result)
    assert everything(cluster, "public.sessions") == before
    assert records(cluster, "production") == recorded
    rows = history_rows(ok(cluster.run("history", "production")))
    assert [r[0] for r in rows] == ["1"]


# -- 4. one promotion at a time --------------------------------------------------------------


def test_one_promotion_at_a_time_per_target(cluster, tmp_path):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 9)
    old = cluster.rows("production")
    pg_bin, marker = slow_pg_bin(cluster, tmp_path, 4)
    first = cluster.popen(
        "sync", "staging", "production", "--force", env=cluster.env(PROMPTSYNC_PG_BIN=str(pg_bin))
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # the first holds the lock and is dumping
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first sync never started its dump"
            time.sleep(0.05)
        before = everything(cluster)
        for args in (
            ("sync", "staging", "production", "--force"),
            ("rollback", "production", "--force"),
            ("sync", "local", "production", "--force", "--dry-run"),
        ):
            started = time.monotonic()
            result = cluster.run(*args)
            assert time.monotonic() - started < 3, args  # at once, no waiting for the lock
            refused(result, "another promptsync is promoting production")
        assert first.poll() is None, "the first sync ended too early for this test to mean much"
        assert everything(cluster) == before
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert "Traceback" not in err and "error:" not in err
    assert out == ""
    assert cluster.rows("production") == cluster.rows("staging")
    assert promotion_ids(cluster, "production") == ["1"]
    # the lock went with the first session
    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == old


# -- 5. guards -------------------------------------------------------------------------------


def test_empty_source_is_refused_naming_allow_empty(cluster):
    put(cluster, "production", 1, 2, 3)
    before = everything(cluster)
    refused(
        cluster.run("sync", "staging", "production", "--force"),
        "public.prompts is empty in staging",
        "--allow-empty",
    )
    assert everything(cluster) == before
    # both overrides together empty it
    ok(
        cluster.run(
            "sync", "staging", "production", "--force", "--allow-empty", "--allow-mass-delete"
        )
    )
    assert cluster.rows("production") == ""
    ok(cluster.run("rollback", "production", "--force"))
    assert cluster.rows("production") == before["production"][0][0]


def test_allow_empty_empties_the_target(cluster):
    put(cluster, "production", 1, 2, 3)
    ok(cluster.run("sync", "staging", "production", "--force", "--allow-empty"))
    assert cluster.rows("production") == ""


def test_same_database_however_spelled_is_refused_without_override(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 5)
    staging = cluster.servers["staging"]
    assert staging.host == "127.0.0.1"  # STAGING_DATABASE_URL spells it 127.0.0.1
    env = cluster.env(
        PROD_DB_HOST="localhost",
        PROD_DB_PORT=str(staging.port),
        PROD_DB_NAME=staging.dbname,
        PROD_DB_USER=staging.user,
        PROD_DB_PASSWORD=staging.password,
    )
    before = everything(cluster)
    for args in (
        ("sync", "staging", "production", "--force"),
        (
            "sync",
            "staging",
            "production",
            "--force",
            "--yes",
            "--allow-empty",
            "--allow-mass-delete",
        ),
        ("sync", "production", "staging", "--force"),
    ):
        line = refused(cluster.run(*args, env=env), "same database")
        assert "staging and production" in line or "production and staging" in line
    assert everything(cluster) == before


def test_mass_delete_needs_allow_mass_delete(cluster):
    put(cluster, "staging", 1, 2, 3, 4)
    put_range(cluster, "production", 10)
    before = everything(cluster)
    refused(
        cluster.run("sync", "staging", "production", "--force", "--allow-empty"),
        "would leave 4 of 10 rows in production",
        "--allow-mass-delete",
    )
    assert everything(cluster) == before
    # a dry run shows the plan and says a real sync would refuse
    result = cluster.run("sync", "staging", "production", "--dry-run")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "public.prompts\t0\t0\t6"
    assert "a real sync would refuse" in result.stderr and "--allow-mass-delete" in result.stderr
    assert everything(cluster) == before
    # exactly half is not fewer than half
    put(cluster, "staging", 5)
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    cluster.sql("staging", "DELETE FROM prompts WHERE id > 1")
    refused(cluster.run("sync", "staging", "production", "--force"), "leave 1 of 5 rows")
    ok(cluster.run("sync", "staging", "production", "--force", "--allow-mass-delete"))
    assert cluster.rows("production") == cluster.rows("staging")


@pytest.mark.parametrize("action", ["CASCADE", "NO ACTION", "SET NULL"])
def test_prompts_still_referenced_from_other_tables_are_never_deleted(cluster, action):
    put(cluster, "staging", 1, 2, 3)
    put(cluster, "production", 1, 2, 3, 4)
    cluster.sql(
        "production",
        "CREATE TABLE sessions (id serial PRIMARY KEY, "
        f"prompt_id bigint REFERENCES prompts (id) ON DELETE {action}); "
        "INSERT INTO sessions (prompt_id) VALUES (4), (4), (1);",
    )
    before = everything(cluster, "public.sessions")
    for extra in ((), ("--yes", "--allow-empty", "--allow-mass-delete")):
        refused(
            cluster.run("sync", "staging", "production", "--force", *extra),
            "2 rows of public.sessions.prompt_id",
            "point at id=4 name=p4",
        )
        assert everything(cluster, "public.sessions") == before
    result = cluster.run("sync", "staging", "production", "--dry-run")
    assert result.returncode == 1
    assert "a real sync would refuse" in result.stderr and "public.sessions" in result.stderr
    assert everything(cluster, "public.sessions") == before
    # once the application no longer points at prompt 4 the sync goes through
    cluster.sql("production", "DELETE FROM sessions WHERE prompt_id = 4")
    sessions = cluster.rows("production", "public.sessions")
    ok(cluster.run("sync", "staging", "production", "--force"))
    assert cluster.rows("production") == cluster.rows("staging")
    assert cluster.rows("production", "public.sessions") == sessions


# -- 6. schema drift -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alter", "words", "advice"),
    [
        (
            "ADD COLUMN owner text",
            "production has column owner that staging lacks",
            "production is migrated ahead of staging (columns owner): migrate staging first",
        ),
        (
            "DROP COLUMN tags",
            "staging has column tags that production lacks",
            "staging is migrated ahead of production (columns tags): deploy the code with "
            "that migration (its build migrates before the sync), or set PROMPT_SYNC_OPTIONAL=1 "
            "for this deploy of older code",
        ),
        (
            "ALTER COLUMN version TYPE bigint",
            "column version: type integer in staging, bigint in production",
            "run the migrations that change those columns where they lag",
        ),
    ],
)
def test_schema_drift_is_refused_before_any_change(cluster, alter, words, advice):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 1, 3)
    cluster.sql("production", f"ALTER TABLE prompts {alter}")
    before = everything(cluster)
    refused(
        cluster.run(
            "sync", "staging", "production", "--force", "--allow-empty", "--allow-mass-delete"
        ),
        words,
        advice,
    )
    assert everything(cluster) == before
    result = cluster.run("sync", "staging", "production", "--dry-run")
    assert result.returncode == 3 and words in result.stderr
    # diff reports the drift on stdout and exits 1
    result = cluster.run("diff", "staging", "production")
    assert result.returncode == 1
    assert words in result.stdout and advice in result.stdout
    assert everything(cluster) == before
    # check connects to every environment and reports the drift with exit 3
    result = cluster.run("check")
    assert result.returncode == 3, result.stderr
    assert "production: ok" in result.stdout and "schema drift in public.prompts" in result.stdout
    assert advice.replace("staging", "local") in result.stdout  # check compares with local


def test_same_columns_in_another_physical_order_are_fine(cluster):
    put(cluster, "staging", 1, 2, 3)
    cluster.sql(
        "staging",
        "UPDATE prompts SET tags = '{a,b}', metadata = '{\"k\": 1}', temperature = 0.7, "
        f"updated_at = '{T0}' WHERE id = 2",
    )
    cluster.sql(
        "production",
        """
        DROP TABLE prompts;
        CREATE TABLE public.prompts (
            updated_at  timestamptz,
            body        text,
            tags        text[],
            version     integer      NOT NULL DEFAULT 1,
            metadata    jsonb,
            is_active   boolean      NOT NULL DEFAULT true,
            prompt_type varchar(50)  NOT NULL,
            temperature double precision,
            created_at  timestamptz  NOT NULL DEFAULT now(),
            coach_state varchar(100) NOT NULL DEFAULT '',
            name        varchar(200) NOT NULL,
            id          bigserial PRIMARY KEY,
            CONSTRAINT prompts_identity_key UNIQUE (name, coach_state, prompt_type, version)
        );
        """,
    )
    put(cluster, "production", 1, 4)
    old = canonical_rows(cluster, "production")

    result = ok(cluster.run("sync", "staging", "production", "--force"))
    assert result.stdout == ""
    assert canonical_rows(cluster, "production") == canonical_rows(cluster, "staging")
    result = ok(cluster.run("verify", "staging", "production"))
    assert "all 2 environments match" in result.stderr
    ok(cluster.run("diff", "staging", "production"))
    ok(cluster.run("check"))
    ok(cluster.run("rollback", "production", "--force"))
    assert canonical_rows(cluster, "production") == old


# -- 7. several tables -----------------------------------------------------------------------

EXAMPLES = (
    "CREATE TABLE prompt_examples (id serial PRIMARY KEY, "
    "prompt_id bigint NOT NULL REFERENCES prompts (id), text text)"
)
BOTH = ("public.prompts", "public.prompt_examples")


def both_tables(cluster, env: str) -> tuple[str, str]:
    return tuple(cluster.rows(env, t) for t in BOTH)


def test_several_tables_move_in_one_transaction_in_foreign_key_order(cluster):
    for env in ENVS:
        cluster.sql(env, EXAMPLES)
    put(cluster, "staging", 1, 2, 3)
    cluster.sql(
        "staging",
        "INSERT INTO prompt_examples VALUES (1, 1, 'one a'), (2, 1, 'one b'), (3, 2, 'two'), "
        "(5, 3, 'three a'), (6, 3, 'three b')",
    )
    put(cluster, "production", 1, 2, 4)
    cluster.sql(
        "production",
        "INSERT INTO prompt_examples VALUES (1, 1, 'one a'), (2, 1, 'one b old'), "
        "(3, 2, 'two'), (4, 4, 'four')",
    )
    old = both_tables(cluster, "production")
    # the child table first on purpose: the apply must order by foreign key, not by the list
    env = cluster.env(PROMPTSYNC_TABLES="prompt_examples,prompts")

    result = cluster.run("sync", "staging", "production", "--dry-run", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "public.prompt_examples\t2\t1\t1",
        "public.prompts\t1\t0\t1",
    ]
    ok(cluster.run("sync", "staging", "production", "--force", env=env))
    assert both_tables(cluster, "production") == both_tables(cluster, "staging")
    result = ok(cluster.run("verify", "staging", "production", env=env))
    assert "public.prompt_examples" in result.stdout and "public.prompts" in result.stdout
    rows = history_rows(ok(cluster.run("history", "production", env=env)))
    assert [(r[0], r[7], r[8], r[9], r[10]) for r in rows] == [
        ("1", "public.prompt_examples", "2", "1", "1"),
        ("1", "public.prompts", "1", "0", "1"),
    ]

    # a rollback must cover exactly the tables of the promotion
    before = everything(cluster, "public.prompt_examples")
    refused(
        cluster.run("rollback", "production", "--force"),
        "promotion 1 covered",
        "PROMPTSYNC_TABLES",
    )
    assert everything(cluster, "public.prompt_examples") == before
    # --table (repeatable) selects the tables too
    ok(
        cluster.run(
            "--table", "prompts", "--table", "prompt_examples", "rollback", "production", "--force"
        )
    )
    assert both_tables(cluster, "production") == old
    ok(
        cluster.run(
            "--table",
            "prompts",
            "--table",
            "prompt_examples",
            "sync",
            "staging",
            "production",
            "--force",
        )
    )
    assert both_tables(cluster, "production") == both_tables(cluster, "staging")


def test_several_tables_fail_together(cluster):
    """One transaction: a refusal for one table leaves the other unchanged too."""
    for env in ENVS:
        cluster.sql(env, EXAMPLES)
    put(cluster, "staging", 1, 2, 3, 4)
    cluster.sql("staging", "INSERT INTO prompt_examples VALUES (1, 1, 'one')")
    put(cluster, "production", 1, 2, 3, 4, 5)
    cluster.sql(
        "production",
        "INSERT INTO prompt_examples VALUES (1, 5, 'five'), (2, 5, 'five b'); "
        "CREATE TABLE sessions (id serial PRIMARY KEY, prompt_id bigint REFERENCES prompts (id)); "
        "INSERT INTO sessions (prompt_id) VALUES (5);",
    )
    before = everything(cluster, "public.prompt_examples", "public.sessions")
    refused(
        cluster.run(
            "sync",
            "staging",
            "production",
            "--force",
            "--allow-mass-delete",
            env=cluster.env(PROMPTSYNC_TABLES="prompts,prompt_examples"),
        ),
        "1 rows of public.sessions",
    )
    assert everything(cluster, "public.prompt_examples", "public.sessions") == before


# -- 8. identifiers --------------------------------------------------------------------------


def test_table_names_are_validated_and_looked_up_in_the_catalog(cluster):
    put(cluster, "staging", 1, 2)
    put(cluster, "production", 3)
    before = everything(cluster)
    for name in (
        "prompts; drop table prompts",
        'prompts"; drop table prompts; --',
        "public.prompts.x",
        "a,,b",
        "Prompts Archive",
        "public.Prompts Archive",
    ):
        refused(
            cluster.run("--table", name, "sync", "staging", "production", "--force"),
            "is not a table name",
            code=2,
        )
    refused(
        cluster.run(
            "sync",
            "staging",
            "production",
            "--force",
            env=cluster.env(PROMPTSYNC_TABLES="prompts;drop table prompts"),
        ),
        "PROMPTSYNC_TABLES",
        "is not a table name",
        code=2,
    )
    refused(
        cluster.run("--table", "nosuchtable", "sync", "staging", "production", "--force"),
        "public.nosuchtable does not exist in staging",
        code=4,
    )
    refused(
        cluster.run("--table", "nosuchtable", "rollback", "production", "--force"),
        code=3,  # no promotion recorded comes first
    )
    # case matters: Prompts is not prompts
    refused(
        cluster.run("--table", "Prompts", "diff", "staging", "production"),
        "public.Prompts does not exist in staging",
        code=4,
    )
    assert everything(cluster) == before
    for env in ENVS:
        assert value(cluster, env, "SELECT to_regclass('public.prompts') IS NOT NULL") == "t"


def test_a_table_name_with_a_space_is_rejected_by_the_validator(cluster):
    """Reported behaviour: a real table "Prompts Archive" cannot be named at all (exit 2)."""
    for env in ENVS:
        cluster.sql(env, 'CREATE TABLE "Prompts Archive" (id int PRIMARY KEY, body text)')
    cluster.sql("staging", "INSERT INTO \"Prompts Archive\" VALUES (1, 'a')")
    refused(
        cluster.run(
            "--table", "public.Prompts Archive", "sync", "staging", "production", "--force"
        ),
        "'public.Prompts Archive' is not a table name",
        code=2,
    )
    assert cluster.rows("production", '"Prompts Archive"') == ""


def test_a_mixed_case_table_name_works_end_to_end(cluster):
    for env in ENVS:
        cluster.sql(env, 'CREATE TABLE "PromptArchive" (id int PRIMARY KEY, body text)')
    cluster.sql("staging", "INSERT INTO \"PromptArchive\" VALUES (1, E'a\\tb'), (2, 'b'), (3, 'c')")
    cluster.sql("production", "INSERT INTO \"PromptArchive\" VALUES (1, 'old'), (4, 'd')")
    table = 'public."PromptArchive"'
    old = cluster.rows("production", table)
    prompts = everything(cluster)

    result = cluster.run("--table", "PromptArchive", "diff", "staging", "production")
    assert result.returncode == 1, result.stderr
    assert without_plan_id(result.stdout) == [
        "public.PromptArchive: 2 to add, 1 to change, 1 to remove",
        "  + id=2",
        "  + id=3",
        "  ~ id=1  changed: body",
        "      @@ -1 +1 @@ body",
        "      -old",
        "      +a\tb",
        "  - id=4",
    ]
    ok(cluster.run("--table", "PromptArchive", "sync", "staging", "production", "--force"))
    assert cluster.rows("production", table) == cluster.rows("staging", table)
    ok(cluster.run("--table", "public.PromptArchive", "verify", "staging", "production"))
    rows = history_rows(ok(cluster.run("history", "production")))
    assert [(r[7], r[8], r[9], r[10]) for r in rows] == [(table, "2", "1", "1")]
    ok(cluster.run("--table", "PromptArchive", "rollback", "production", "--force"))
    assert cluster.rows("production", table) == old
    # the prompts tables were never touched
    after = everything(cluster)
    assert {e: after[e][0] for e in ENVS} == {e: prompts[e][0] for e in ENVS}


def test_an_empty_table_name_is_rejected(cluster):
    put(cluster, "staging", 1)
    before = everything(cluster)
    refused(
        cluster.run("--table", "", "sync", "staging", "production", "--force"),
        "is not a table name",
        code=2,
    )
    assert everything(cluster) == before


def test_table_option_after_the_subcommand_as_documented(cluster):
    put(cluster, "staging", 1)
    ok(cluster.run("sync", "staging", "production", "--force", "--table", "prompts"))
    assert cluster.rows("production") == cluster.rows("staging")
