"""Configuration: environment variables (and a .env file) into frozen, validated objects.

Loaded once at the CLI edge. Every missing or malformed setting raises ConfigError naming the
variable to set, before anything touches a database.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from promptsync.errors import ConfigError

DEFAULT_CONTAINER = "dev-coach-local-db-1"
DEFAULT_TABLES = "prompts"
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Canonical name -> variable prefix. Any other name maps to its own prefix (preview-42 ->
# PREVIEW_42), so extra environments work like staging.
BUILTIN_PREFIXES = {"local": "LOCAL", "staging": "STAGING", "production": "PROD"}
ALIASES = {"prod": "production", "stage": "staging"}
ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


@dataclass(frozen=True)
class Table:
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        """schema.name, each part double-quoted only when PostgreSQL requires it."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def quote_ident(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Environment:
    """Where one environment's database lives and how to reach it."""

    name: str
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)
    host: str | None = None  # None: reached through `docker exec` into `container`
    port: int | None = None
    container: str | None = None
    params: tuple[tuple[str, str], ...] = ()  # libpq parameters kept from the URL (sslmode...)

    @property
    def via_docker(self) -> bool:
        return self.host is None

    @property
    def display(self) -> str:
        """What may be printed: never a password."""
        if self.via_docker:
            return f"{self.user}@docker:{self.container}/{self.dbname}"
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()


@dataclass(frozen=True)
class Settings:
    """Everything promptsync reads from its environment."""

    values: Mapping[str, str] = field(repr=False)
    tables: tuple[Table, ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def int_setting(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """Real environment variables win over the .env file."""
    environ = dict(os.environ if environ is None else environ)
    path = dotenv or Path(environ.get("PROMPTSYNC_ENV_FILE", ".env"))
    merged: dict[str, str] = {}
    try:
        if path.is_file():
            from dotenv import dotenv_values  # here: without a .env file, no import (15 ms)

            merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    except OSError as exc:
        raise ConfigError(
            f"cannot read the settings file {path}: {exc.strerror or exc} (set "
            "PROMPTSYNC_ENV_FILE to a readable file, or run from another directory)"
        ) from None
    merged.update(environ)
    return Settings(values=merged, tables=parse_tables(merged.get("PROMPTSYNC_TABLES")))


def parse_tables(raw: str | None, variable: str = "PROMPTSYNC_TABLES") -> tuple[Table, ...]:
    tables = []
    for item in (raw or DEFAULT_TABLES).split(","):
        item = item.strip()
        parts = item.split(".")
        if not item or len(parts) > 2 or not all(IDENT_RE.fullmatch(p) for p in parts):
            raise ConfigError(
                f"{variable}: {item!r} is not a table name (expected name or schema.name)"
            )
        tables.append(Table("public", parts[0]) if len(parts) == 1 else Table(*parts))
    if len(set(tables)) != len(tables):
        raise ConfigError(f"{variable} names a table twice")
    return tuple(tables)


def canonical_name(name: str) -> str:
    name = name.strip().lower()
    name = ALIASES.get(name, name)
    if not ENV_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"unknown environment {name!r}: use local, staging, production or a name "
            "like preview-42"
        )
    return name


def prefix_of(name: str) -> str:
    return BUILTIN_PREFIXES.get(name, name.upper().replace("-", "_"))


def is_configured(settings: Settings, name: str) -> bool:
    p = prefix_of(name)
    if name == "local":
        return bool(settings.get("LOCAL_DB_CONTAINER") or settings.get("LOCAL_DB_HOST"))
    return bool(settings.get(f"{p}_DATABASE_URL") or settings.get(f"{p}_DB_HOST"))


def configured_environments(settings: Settings) -> list[str]:
    names = [n for n in ("local", "staging", "production") if is_configured(settings, n)]
    return names


def environment(settings: Settings, name: str) -> Environment:
    """The named environment, validated; ConfigError names what to set."""
    name = canonical_name(name)
    p = prefix_of(name)
    if name == "local" and not settings.get("LOCAL_DB_HOST"):
        return Environment(
            name="local",
            dbname=settings.get("LOCAL_DB_NAME", "dev_coach") or "dev_coach",
            user=settings.get("LOCAL_DB_USER", "postgres") or "postgres",
            password=settings.get("LOCAL_DB_PASSWORD"),
            container=settings.get("LOCAL_DB_CONTAINER", DEFAULT_CONTAINER),
        )
    if name not in BUILTIN_PREFIXES and not is_configured(settings, name):
        raise ConfigError(
            f"unknown environment {name!r}: set {p}_DATABASE_URL or {p}_DB_HOST "
            f"(with {p}_DB_NAME, {p}_DB_USER) to define it"
        )
    url = settings.get(f"{p}_DATABASE_URL")
    if url:
        env = _from_url(name, f"{p}_DATABASE_URL", url)
        if env.password is None and settings.get(f"{p}_DB_PASSWORD"):
            env = dataclasses.replace(env, password=settings.get(f"{p}_DB_PASSWORD"))
    else:
        defaults = {"NAME": "dev_coach", "USER": "postgres"} if name == "local" else {}
        missing = [
            f"{p}_DB_{key}"
            for key in ("NAME", "USER", "HOST")
            if not settings.get(f"{p}_DB_{key}", defaults.get(key))
        ]
        if missing:
            hint = "" if name == "local" else f" (or set {p}_DATABASE_URL)"
            raise ConfigError(f"{name} is not configured: set {', '.join(missing)}{hint}")
        env = Environment(
            name=name,
            dbname=settings.get(f"{p}_DB_NAME", defaults.get("NAME")) or "",
            user=settings.get(f"{p}_DB_USER", defaults.get("USER")) or "",
            password=settings.get(f"{p}_DB_PASSWORD"),
            host=settings.get(f"{p}_DB_HOST"),
            port=_port(f"{p}_DB_PORT", settings.get(f"{p}_DB_PORT", "5432") or "5432"),
        )
    return _with_sslmode(env, settings, p)


def _port(variable: str, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
        raise ConfigError(f"{variable} must be a port number (1-65535), got {raw!r}")
    return int(raw)


def _from_url(name: str, variable: str, url: str) -> Environment:
    bad = f"{variable} is not a valid postgresql:// URL"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{bad} (bad port)") from None
    if port == 0:
        raise ConfigError(f"{bad} (bad port)")
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"{bad} (it must start with postgresql://)")
    if not parts.hostname:
        raise ConfigError(f"{bad} (no host)")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError(f"{bad} (no database name after the host)")
    if not parts.username:
        raise ConfigError(f"{bad} (no user)")
    params = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if not re.fullmatch(r"[a-z_]+", key):
            raise ConfigError(f"{bad} (bad parameter {key!r})")
        if key in ("password", "host", "port", "dbname", "user"):
            raise ConfigError(f"{bad} (put {key} in the URL itself, not as a parameter)")
        if key == "sslpassword":
            raise ConfigError(
                f"{bad}: sslpassword would show on command lines; use a key file without a "
                "passphrase for promptsync"
            )
        params.append((key, value))
    return Environment(
        name=name,
        dbname=dbname,
        user=unquote(parts.username),
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port or 5432,
        params=tuple(params),
    )


def _with_sslmode(env: Environment, settings: Settings, prefix: str) -> Environment:
    variable = f"{prefix}_DB_SSLMODE"
    given = settings.get(variable)
    if given is not None and given not in SSLMODES:
        raise ConfigError(f"{variable} must be one of {', '.join(SSLMODES)}, got {given!r}")
    keys = {k for k, _ in env.params}
    if "sslmode" in keys:
        mode = dict(env.params)["sslmode"]
        if mode not in SSLMODES:
            raise ConfigError(f"sslmode={mode!r} in {prefix}_DATABASE_URL is not a libpq sslmode")
        return _with_sslrootcert(env, settings, prefix)
    if env.via_docker:
        return env
    params = env.params + (("sslmode", given or "prefer"),)
    return _with_sslrootcert(Environment(**{**env.__dict__, "params": params}), settings, prefix)


def _with_sslrootcert(env: Environment, settings: Settings, prefix: str) -> Environment:
    """`*_DB_SSLROOTCERT`: the CA certificate(s) that verify-ca / verify-full check the server
    against (libpq's sslrootcert). One given in the URL wins."""
    variable = f"{prefix}_DB_SSLROOTCERT"
    given = settings.get(variable)
    if given is None or env.via_docker or "sslrootcert" in {k for k, _ in env.params}:
        return env
    if given != "system" and not Path(given).expanduser().is_file():
        raise ConfigError(f"{variable}: {given} is not a file (a CA certificate in PEM form)")
    params = env.params + (
        ("sslrootcert", str(Path(given).expanduser()) if given != "system" else given),
    )
    return Environment(**{**env.__dict__, "params": params})
