"""`promptsync verify [ENV...]` and `promptsync check [ENV...]`: look, never change.

verify: row count and checksum of every table in every environment, computed server-side in
parallel, shown side by side; exit 1 naming the environments that differ.
check: the preflight alone, with the versions of the servers and tools, the privileges a sync
needs, user triggers, and schema drift between the environments (exit 3 when a sync would be
refused).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from promptsync import guards, log, output, pooler, preflight, retry, snapshotfile, sources
from promptsync.config import Environment, Settings, Table, configured_environments, environment
from promptsync.errors import (
    EXIT_DIFFERENCES,
    EXIT_OK,
    EXIT_REFUSED,
    ConfigError,
    PromptsyncError,
)
from promptsync.fingerprint import Fingerprint, of_environment
from promptsync.tools import Tools, find_tools


def environments(settings: Settings, names: list[str]) -> list[Environment]:
    names = names or configured_environments(settings)
    if not names:
        raise ConfigError(
            "no environment is configured: set LOCAL_DB_CONTAINER or LOCAL_DB_HOST, "
            "STAGING_DATABASE_URL or STAGING_DB_*, PROD_DATABASE_URL or PROD_DB_*"
        )
    envs = [environment(settings, n) for n in names]
    for env in envs:
        log.add_secrets(env.secrets)
    return envs


def _fingerprints(
    settings: Settings, env: Environment, tools: Tools, fast: bool
) -> dict[Table, Fingerprint]:
    return retry.call(settings, lambda: of_environment(env, tools, settings.tables, fast))


def verify(settings: Settings, names: list[str], fast: bool = False) -> int:
    """Environments by name (default: the configured ones) and snapshot files (file:PATH).
    By default every row is read and hashed: verify is the check of last resort. `fast` lets
    each database's own ledger vouch for the rows that are the versions it recorded, and says
    so."""
    files = [n for n in names if sources.is_file(n)]
    envs = (
        []
        if names and len(files) == len(names)
        else environments(settings, [n for n in names if not sources.is_file(n)])
    )
    tools = find_tools(settings.get("PROMPTSYNC_PG_BIN")) if envs else None
    results = {
        f: snapshotfile.read(Path(f[len(sources.FILE_PREFIX) :]), settings.tables).fingerprints()
        for f in files
    }
    with ThreadPoolExecutor(max_workers=max(len(envs), 1)) as pool:
        futures = {env.name: pool.submit(_fingerprints, settings, env, tools, fast) for env in envs}
        results.update({name: future.result() for name, future in futures.items()})
    order = files + [env.name for env in envs]
    width = max(len(str(t)) for t in settings.tables) + 2
    col = 32
    lines = [("table".ljust(width) + "".join(n.ljust(col) for n in order)).rstrip()]
    differing: set[str] = set()
    for table in settings.tables:
        prints = [results[n][table] for n in order]
        cells = "".join(f"{p.rows:>10,} rows  {p.short}".ljust(col) for p in prints)
        lines.append((str(table).ljust(width) + cells).rstrip())
        differing.update(n for n, p in zip(order, prints, strict=True) if p != prints[0])
    output.text(lines)
    output.put("environments", order)
    output.put(
        "tables",
        {
            str(t): {
                n: {"rows": results[n][t].rows, "checksum": results[n][t].checksum} for n in order
            }
            for t in settings.tables
        },
    )
    output.put("differing", sorted(differing))
    output.put("fast", fast)
    if differing:
        log.info(
            f"{', '.join(sorted(differing))} differ{'s' if len(differing) == 1 else ''} "
            f"from {order[0]}"
        )
        return EXIT_DIFFERENCES
    log.info(f"all {len(order)} environments match" if len(order) > 1 else "one environment")
    return EXIT_OK


def check(settings: Settings, names: list[str]) -> int:
    """Per environment: the server, the client tools chosen for it and why, whether the
    connection is encrypted, the tables; then the privileges a sync would lack, user triggers
    and schema drift between the environments. Exit 4 when one cannot be reached with the
    tools available (2 when PROMPTSYNC_PG_BIN cannot work for it), 3 when a sync would be
    refused (drift, privileges, row level security)."""
    envs = environments(settings, names)
    tools = find_tools(settings.get("PROMPTSYNC_PG_BIN"))
    code = EXIT_OK
    inspected: dict[str, preflight.Inspection] = {}
    for env in envs:
        try:
            session, server = preflight.connect(env, tools)
            with session:
                infos = preflight.describe_tables(session, settings.tables)
                dump = preflight.check_dump_client(env, tools, server)
                inspected[env.name] = preflight.inspect(session, infos)
            preflight.check_writable(env, server)
        except PromptsyncError as exc:
            code = max(code, exc.exit_code)
            state = "REFUSED" if exc.exit_code == EXIT_REFUSED else "FAILED"
            sys.stdout.write(f"{env.name}: {state}  {env.display}\n")
            log.error(str(exc))
            continue
        tables = ", ".join(f"{i.table} (key {i.pk})" for i in infos.values())
        pooled = server.pooling.mode != pooler.DIRECT
        client = "the container's own pg_dump and psql" if env.via_docker else dump
        sys.stdout.write(
            f"{env.name}: ok  {env.display}\n"
            f"  server      PostgreSQL {server.version}\n"
            f"  client      {client}\n"
            f"  connection  {server.connection}\n"
            + (f"  pooler      {server.pooling.describe()}\n" if pooled else "")
            + f"  tables      {tables}\n"
        )
    lines = [line for name, found in inspected.items() for line in found.lines(name)]
    drift, drifted = guards.compare_schemas(
        settings.tables, {name: found.columns for name, found in inspected.items()}
    )
    sys.stdout.write("".join(f"{line}\n" for line in lines + drift))
    lacking = any(found.missing for found in inspected.values())
    return max(code, EXIT_REFUSED) if drifted or lacking else code
