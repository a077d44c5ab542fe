"""make bench: promptsync against the floor (pg_dump | psql) and the old Django way.

    .venv/bin/python bench/run.py                      # 1k and 100k rows (the default)
    BENCH_ROWS=1000000 .venv/bin/python bench/run.py    # adds 1M rows to the default sizes
    BENCH_ROWS=1000,10000 .venv/bin/python bench/run.py  # a list replaces them

Starts a source and a target PostgreSQL server (throwaway, in a temporary directory, destroyed
at the end, also on Ctrl-C). The source server holds a developer's database (`seed`, filled
with realistic prompts by bench/fill.sql at each size) and staging, which gets them from seed
through promptsync, as it does in real life: staging is then a former target with its own
ledger, the production build's source. Each case changes seed and promotes it to staging
(not timed), then times staging -> production, once each after one warm-up of the floor:

  floor        pg_dump --data-only --table=public.prompts | psql --single-transaction, into an
               empty table (same server tools as promptsync: the servers' bin directory)
  promptsync   `python -m promptsync sync staging production --force --yes` when every row
               differs (a new, empty target; every row of staging changed since the target's
               last promotion), when 1% differs, when nothing differs (with the bytes shipped
               to the target); `verify` (every row read) and `verify --fast` (the ledgers)
  old way      bench/oldway.py: the Django ORM (delete + bulk_create) and plain psycopg
               (DELETE + executemany in one transaction), each for every-row and 1% cases
  readers      worst latency of a client querying the live target every 10 ms during
               promptsync's syncs (separate runs, so the reader's load does not skew the times)
  memory       peak RSS of the orchestrating Python process (bench/peak.py)

Writes docs/benchmarks.md and docs/benchmarks.svg; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import chart
import measure
import report
import serverlog
from measure import Reader, Run

from promptsync.throwaway import Server, find_server_bindir, start_server

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DOCS = ROOT / "docs"
DEFAULT_ROWS = "1000,100000"
CHANGED_EVERY = 100  # 1% of the rows: id % 100 = 0
OUR_PREFIXES = ("PG", "PROMPTSYNC_", "LOCAL_DB_", "STAGING_", "PROD_", "DJANGO_", "BENCH_")
SOURCE_ENV, TARGET_ENV = "staging", "production"  # the names promptsync sees
SEED_ENV, SEED_DB = "seed", "seed"  # where a developer changes prompts (local, in real life)
REVISED = " (revised)"  # appended to a body to change it, removed to change it back
AFTER = 0.3  # seconds the reader goes on after a sync: its row counts, not its latencies
MAX_STATEMENT = 1_000_000_000  # PostgreSQL refuses a message (an INSERT's SQL) past 1 GB
FRESH_TARGET = "DROP SCHEMA IF EXISTS promptsync CASCADE;"  # no ledger, no history

T0 = time.monotonic()


def say(message: str) -> None:
    sys.stderr.write(f"[{time.monotonic() - T0:6.1f} s] {message}\n")
    sys.stderr.flush()


def sizes_from_env() -> list[int]:
    """BENCH_ROWS: one size is added to the default sizes (BENCH_ROWS=1000000: 1k, 100k and
    1M); a comma-separated list replaces them (BENCH_ROWS=1000,10000)."""
    raw = os.environ.get("BENCH_ROWS", "").strip()
    try:
        listed = {int(s.strip().replace("_", "")) for s in raw.split(",") if s.strip()}
    except ValueError:
        raise SystemExit(
            f"bench: BENCH_ROWS={raw!r}: expected row counts like 1000000 or 1000,100000"
        ) from None
    if "," not in raw:
        listed |= {int(s) for s in DEFAULT_ROWS.split(",")}
    if min(listed) < CHANGED_EVERY:
        raise SystemExit(f"bench: BENCH_ROWS={raw!r}: every size must be at least 100")
    return sorted(listed)


def checksum(server: Server, dbname: str | None = None) -> str:
    """Row count and a hash of every row in id order: an independent check of each copy."""
    sql = (
        "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), ',' ORDER BY id)), '')"
        " FROM public.prompts t"
    )
    return server.psql(sql, dbname=dbname).strip()


class Bench:
    def __init__(self, workdir: Path, source: Server, target: Server) -> None:
        self.workdir, self.source, self.target = workdir, source, target
        base = {k: v for k, v in os.environ.items() if not k.startswith(OUR_PREFIXES)}
        base["PYTHONUNBUFFERED"] = "1"
        self.promptsync_env = base | {
            "SEED_DATABASE_URL": source.url(dbname=SEED_DB),
            "STAGING_DATABASE_URL": source.url(),
            "PROD_DATABASE_URL": target.url(),
            "PROMPTSYNC_PG_BIN": str(source.bindir),
            "PROMPTSYNC_RETRIES": "0",
            "PROMPTSYNC_ENV_FILE": "/nonexistent",
        }
        self.oldway_env = base | {
            "BENCH_SOURCE_URL": source.url(),
            "BENCH_TARGET_URL": target.url(),
        }
        self.source_env = base | {"PGPASSWORD": source.password}
        self.target_env = base | {"PGPASSWORD": target.password}
        self.fill_sql = (BENCH / "fill.sql").read_text()

    # -- the servers' state between measurements (not timed) ---------------------------------

    def prepare(self) -> None:
        schema = (ROOT / "sql" / "demo" / "schema.sql").read_text()
        self.source.psql(schema)
        self.source.psql(f"CREATE DATABASE {SEED_DB}", dbname="postgres")
        self.source.psql(schema, dbname=SEED_DB)
        self.target.psql(schema)
        self.target.psql("CREATE DATABASE floor", dbname="postgres")
        self.target.psql(schema, dbname="floor")
        self.traced = all([serverlog.enable(self.source), serverlog.enable(self.target)])

    def fill(self, rows: int) -> dict:
        """seed filled afresh, and staging a new target that gets it through promptsync."""
        out = self.source.psql(f"\\set rows {rows}\n{self.fill_sql}", dbname=SEED_DB)
        count, body, table = out.strip().splitlines()[-1].split("|")
        assert int(count) == rows, out
        self.source.psql(f"TRUNCATE public.prompts;\n{FRESH_TARGET}")
        self.stage()
        return {"avg_body_bytes": int(body), "table_bytes": int(table)}

    def stage(self) -> None:
        """seed -> staging through promptsync (not timed): staging's ledger vouches for it."""
        args = ["-m", "promptsync", "sync", SEED_ENV, SOURCE_ENV, "--force", "--yes"]
        measure.run_python(args, self.promptsync_env, self.workdir).check(0)
        self.source.psql("VACUUM ANALYZE public.prompts;\nCHECKPOINT;")

    def settle(self, dbname: str | None = None) -> None:
        """Vacuum and checkpoint the target, so no measurement pays for the previous one's."""
        self.target.psql("VACUUM ANALYZE public.prompts;\nCHECKPOINT;", dbname=dbname)

    def empty_target(self, dbname: str | None = None) -> None:
        """A new target: an empty table, never promoted to (no ledger)."""
        self.target.psql(f"TRUNCATE public.prompts;\n{FRESH_TARGET}", dbname=dbname)
        self.settle(dbname)

    def revise(self, where: str) -> None:
        """A developer's change in seed (the rows `where` says revised, or revised back),
        promoted to staging: the target now lags behind staging by those rows."""
        self.source.psql(
            f"UPDATE public.prompts SET body = CASE WHEN body LIKE '%{REVISED}'"
            f" THEN left(body, -{len(REVISED)}) ELSE body || '{REVISED}' END,"
            f" updated_at = updated_at + interval '1 day' WHERE {where};",
            dbname=SEED_DB,
        )
        self.stage()
        self.settle()

    def change_one_percent(self) -> None:
        self.revise(f"id % {CHANGED_EVERY} = 0")

    def change_every_row(self) -> None:
        """The target holds staging's keys, every row with other content."""
        self.revise("true")

    def expect_copy(self, label: str, dbname: str | None = None) -> None:
        want, got = checksum(self.source), checksum(self.target, dbname)
        if want != got:
            raise RuntimeError(f"{label}: the target does not equal the source ({got} != {want})")

    # -- the commands -------------------------------------------------------------------------

    def _conn(self, server: Server, dbname: str | None = None) -> list[str]:
        return ["-h", server.host, "-p", str(server.port), "-U", server.user,
                "-d", dbname or server.dbname, "--no-password"]  # fmt: skip

    def dump_argv(self) -> list[str]:
        return [str(self.source.bindir / "pg_dump"), "--data-only", "--table=public.prompts",
                *self._conn(self.source)]  # fmt: skip

    def load_argv(self) -> list[str]:
        return [str(self.target.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "--single-transaction", *self._conn(self.target, "floor")]  # fmt: skip

    def floor(self) -> float:
        self.empty_target("floor")
        return measure.pipeline(
            self.dump_argv(), self.source_env, self.load_argv(), self.target_env
        )

    def promptsync(self, *args: str, expect: int = 0, transfer: str = "auto") -> Run:
        tails = [serverlog.Tail(s) for s in (self.source, self.target)] if self.traced else []
        env = self.promptsync_env | {"PROMPTSYNC_TRANSFER": transfer}
        run = measure.run_python(["-m", "promptsync", *args], env, self.workdir).check(expect)
        statements = sorted((s for t in tails for s in t.read()), key=lambda s: s.ended)
        run.statements = [
            {"at": s.ended - run.wall_started, "server": s.server, "ms": s.ms, "name": s.name}
            for s in statements
        ]
        return run

    def sync(self, transfer: str = "auto") -> tuple[Run, dict]:
        run = self.promptsync(
            "sync", SOURCE_ENV, TARGET_ENV, "--force", "--yes", "--json", transfer=transfer
        )
        return run, json.loads(run.stdout)

    def oldway(self, method: str) -> tuple[Run, dict]:
        run = measure.run_python(
            [str(BENCH / "oldway.py"), method], self.oldway_env, self.workdir
        ).check()
        return run, json.loads(run.stdout.strip().splitlines()[-1])

    # -- one size ----------------------------------------------------------------------------

    def run_size(self, rows: int) -> dict:
        result: dict = {"rows": rows, "methods": {}, "latency": {}, "steps": {}, "server": {}}
        methods = result["methods"]

        def record(key: str, seconds: float, run: Run | None = None, **detail) -> None:
            entry = {"seconds": seconds, **detail}
            if run is not None:
                entry |= {"peak_kb": run.peak_kb, "tree_peak_kb": run.tree_peak_kb}
            methods[key] = entry
            memory = f", peak RSS {run.peak_kb / 1024:.0f} MB" if run else ""
            say(f"{rows:,} rows: {report.LABELS[key]}: {seconds:.2f} s{memory}")

        say(f"{rows:,} rows: filling the source")
        result |= self.fill(rows)
        result["dump_bytes"] = measure.count_bytes(self.dump_argv(), self.source_env)
        say(f"{rows:,} rows: data-only dump is {result['dump_bytes'] / 1e6:.1f} MB")
        names = [f"prompt.{i}" for i in range(CHANGED_EVERY, rows + 1, CHANGED_EVERY)][:500]

        self.floor()  # warm-up
        record("floor", self.floor())
        self.expect_copy("floor", "floor")

        # each case by the path promptsync chooses, then by the other one (PROMPTSYNC_TRANSFER)
        for key, reset, transfer, label in (
            ("ps_all", self.empty_target, "auto", "every row differs"),
            ("ps_all_delta", self.empty_target, "delta", "every row differs"),
            ("ps_full", self.change_every_row, "auto", "every row differs (other rows)"),
            ("ps_full_delta", self.change_every_row, "delta", "every row differs (other rows)"),
            ("ps_one", self.change_one_percent, "auto", "1% differs"),
            ("ps_one_full", self.change_one_percent, "full", "1% differs"),
        ):
            reset()
            run, doc = self.sync(transfer)
            record(
                key,
                run.seconds,
                run,
                applied=doc.get("applied"),
                staged=doc.get("staged"),
                transfer=doc.get("transfer"),
            )
            result["steps"][key] = run.lines
            result["server"][key] = run.statements
            self.expect_copy(f"promptsync, {label}, {transfer}")

        self.settle()
        run, doc = self.sync()
        record(
            "ps_none",
            run.seconds,
            run,
            result=doc.get("result"),
            staged=doc.get("staged"),
            transfer=doc.get("transfer"),
        )
        result["steps"]["ps_none"] = run.lines
        result["server"]["ps_none"] = run.statements

        for key, fast in (("verify", ()), ("verify_fast", ("--fast",))):
            run = self.promptsync("verify", *fast, SOURCE_ENV, TARGET_ENV)
            record(key, run.seconds, run)
            result["steps"][key] = run.lines
            result["server"][key] = run.statements
        result["ledger_bytes"] = int(
            self.target.psql(
                "SELECT pg_total_relation_size(ledger_table::regclass) FROM promptsync.ledgers"
            )
        )

        # The same two syncs again, with a client reading the live table every 10 ms.
        for key, reset in (("ps_all", self.empty_target), ("ps_one", self.change_one_percent)):
            reset()
            with Reader(self.target.url(), names) as reader:
                run, _ = self.sync()
                time.sleep(AFTER)  # what readers see right after the sync
            lat = reader.result(until=run.started + run.seconds)
            lat.scan_worst_at -= run.started
            result["latency"][key] = asdict(lat) | {"sync_seconds": run.seconds}
            say(
                f"{rows:,} rows: {report.LABELS[key]} with a reader: {run.seconds:.2f} s, "
                f"worst read {lat.scan_worst_ms:.0f} ms (p99 {lat.scan_p99_ms:.0f} ms, "
                f"key lookup {lat.lookup_worst_ms:.0f} ms), counts seen {lat.rows_seen}"
            )
        self.settle()
        with Reader(self.target.url(), names) as reader:
            time.sleep(2)
        lat = reader.result()
        result["latency"]["idle"] = asdict(lat)
        say(f"{rows:,} rows: idle reader: worst {lat.scan_worst_ms:.0f} ms, "
            f"median {lat.scan_median_ms:.0f} ms")  # fmt: skip

        for method, key in (
            ("django", "django"),
            ("django-batched", "djbatch"),
            ("psycopg", "psycopg"),
        ):
            for case, reset in (("all", self.empty_target), ("one", self.change_one_percent)):
                label = report.LABELS[f"{key}_{case}"]
                if method == "django" and result["dump_bytes"] > MAX_STATEMENT:
                    why = (
                        f"not run: its one INSERT would be about {result['dump_bytes'] / 1e9:.1f}"
                        " GB of SQL, over PostgreSQL's 1 GB limit"
                    )
                    methods[f"{key}_{case}"] = {"skipped": why}
                    say(f"{rows:,} rows: {label}: {why}")
                    continue
                reset()
                try:
                    run, detail = self.oldway(method)
                except RuntimeError as exc:  # the old way failing is a result, not a crash
                    methods[f"{key}_{case}"] = {"skipped": f"failed: {str(exc).splitlines()[-1]}"}
                    say(f"{rows:,} rows: {label}: {exc}")
                    continue
                record(f"{key}_{case}", run.seconds, run, **detail)
                self.expect_copy(label)
        return result


def machine(source: Server) -> dict:
    import platform
    from importlib import metadata

    def first(path: str, key: str) -> str:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=")[1]
        return "unknown"

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    mem_kb = int(first("/proc/meminfo", "MemTotal").split()[0])
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": first("/etc/os-release", "PRETTY_NAME").strip('"') + f", Linux {platform.release()}",
        "postgres": source.psql("SHOW server_version").strip(),
        "bindir": str(source.bindir),
        "python": platform.python_version(),
        "django": version("Django"),
        "psycopg": version("psycopg"),
    }


def main() -> int:
    sizes = sizes_from_env()
    say(f"promptsync benchmark: {', '.join(f'{n:,}' for n in sizes)} rows")

    interrupts: list[int] = []

    def interrupted(signum: int, _frame: object) -> None:
        interrupts.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="promptsync-bench-"))
    servers: list[Server] = []
    try:
        bindir = find_server_bindir()
        for name in ("source", "target"):
            servers.append(start_server(name, workdir, secrets.token_urlsafe(18), bindir=bindir))
        source, target = servers
        say(f"servers: PostgreSQL {source.major} from {bindir}, ports {source.port} "
            f"(source) and {target.port} (target), in {workdir}")  # fmt: skip
        bench = Bench(workdir, source, target)
        bench.prepare()
        results = [bench.run_size(rows) for rows in sizes]
        info = machine(source) | {
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "seconds": time.monotonic() - T0,
        }
    except (KeyboardInterrupt, Exception) as exc:
        if not interrupts:  # a child failing because of Ctrl-C is the Ctrl-C
            raise
        say(f"interrupted ({type(exc).__name__}): stopping the servers")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        measure.stop_children()
        for server in servers:
            with contextlib.suppress(Exception):
                server.destroy()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.environ.get("BENCH_JSON"):  # the raw results, for whoever wants every figure
        raw = {"machine": info, "results": results}
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(raw, indent=1) + "\n")
    DOCS.mkdir(exist_ok=True)
    svg = chart.render(results, info)
    (DOCS / "benchmarks.svg").write_text(svg)
    (DOCS / "benchmarks.md").write_text(report.render(results, info))
    say(f"wrote {DOCS / 'benchmarks.md'} and {DOCS / 'benchmarks.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
