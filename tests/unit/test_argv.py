"""promptsync.argv: argv lists and child environments for psql, pg_dump and docker exec.

The password must never be in an argv (visible in `ps`): it travels as PGPASSWORD in the
child's environment, and `docker exec -e PGPASSWORD` names the variable without a value.
"""

from __future__ import annotations

import pytest

from promptsync import argv, session
from promptsync.config import Environment, Table
from promptsync.errors import ConfigError

PASSWORD = "pa ss'w\"o\\rd$(x)"
URL_PASSWORD = "pa%20ss%27w%22o%5Crd%24%28x%29"  # the same, %-escaped
SNAPSHOT = "00000003-0000001B-1"


@pytest.fixture
def direct(env_of):
    return env_of(
        "staging",
        STAGING_DATABASE_URL=f"postgresql://app:{URL_PASSWORD}@db.example.com:6543/appdb"
        "?sslmode=require",
    )


@pytest.fixture
def docker(env_of):
    return env_of("local", LOCAL_DB_PASSWORD=PASSWORD)


@pytest.fixture
def docker_no_password(env_of):
    return env_of("local")


def parse_conninfo(text: str) -> dict[str, str]:
    """libpq's keyword/value parser (conninfo_parse), to check what libpq will read."""
    pairs: dict[str, str] = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return pairs
        start = i
        while i < n and text[i] != "=" and not text[i].isspace():
            i += 1
        key = text[start:i]
        while i < n and text[i].isspace():
            i += 1
        assert i < n and text[i] == "=", f"missing '=' after {key!r} in {text!r}"
        i += 1
        while i < n and text[i].isspace():
            i += 1
        value = []
        if i < n and text[i] == "'":
            i += 1
            while True:
                assert i < n, f"unterminated quoted value in {text!r}"
                if text[i] == "\\":
                    value.append(text[i + 1])
                    i += 2
                elif text[i] == "'":
                    i += 1
                    break
                else:
                    value.append(text[i])
                    i += 1
        else:
            while i < n and not text[i].isspace():
                if text[i] == "\\":
                    value.append(text[i + 1])
                    i += 2
                else:
                    value.append(text[i])
                    i += 1
        pairs[key] = "".join(value)


def assert_no_password(args: list[str], password: str = PASSWORD) -> None:
    for arg in args:
        assert password not in arg
        assert not arg.upper().startswith("PGPASSWORD=")
        assert "password=" not in arg.lower()


# -- psql --------------------------------------------------------------------------------------


def test_psql_direct(direct):
    args = argv.psql(direct)
    assert args[0] == "psql"
    assert args[-2] == "-d"
    info = parse_conninfo(args[-1])
    assert info["host"] == "db.example.com"
    assert info["port"] == "6543"
    assert info["dbname"] == "appdb"
    assert info["user"] == "app"
    assert info["sslmode"] == "require"


def test_psql_direct_uses_the_given_executable(direct):
    assert argv.psql(direct, "/opt/pg/bin/psql")[0] == "/opt/pg/bin/psql"


@pytest.mark.parametrize("env_name", ["direct", "docker"])
def test_psql_stops_on_error_and_never_prompts(request, env_name):
    args = argv.psql(request.getfixturevalue(env_name))
    i = args.index("-v")
    assert args[i + 1] == "ON_ERROR_STOP=1"
    assert "--no-password" in args
    assert "-X" in args  # no ~/.psqlrc


@pytest.mark.parametrize("env_name", ["direct", "docker", "docker_no_password"])
def test_psql_argv_never_holds_the_password(request, env_name):
    env = request.getfixturevalue(env_name)
    assert_no_password(argv.psql(env))


def test_psql_docker(docker):
    args = argv.psql(docker)
    assert args[:3] == ["docker", "exec", "-i"]
    c = args.index("dev-coach-local-db-1")
    assert args[c + 1] == "psql"
    inner = args[c + 1 :]
    assert inner[-4:] == ["-U", "postgres", "-d", "dev_coach"]
    for flag in ("-h", "-p", "--host", "--port"):
        assert flag not in inner
    assert not any("host=" in a for a in args)


def test_docker_exec_passes_pgpassword_by_name_only(docker):
    args = argv.psql(docker)
    c = args.index("dev-coach-local-db-1")
    options = args[3:c]
    assert "PGPASSWORD" in options
    assert options[options.index("PGPASSWORD") - 1] == "-e"
    # every option is `-e NAME`: a bare name, never NAME=value
    assert options[0::2] == ["-e"] * (len(options) // 2)
    for name in options[1::2]:
        assert name.isidentifier() and "=" not in name


def test_docker_exec_without_password_names_no_pgpassword(docker_no_password):
    assert "PGPASSWORD" not in argv.psql(docker_no_password)
    assert "PGPASSWORD" not in argv.pg_dump(docker_no_password, [Table("public", "prompts")])


def test_docker_exec_uses_the_configured_container(env_of):
    env = env_of("local", LOCAL_DB_CONTAINER="other-db")
    args = argv.psql(env)
    assert "other-db" in args
    assert "dev-coach-local-db-1" not in args


# -- pg_dump -----------------------------------------------------------------------------------


PROMPTS = [Table("public", "prompts")]


def test_pg_dump_direct(direct):
    args = argv.pg_dump(direct, PROMPTS)
    assert args[0] == "pg_dump"
    assert "--data-only" in args
    assert "--no-password" in args
    assert [a for a in args if a.startswith("--table")] == ["--table=public.prompts"]
    assert args[-2] == "-d"
    assert parse_conninfo(args[-1])["host"] == "db.example.com"


def test_pg_dump_uses_the_given_executable(direct):
    assert argv.pg_dump(direct, PROMPTS, pg_dump_path="/opt/pg18/bin/pg_dump")[0] == (
        "/opt/pg18/bin/pg_dump"
    )


@pytest.mark.parametrize("env_name", ["direct", "docker"])
def test_pg_dump_snapshot(request, env_name):
    env = request.getfixturevalue(env_name)
    assert f"--snapshot={SNAPSHOT}" in argv.pg_dump(env, PROMPTS, SNAPSHOT)
    assert not any(a.startswith("--snapshot") for a in argv.pg_dump(env, PROMPTS))


@pytest.mark.parametrize("env_name", ["direct", "docker", "docker_no_password"])
def test_pg_dump_argv_never_holds_the_password(request, env_name):
    assert_no_password(argv.pg_dump(request.getfixturevalue(env_name), PROMPTS, SNAPSHOT))


def test_pg_dump_docker(docker):
    args = argv.pg_dump(docker, PROMPTS, SNAPSHOT)
    assert args[:3] == ["docker", "exec", "-i"]
    c = args.index("dev-coach-local-db-1")
    assert args[3:c].count("-e") == len(args[3:c]) // 2
    assert "PGPASSWORD" in args[3:c]
    inner = args[c + 1 :]
    assert inner[0] == "pg_dump"
    assert {"--data-only", "--no-password", "--table=public.prompts"} <= set(inner)
    assert inner[-4:] == ["-U", "postgres", "-d", "dev_coach"]
    for flag in ("-h", "-p", "--host", "--port"):
        assert flag not in inner


def test_pg_dump_one_table_flag_per_table(direct):
    tables = [Table("public", "prompts"), Table("app", "Templates"), Table("public", "x$y")]
    flags = [a for a in argv.pg_dump(direct, tables) if a.startswith("--table")]
    assert flags == ["--table=public.prompts", '--table=app."Templates"', '--table=public."x$y"']


# -- conninfo ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["plain", "my db", "o'neil", "back\\slash", "\\'", "", "a=b", "tab\there", "ümlaut", "'"],
)
def test_conninfo_round_trips_odd_values(env_of, value):
    env = env_of(
        "staging",
        STAGING_DB_HOST="h",
        STAGING_DB_NAME=value or "x",
        STAGING_DB_USER=value or "x",
    )
    info = parse_conninfo(argv.conninfo(env))
    assert info["dbname"] == (value or "x")
    assert info["user"] == (value or "x")


def test_conninfo_quotes_an_empty_value():
    env = Environment(name="x", dbname="", user="u", host="h", port=5432)
    assert "dbname=''" in argv.conninfo(env)
    assert parse_conninfo(argv.conninfo(env))["dbname"] == ""


@pytest.mark.parametrize(
    ("value", "written"),
    [("my db", "'my db'"), ("o'neil", "'o\\'neil'"), ("a\\b", "'a\\\\b'"), ("x.y-z_1", "x.y-z_1")],
)
def test_conninfo_quoting(env_of, value, written):
    env = env_of("staging", STAGING_DB_HOST="h", STAGING_DB_NAME=value, STAGING_DB_USER="u")
    assert f"dbname={written} " in argv.conninfo(env)


def test_conninfo_carries_url_parameters(env_of):
    env = env_of(
        "production",
        PROD_DATABASE_URL="postgresql://u:pw@h/db?sslmode=verify-full&sslrootcert=/r.crt"
        "&target_session_attrs=read-write",
    )
    info = parse_conninfo(argv.conninfo(env))
    assert info["sslmode"] == "verify-full"
    assert info["sslrootcert"] == "/r.crt"
    assert info["target_session_attrs"] == "read-write"


def test_conninfo_carries_sslmode_variable(env_of):
    env = env_of(
        "staging",
        STAGING_DB_HOST="h",
        STAGING_DB_NAME="d",
        STAGING_DB_USER="u",
        STAGING_DB_SSLMODE="require",
    )
    assert parse_conninfo(argv.conninfo(env))["sslmode"] == "require"


def test_conninfo_defaults_timeout_and_application_name(direct):
    info = parse_conninfo(argv.conninfo(direct))
    assert info["connect_timeout"] == "10"
    assert info["application_name"] == "promptsync"


def test_conninfo_keeps_the_urls_application_name_and_timeout(env_of):
    env = env_of(
        "staging",
        STAGING_DATABASE_URL="postgresql://u@h/db?application_name=dev-coach&connect_timeout=3",
    )
    text = argv.conninfo(env)
    assert text.count("application_name=") == 1
    assert text.count("connect_timeout=") == 1
    info = parse_conninfo(text)
    assert (info["application_name"], info["connect_timeout"]) == ("dev-coach", "3")


def test_conninfo_has_no_password(direct):
    text = argv.conninfo(direct)
    assert "password" not in parse_conninfo(text)
    assert PASSWORD not in text


def test_url_sslpassword_is_refused_so_it_never_reaches_argv(env_of):
    with pytest.raises(ConfigError, match="sslpassword") as caught:
        env_of("staging", STAGING_DATABASE_URL="postgresql://u@h/db?sslpassword=KeyPassphrase9")
    assert "KeyPassphrase9" not in str(caught.value)


# -- child environment -------------------------------------------------------------------------


def test_child_env_carries_the_password(direct):
    extra = argv.child_env(direct)
    assert extra["PGPASSWORD"] == PASSWORD
    assert extra["PGAPPNAME"] == "promptsync"
    assert extra["PGCONNECT_TIMEOUT"] == "10"


def test_child_env_without_password_has_no_pgpassword(docker_no_password):
    assert "PGPASSWORD" not in argv.child_env(docker_no_password)


def test_child_env_with_empty_url_password_has_no_pgpassword(env_of):
    env = env_of("staging", STAGING_DATABASE_URL="postgresql://u:@h/db")
    assert "PGPASSWORD" not in argv.child_env(env)


def test_child_environ_drops_an_inherited_pgpassword(monkeypatch, docker_no_password):
    monkeypatch.setenv("PGPASSWORD", "inherited-secret")
    assert "PGPASSWORD" not in session.child_environ(docker_no_password)


def test_child_environ_uses_the_environments_password(monkeypatch, docker):
    monkeypatch.setenv("PGPASSWORD", "inherited-secret")
    monkeypatch.setenv("SOME_OTHER", "kept")
    environ = session.child_environ(docker)
    assert environ["PGPASSWORD"] == PASSWORD
    assert environ["SOME_OTHER"] == "kept"


def test_docker_exec_names_exactly_the_child_env_variables(docker):
    args = argv.psql(docker)
    c = args.index("dev-coach-local-db-1")
    assert set(args[3:c][1::2]) == set(argv.child_env(docker))


# -- docker status calls -----------------------------------------------------------------------


def test_docker_info():
    assert argv.docker_info() == ["docker", "info"]


def test_docker_inspect_running():
    assert argv.docker_inspect_running("c1") == [
        "docker",
        "inspect",
        "--format",
        "{{.State.Running}}",
        "c1",
    ]
