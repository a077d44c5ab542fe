"""promptsync.config: environment variables (and .env) into validated Environment objects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptsync import config
from promptsync.config import SSLMODES, Environment, Table, load_settings, parse_tables
from promptsync.errors import ConfigError

SECRET = "Sup3r-S3cret-pw"

STAGING_PARTS = {
    "STAGING_DB_NAME": "dev_coach_staging",
    "STAGING_DB_USER": "staging_user",
    "STAGING_DB_PASSWORD": SECRET,
    "STAGING_DB_HOST": "staging.example.com",
    "STAGING_DB_PORT": "6543",
}
RENDER_URL = (
    "postgresql://dev_coach_user:p%40ss%2Fw%3Ard%25x@dpg-abc123-a.oregon-postgres.render.com"
    ":6543/dev_coach_db?sslmode=require&application_name=dev-coach"
)


# -- local -------------------------------------------------------------------------------


def test_local_defaults_reach_the_container_through_docker(env_of):
    env = env_of("local")
    assert env.name == "local"
    assert env.via_docker
    assert env.container == "dev-coach-local-db-1"
    assert env.dbname == "dev_coach"
    assert env.user == "postgres"
    assert env.password is None
    assert env.host is None and env.port is None


def test_local_docker_has_no_sslmode(env_of):
    assert env_of("local").params == ()


def test_local_variables_override_the_defaults(env_of):
    env = env_of(
        "local",
        LOCAL_DB_CONTAINER="my-db",
        LOCAL_DB_NAME="app",
        LOCAL_DB_USER="me",
        LOCAL_DB_PASSWORD=SECRET,
    )
    assert (env.container, env.dbname, env.user, env.password) == ("my-db", "app", "me", SECRET)
    assert env.via_docker


def test_local_empty_variables_fall_back_to_defaults(env_of):
    env = env_of("local", LOCAL_DB_CONTAINER="", LOCAL_DB_NAME="", LOCAL_DB_USER="")
    assert env.container == "dev-coach-local-db-1"
    assert (env.dbname, env.user) == ("dev_coach", "postgres")


def test_local_db_host_switches_to_a_direct_connection(env_of):
    env = env_of("local", LOCAL_DB_HOST="127.0.0.1", LOCAL_DB_CONTAINER="ignored")
    assert not env.via_docker
    assert env.container is None
    assert (env.host, env.port) == ("127.0.0.1", 5432)
    assert (env.dbname, env.user) == ("dev_coach", "postgres")
    assert dict(env.params)["sslmode"] == "prefer"


def test_local_direct_takes_port_password_and_sslmode(env_of):
    env = env_of(
        "local",
        LOCAL_DB_HOST="db.local",
        LOCAL_DB_PORT="5433",
        LOCAL_DB_PASSWORD=SECRET,
        LOCAL_DB_SSLMODE="disable",
    )
    assert (env.port, env.password, dict(env.params)["sslmode"]) == (5433, SECRET, "disable")


# -- staging / production from *_DB_* ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prefix", "canonical"),
    [
        ("staging", "STAGING", "staging"),
        ("production", "PROD", "production"),
        ("prod", "PROD", "production"),
        ("stage", "STAGING", "staging"),
    ],
)
def test_remote_environment_from_db_variables(env_of, name, prefix, canonical):
    env = env_of(
        name,
        **{
            f"{prefix}_DB_NAME": "appdb",
            f"{prefix}_DB_USER": "appuser",
            f"{prefix}_DB_PASSWORD": SECRET,
            f"{prefix}_DB_HOST": "db.example.com",
            f"{prefix}_DB_PORT": "6543",
        },
    )
    assert env.name == canonical
    assert not env.via_docker
    assert (env.dbname, env.user, env.password) == ("appdb", "appuser", SECRET)
    assert (env.host, env.port) == ("db.example.com", 6543)
    assert env.params == (("sslmode", "prefer"),)


def test_staging_port_defaults_to_5432(env_of):
    parts = {k: v for k, v in STAGING_PARTS.items() if k != "STAGING_DB_PORT"}
    assert env_of("staging", **parts).port == 5432


def test_staging_password_is_optional(env_of):
    parts = {k: v for k, v in STAGING_PARTS.items() if k != "STAGING_DB_PASSWORD"}
    env = env_of("staging", **parts)
    assert env.password is None
    assert env.secrets == ()


def test_production_does_not_read_staging_variables(env_of):
    with pytest.raises(ConfigError) as excinfo:
        env_of("production", **STAGING_PARTS)
    assert "PROD_DB_HOST" in str(excinfo.value)


@pytest.mark.parametrize("missing", ["STAGING_DB_HOST", "STAGING_DB_NAME", "STAGING_DB_USER"])
def test_a_missing_variable_is_named_exactly(env_of, missing):
    parts = {k: v for k, v in STAGING_PARTS.items() if k != missing}
    with pytest.raises(ConfigError) as excinfo:
        env_of("staging", **parts)
    message = str(excinfo.value)
    named = set(re.findall(r"STAGING_DB_[A-Z]+", message))
    assert named == {missing}
    assert "STAGING_DATABASE_URL" in message  # the alternative


@pytest.mark.parametrize("missing", ["STAGING_DB_HOST", "STAGING_DB_NAME", "STAGING_DB_USER"])
def test_an_empty_variable_counts_as_missing(env_of, missing):
    with pytest.raises(ConfigError, match=missing):
        env_of("staging", **{**STAGING_PARTS, missing: ""})


def test_nothing_set_names_every_staging_variable(env_of):
    with pytest.raises(ConfigError) as excinfo:
        env_of("staging")
    message = str(excinfo.value)
    for variable in ("STAGING_DB_NAME", "STAGING_DB_USER", "STAGING_DB_HOST"):
        assert variable in message
    assert "\n" not in message


def test_missing_prod_host_names_prod_db_host(env_of):
    with pytest.raises(ConfigError) as excinfo:
        env_of("prod", PROD_DB_NAME="d", PROD_DB_USER="u")
    assert set(re.findall(r"PROD_DB_[A-Z]+", str(excinfo.value))) == {"PROD_DB_HOST"}


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "5432x", " 5432", "54 32", "1e3"])
def test_bad_staging_db_port_is_named(env_of, port):
    with pytest.raises(ConfigError) as excinfo:
        env_of("staging", **{**STAGING_PARTS, "STAGING_DB_PORT": port})
    message = str(excinfo.value)
    assert "STAGING_DB_PORT" in message
    assert repr(port) in message


@pytest.mark.parametrize("port", ["1", "5432", "65535"])
def test_good_staging_db_ports(env_of, port):
    assert env_of("staging", **{**STAGING_PARTS, "STAGING_DB_PORT": port}).port == int(port)


def test_bad_local_db_port_is_named(env_of):
    with pytest.raises(ConfigError, match="LOCAL_DB_PORT"):
        env_of("local", LOCAL_DB_HOST="h", LOCAL_DB_PORT="http")


def test_superscript_digit_port_is_a_config_error(env_of):
    with pytest.raises(ConfigError, match="STAGING_DB_PORT"):
        env_of("staging", **{**STAGING_PARTS, "STAGING_DB_PORT": "\u00b2"})


# -- URLs --------------------------------------------------------------------------------------


def test_render_url_is_parsed(env_of):
    env = env_of("staging", STAGING_DATABASE_URL=RENDER_URL)
    assert env.user == "dev_coach_user"
    assert env.password == "p@ss/w:rd%x"  # %-escapes decoded
    assert env.host == "dpg-abc123-a.oregon-postgres.render.com"
    assert env.port == 6543
    assert env.dbname == "dev_coach_db"
    assert not env.via_docker


def test_url_query_parameters_are_kept_in_order(env_of):
    env = env_of("staging", STAGING_DATABASE_URL=RENDER_URL)
    assert env.params == (("sslmode", "require"), ("application_name", "dev-coach"))


def test_url_parameters_are_never_dropped(env_of):
    url = (
        "postgresql://u:pw@h/db?target_session_attrs=read-write&connect_timeout=3"
        "&sslrootcert=/etc/ssl/root.crt&keepalives_idle=30"
    )
    params = env_of("production", PROD_DATABASE_URL=url).params
    assert params == (
        ("target_session_attrs", "read-write"),
        ("connect_timeout", "3"),
        ("sslrootcert", "/etc/ssl/root.crt"),
        ("keepalives_idle", "30"),
        ("sslmode", "prefer"),
    )


def test_url_port_defaults_to_5432(env_of):
    assert env_of("staging", STAGING_DATABASE_URL="postgresql://u:pw@h/db").port == 5432


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_both_url_schemes_are_accepted(env_of, scheme):
    env = env_of("staging", STAGING_DATABASE_URL=f"{scheme}://u:pw@h:5555/db")
    assert (env.user, env.password, env.host, env.port, env.dbname) == ("u", "pw", "h", 5555, "db")


def test_url_user_and_dbname_are_unescaped(env_of):
    env = env_of("staging", STAGING_DATABASE_URL="postgresql://us%40er:pw@h/my%20db")
    assert (env.user, env.dbname) == ("us@er", "my db")


def test_url_without_password(env_of):
    env = env_of("staging", STAGING_DATABASE_URL="postgresql://u@h/db")
    assert env.password is None


def test_url_with_surrounding_whitespace(env_of):
    env = env_of("staging", STAGING_DATABASE_URL="  postgresql://u:pw@h/db \n")
    assert (env.host, env.dbname) == ("h", "db")


def test_url_wins_over_db_variables(env_of):
    env = env_of("staging", STAGING_DATABASE_URL="postgresql://u:pw@url-host/db", **STAGING_PARTS)
    assert env.host == "url-host"
    assert env.password == "pw"


def test_prod_database_url(env_of):
    env = env_of("prod", PROD_DATABASE_URL="postgresql://p:pw@prod-host:6000/proddb")
    assert (env.name, env.host, env.port, env.dbname) == ("production", "prod-host", 6000, "proddb")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"mysql://admin:{SECRET}@db.example.com/app", "postgresql://"),
        (f"http://admin:{SECRET}@db.example.com/app", "postgresql://"),
        (f"db.example.com/app?password={SECRET}", "postgresql://"),
        (f"postgresql://admin:{SECRET}@/app", "no host"),
        (f"postgresql://admin:{SECRET}@db.example.com", "no database"),
        (f"postgresql://admin:{SECRET}@db.example.com/", "no database"),
        (f"postgresql://admin:{SECRET}@db.example.com:abc/app", "bad port"),
        (f"postgresql://admin:{SECRET}@db.example.com:99999/app", "bad port"),
        (f"postgresql://admin:{SECRET}@db.example.com:-1/app", "bad port"),
        ("postgresql://db.example.com/app", "no user"),
        (f"postgresql://admin@db.example.com/app?password={SECRET}", "password"),
        (f"postgresql://admin:{SECRET}@db.example.com/app?host=other", "host"),
        (f"postgresql://admin:{SECRET}@db.example.com/app?Bad-Key=1", "bad parameter"),
        (f"postgresql://admin:{SECRET}@db.example.com/app?sslmode=sometimes", "sslmode"),
    ],
)
def test_malformed_url_is_named_without_the_password(env_of, url, why):
    with pytest.raises(ConfigError) as excinfo:
        env_of("staging", STAGING_DATABASE_URL=url)
    message = str(excinfo.value)
    assert "STAGING_DATABASE_URL" in message
    assert why in message
    assert SECRET not in message
    assert "\n" not in message


def test_url_port_zero_is_a_bad_port(env_of):
    with pytest.raises(ConfigError, match="bad port"):
        env_of("staging", STAGING_DATABASE_URL="postgresql://u:pw@h:0/db")


# -- sslmode -----------------------------------------------------------------------------------


def test_sslmode_defaults_to_prefer(env_of):
    assert dict(env_of("staging", **STAGING_PARTS).params)["sslmode"] == "prefer"


@pytest.mark.parametrize("mode", SSLMODES)
def test_every_libpq_sslmode_is_accepted(env_of, mode):
    env = env_of("staging", **STAGING_PARTS, STAGING_DB_SSLMODE=mode)
    assert env.params == (("sslmode", mode),)


def test_prod_sslmode_variable(env_of):
    env = env_of(
        "production", PROD_DATABASE_URL="postgresql://u:pw@h/db", PROD_DB_SSLMODE="require"
    )
    assert dict(env.params)["sslmode"] == "require"


def test_staging_sslmode_does_not_apply_to_production(env_of):
    env = env_of(
        "production", PROD_DATABASE_URL="postgresql://u:pw@h/db", STAGING_DB_SSLMODE="require"
    )
    assert dict(env.params)["sslmode"] == "prefer"


@pytest.mark.parametrize("mode", ["yes", "REQUIRE", "true", "verify_full"])
def test_invalid_sslmode_names_the_variable(env_of, mode):
    with pytest.raises(ConfigError) as excinfo:
        env_of("staging", **STAGING_PARTS, STAGING_DB_SSLMODE=mode)
    assert "STAGING_DB_SSLMODE" in str(excinfo.value)
    assert repr(mode) in str(excinfo.value)


def test_invalid_sslmode_with_url_names_the_variable(env_of):
    with pytest.raises(ConfigError, match="PROD_DB_SSLMODE"):
        env_of("prod", PROD_DATABASE_URL="postgresql://u:pw@h/db", PROD_DB_SSLMODE="on")


def test_sslmode_from_url_is_kept_once(env_of):
    env = env_of("staging", STAGING_DATABASE_URL=RENDER_URL, STAGING_DB_SSLMODE="disable")
    assert [v for k, v in env.params if k == "sslmode"] == ["require"]


# -- .env --------------------------------------------------------------------------------------


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
    return path


def test_dotenv_alone_configures_staging(tmp_path):
    dotenv = write_env(tmp_path / ".env", **STAGING_PARTS)
    env = config.environment(load_settings({}, dotenv=dotenv), "staging")
    assert (env.host, env.port, env.password) == ("staging.example.com", 6543, SECRET)


def test_real_environment_wins_over_dotenv(tmp_path):
    dotenv = write_env(tmp_path / ".env", **STAGING_PARTS)
    settings = load_settings({"STAGING_DB_HOST": "from-environment"}, dotenv=dotenv)
    env = config.environment(settings, "staging")
    assert env.host == "from-environment"
    assert env.dbname == "dev_coach_staging"  # the rest still comes from the file


def test_dotenv_values_with_spaces_and_hashes(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nSTAGING_DATABASE_URL='postgresql://u:a%20b%23c@h/db'\n")
    env = config.environment(load_settings({}, dotenv=dotenv), "staging")
    assert env.password == "a b#c"


def test_promptsync_env_file_chooses_the_file(tmp_path):
    dotenv = write_env(
        tmp_path / "custom.env", PROD_DB_HOST="from-file", PROD_DB_NAME="d", PROD_DB_USER="u"
    )
    settings = load_settings({"PROMPTSYNC_ENV_FILE": str(dotenv)})
    assert config.environment(settings, "prod").host == "from-file"


def test_a_missing_dotenv_file_is_fine(tmp_path):
    settings = load_settings({"STAGING_DB_HOST": "h"}, dotenv=tmp_path / "nope.env")
    assert settings.get("STAGING_DB_HOST") == "h"


def test_os_environ_is_read_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTSYNC_ENV_FILE", str(tmp_path / "nope.env"))
    monkeypatch.setenv("PROD_DB_HOST", "from-os-environ")
    assert load_settings().get("PROD_DB_HOST") == "from-os-environ"


# -- tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, ""])
def test_default_table_is_public_prompts(raw):
    assert parse_tables(raw) == (Table("public", "prompts"),)


def test_settings_default_tables(settings_of):
    assert settings_of().tables == (Table("public", "prompts"),)


@pytest.mark.parametrize(
    ("raw", "tables"),
    [
        ("prompts", [("public", "prompts")]),
        ("app.prompts", [("app", "prompts")]),
        (" prompts , app.templates ", [("public", "prompts"), ("app", "templates")]),
        ("Prompts", [("public", "Prompts")]),
        ("prompts,prompt_versions", [("public", "prompts"), ("public", "prompt_versions")]),
        ("_x$1", [("public", "_x$1")]),
        ("a" * 63, [("public", "a" * 63)]),
    ],
)
def test_table_lists(raw, tables):
    assert parse_tables(raw) == tuple(Table(*t) for t in tables)


def test_promptsync_tables_from_settings(settings_of):
    assert settings_of(PROMPTSYNC_TABLES="app.prompts").tables == (Table("app", "prompts"),)


@pytest.mark.parametrize(
    "raw",
    [
        "prompts; drop table x",
        "prompts;drop",
        "a.b.c",
        "prompts,",
        " , ",
        ".prompts",
        "public.",
        "1prompts",
        "pro mpts",
        'public."prompts"',
        "prompts--",
        "a" * 64,
    ],
)
def test_invalid_table_names_are_rejected(raw):
    with pytest.raises(ConfigError, match="PROMPTSYNC_TABLES"):
        parse_tables(raw)


def test_invalid_promptsync_tables_fails_at_load(no_dotenv):
    with pytest.raises(ConfigError, match="PROMPTSYNC_TABLES"):
        load_settings({"PROMPTSYNC_TABLES": "prompts; drop table x"}, dotenv=no_dotenv)


def test_a_table_named_twice_is_rejected():
    with pytest.raises(ConfigError, match="twice"):
        parse_tables("prompts, public.prompts")


def test_table_error_names_the_given_variable():
    with pytest.raises(ConfigError, match="--table"):
        parse_tables("x;y", "--table")


def test_newline_inside_a_table_name_is_rejected():
    with pytest.raises(ConfigError):
        parse_tables("public\n.prompts")


@pytest.mark.parametrize(
    ("table", "qualified", "text"),
    [
        (Table("public", "prompts"), "public.prompts", "public.prompts"),
        (Table("public", "Prompts"), 'public."Prompts"', "public.Prompts"),
        (Table("app", "x$y"), 'app."x$y"', "app.x$y"),
    ],
)
def test_table_names(table, qualified, text):
    assert table.qualified == qualified
    assert str(table) == text


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("prompts", "prompts"), ("Prompts", '"Prompts"'), ('we"ird', '"we""ird"'), ("a b", '"a b"')],
)
def test_quote_ident(name, quoted):
    assert config.quote_ident(name) == quoted


# -- configured environments and names ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "configured"),
    [
        ({}, []),
        ({"LOCAL_DB_CONTAINER": "c"}, ["local"]),
        ({"LOCAL_DB_HOST": "h"}, ["local"]),
        ({"LOCAL_DB_NAME": "x", "LOCAL_DB_PASSWORD": "pw"}, []),
        ({"STAGING_DATABASE_URL": "postgresql://u@h/d"}, ["staging"]),
        ({"STAGING_DB_HOST": "h"}, ["staging"]),
        ({"STAGING_DB_NAME": "d", "STAGING_DB_USER": "u"}, []),
        ({"PROD_DATABASE_URL": "postgresql://u@h/d"}, ["production"]),
        ({"PROD_DB_HOST": "h"}, ["production"]),
        ({"STAGING_DB_HOST": "", "LOCAL_DB_CONTAINER": ""}, []),
        (
            {"PROD_DB_HOST": "h", "STAGING_DB_HOST": "h", "LOCAL_DB_CONTAINER": "c"},
            ["local", "staging", "production"],
        ),
    ],
)
def test_configured_environments(settings_of, variables, configured):
    assert config.configured_environments(settings_of(**variables)) == configured


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("prod", "production"),
        ("PROD", "production"),
        ("stage", "staging"),
        (" Staging ", "staging"),
        ("local", "local"),
        ("preview-42", "preview-42"),
    ],
)
def test_canonical_names(given, canonical):
    assert config.canonical_name(given) == canonical


@pytest.mark.parametrize("name", ["no such", "", "../etc", "a;b", "1abc", "prod/uction", "x" * 42])
def test_invalid_environment_names(name):
    with pytest.raises(ConfigError, match="unknown environment"):
        config.canonical_name(name)


def test_an_unconfigured_extra_environment_is_unknown(env_of):
    with pytest.raises(ConfigError) as excinfo:
        env_of("nowhere")
    message = str(excinfo.value)
    assert "unknown environment 'nowhere'" in message
    assert "NOWHERE_DATABASE_URL" in message


def test_an_extra_environment_is_defined_by_its_variables(env_of):
    env = env_of("preview-42", PREVIEW_42_DATABASE_URL="postgresql://u:pw@pv/db")
    assert (env.name, env.host, env.dbname) == ("preview-42", "pv", "db")


# -- secrets never printed ---------------------------------------------------------------------


def all_kinds(env_of) -> list[Environment]:
    return [
        env_of("local", LOCAL_DB_PASSWORD=SECRET),
        env_of("local", LOCAL_DB_HOST="h", LOCAL_DB_PASSWORD=SECRET),
        env_of("staging", **STAGING_PARTS),
        env_of(
            "staging", STAGING_DATABASE_URL=f"postgresql://u:{SECRET}@h:6543/db?sslmode=require"
        ),
    ]


def test_display_never_contains_the_password(env_of):
    for env in all_kinds(env_of):
        assert env.password == SECRET
        assert SECRET not in env.display


def test_repr_and_str_never_contain_the_password(env_of):
    for env in all_kinds(env_of):
        assert SECRET not in repr(env)
        assert SECRET not in str(env)


@pytest.mark.parametrize(
    ("variables", "name", "display"),
    [
        ({}, "local", "postgres@docker:dev-coach-local-db-1/dev_coach"),
        (STAGING_PARTS, "staging", "staging_user@staging.example.com:6543/dev_coach_staging"),
        ({"PROD_DATABASE_URL": f"postgresql://u:{SECRET}@h/db"}, "prod", "u@h:5432/db"),
    ],
)
def test_display(env_of, variables, name, display):
    assert env_of(name, **variables).display == display


def test_secrets_are_the_password(env_of):
    assert env_of("staging", **STAGING_PARTS).secrets == (SECRET,)
    assert env_of("local").secrets == ()


def test_environment_is_frozen(env_of):
    env = env_of("local")
    with pytest.raises(AttributeError):
        env.host = "elsewhere"  # type: ignore[misc]


# -- Settings helpers --------------------------------------------------------------------------


def test_settings_get_treats_empty_as_unset(settings_of):
    settings = settings_of(X="", Y="y")
    assert settings.get("X", "default") == "default"
    assert settings.get("Y") == "y"
    assert settings.get("Z") is None


@pytest.mark.parametrize(("raw", "value"), [(None, 7), ("", 7), ("0", 0), ("12", 12)])
def test_int_setting(settings_of, raw, value):
    settings = settings_of() if raw is None else settings_of(N=raw)
    assert settings.int_setting("N", 7) == value


@pytest.mark.parametrize("raw", ["x", "1.5", "-1"])
def test_int_setting_errors_name_the_variable(settings_of, raw):
    with pytest.raises(ConfigError, match="^N must"):
        settings_of(N=raw).int_setting("N", 7)


# -- *_DB_SSLROOTCERT -----------------------------------------------------------------------


def test_sslrootcert_variable_becomes_a_parameter(env_of, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = env_of(
        "staging",
        STAGING_DB_HOST="db",
        STAGING_DB_NAME="n",
        STAGING_DB_USER="u",
        STAGING_DB_SSLMODE="verify-full",
        STAGING_DB_SSLROOTCERT=str(ca),
    )
    assert env.params == (("sslmode", "verify-full"), ("sslrootcert", str(ca)))


def test_sslrootcert_in_the_url_wins_over_the_variable(env_of, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    env = env_of(
        "production",
        PROD_DATABASE_URL="postgresql://u:p@h/db?sslmode=verify-ca&sslrootcert=/from/url.crt",
        PROD_DB_SSLROOTCERT=str(ca),
    )
    assert env.params == (("sslmode", "verify-ca"), ("sslrootcert", "/from/url.crt"))


def test_sslrootcert_system_is_passed_on(env_of):
    env = env_of(
        "staging", STAGING_DATABASE_URL="postgresql://u@h/db", STAGING_DB_SSLROOTCERT="system"
    )
    assert ("sslrootcert", "system") in env.params


def test_a_missing_sslrootcert_file_is_named(env_of, tmp_path):
    with pytest.raises(ConfigError, match=r"^PROD_DB_SSLROOTCERT: .*missing.crt is not a file"):
        env_of(
            "production",
            PROD_DATABASE_URL="postgresql://u@h/db",
            PROD_DB_SSLROOTCERT=str(tmp_path / "missing.crt"),
        )
