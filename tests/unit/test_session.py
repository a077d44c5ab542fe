"""promptsync.session's pure parts: psql literals, the reason line of stderr, TRANSIENT, and
the SQL files the code names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptsync import log, session
from promptsync.session import TRANSIENT, psql_literal, reason

LIB = Path(session.__file__).resolve().parent

# -- psql_literal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("abc", "'abc'"),
        ("", "''"),
        ("o'neil", "'o\\'neil'"),
        ("a\\b", "'a\\\\b'"),
        ("\\'", "'\\\\\\''"),
        ("line\nbreak", "'line\\nbreak'"),
        ('public."Prompts"', "'public.\"Prompts\"'"),
        (":var :'x'", "':var :\\'x\\''"),
        (42, "'42'"),
        ("pg_temp.promptsync_stage_0", "'pg_temp.promptsync_stage_0'"),
    ],
)
def test_psql_literal(value, literal):
    assert psql_literal(value) == literal


def unquote_psql(literal: str) -> str:
    """How psql reads a single-quoted meta-command argument."""
    assert literal[0] == literal[-1] == "'"
    escapes = {"n": "\n", "t": "\t", "\\": "\\", "'": "'"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], literal[1:-1])


@pytest.mark.parametrize("value", ["x", "it's", "\\", "\\\\'", "a\nb\n", "日本 ' \\n"])
def test_psql_literal_round_trips(value):
    literal = psql_literal(value)
    assert "\n" not in literal  # one meta-command line
    assert unquote_psql(literal) == value


# -- reason ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stderr", "why"),
    [
        (
            [
                'psql: error: connection to server at "127.0.0.1", port 5999 failed: '
                "Connection refused",
                "\tIs the server running on that host and accepting TCP/IP connections?",
            ],
            'connection to server at "127.0.0.1", port 5999 failed: Connection refused',
        ),
        (
            [
                'psql: error: connection to server at "db.example.com" (10.0.0.5), port 5432 '
                'failed: FATAL:  password authentication failed for user "app"',
            ],
            'connection to server at "db.example.com" (10.0.0.5), port 5432 failed: '
            'password authentication failed for user "app"',
        ),
        (
            [
                'psql:<stdin>:12: ERROR:  relation "public.prompts" does not exist',
                "LINE 1: SELECT count(*) FROM public.prompts",
                "                             ^",
            ],
            'relation "public.prompts" does not exist',
        ),
        (
            [
                "psql:<stdin>:40: ERROR:  duplicate key value violates unique constraint "
                '"prompts_pkey"',
                "DETAIL:  Key (id)=(3) already exists.",
                "CONTEXT:  COPY promptsync_stage_0, line 3",
            ],
            'duplicate key value violates unique constraint "prompts_pkey"',
        ),
        (
            ["psql:<stdin>:7: FATAL:  terminating connection due to administrator command"],
            "terminating connection due to administrator command",
        ),
        (
            [
                "pg_dump: error: query failed: ERROR:  permission denied for table prompts",
                "pg_dump: detail: Query was: LOCK TABLE public.prompts IN ACCESS SHARE MODE",
            ],
            "query failed: permission denied for table prompts",
        ),
        (
            [
                "pg_dump: error: aborting because of server version mismatch",
                "pg_dump: detail: server version: 18.1; pg_dump version: 15.14",
            ],
            "aborting because of server version mismatch",
        ),
        (
            ["psql:<stdin>:3: NOTICE:  table does not exist, skipping", "", "  "],
            "psql:<stdin>:3: NOTICE:  table does not exist, skipping",
        ),
        (["some unexpected output"], "some unexpected output"),
        ([], "no message"),
        (["", "   ", "\t"], "no message"),
    ],
)
def test_reason_picks_the_useful_line(stderr, why):
    assert reason(stderr) == why


def test_reason_prefers_the_last_error():
    lines = [
        "psql:<stdin>:2: ERROR:  first problem",
        "psql:<stdin>:9: ERROR:  canceling statement due to lock timeout",
        'CONTEXT:  SQL statement "UPDATE ..."',
    ]
    assert reason(lines) == "canceling statement due to lock timeout"


def test_reason_is_redacted():
    log.add_secrets(["hunter2-pw"])
    why = reason(["psql: error: bad option hunter2-pw: FATAL:  nope password=abc"])
    assert "hunter2-pw" not in why
    assert "password=abc" not in why


def test_reason_strips_psqls_own_error_prefix_after_a_location():
    lines = [
        "server closed the connection unexpectedly",
        "\tThis probably means the server terminated abnormally",
        "psql:<stdin>:5: error: connection to server was lost",
    ]
    assert reason(lines) == "connection to server was lost"


# -- TRANSIENT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "h" (1.2.3.4), port 5432 failed: Connection refused',
        "the database system is starting up",
        "the database system is shutting down",
        "terminating connection due to administrator command",
        "canceling statement due to lock timeout",
        "server closed the connection unexpectedly",
        "connection to server was lost",
        "could not connect to server: Connection refused",
        "timeout expired",
        "SSL SYSCALL error: EOF detected",
        "deadlock detected",
        "sorry, too many clients already",
        "could not serialize access due to concurrent update",
    ],
)
def test_transient_messages(message):
    assert TRANSIENT.search(message)


@pytest.mark.parametrize(
    "message",
    [
        'password authentication failed for user "app"',
        'connection to server at "h" (1.2.3.4), port 5432 failed: FATAL:  password '
        'authentication failed for user "app"',
        'relation "public.prompts" does not exist',
        'database "dev_coach" does not exist',
        'role "nobody" does not exist',
        'could not translate host name "nope.invalid" to address: Name or service not known',
        "permission denied for table prompts",
        'duplicate key value violates unique constraint "prompts_pkey"',
        "aborting because of server version mismatch",
        'no pg_hba.conf entry for host "1.2.3.4", user "app", database "d", no encryption',
    ],
)
def test_permanent_messages(message):
    assert not TRANSIENT.search(message)


def test_transient_is_case_insensitive():
    assert TRANSIENT.search("Connection Refused")


def test_reason_of_a_refused_connection_is_transient():
    why = reason(['psql: error: connection to server at "h", port 1 failed: Connection refused'])
    assert TRANSIENT.search(why)


# -- SQL files -----------------------------------------------------------------------------------


def sql_files_named_in_lib() -> set[str]:
    """Files the code runs through session.run_file(...) / sql_text(...)."""
    call = re.compile(r"""(?:run_file|sql_text)\(\s*["']([A-Za-z0-9_]+\.sql)["']""")
    names: set[str] = set()
    for source in LIB.glob("*.py"):
        names.update(call.findall(source.read_text()))
    return names


def test_the_code_names_sql_files():
    assert {"settings.sql", "server.sql"} <= sql_files_named_in_lib()


@pytest.mark.parametrize("name", sorted(sql_files_named_in_lib()))
def test_every_sql_file_named_in_lib_exists(name):
    assert (session.SQL_DIR / name).is_file()
    assert session.sql_text(name).strip()


def test_sql_dir_is_the_repositorys_sql_directory():
    assert session.SQL_DIR == LIB.parents[1] / "sql"
