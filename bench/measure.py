"""How make bench measures: Python children with their peak memory, the pg_dump | psql floor,
and a reader that queries the live target table every 10 ms."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RUNNING: set[subprocess.Popen] = set()  # children to stop if the benchmark is interrupted


def stop_children() -> None:
    for proc in list(RUNNING):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in list(RUNNING):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ChildProcessError:
            pass
    RUNNING.clear()


@dataclass
class Run:
    """One child run: wall time from spawn to exit, its output, its peak memory."""

    argv: list[str]
    started: float  # time.monotonic() at spawn
    wall_started: float  # time.time() at spawn
    seconds: float
    code: int
    stdout: str
    lines: list[tuple[float, str]]  # stderr lines, each with the second it arrived at
    peak_kb: int  # VmHWM of the Python process itself (bench/peak.py)
    tree_peak_kb: int  # ru_maxrss from wait4: the largest of it and the children it waited for
    statements: list[dict] = field(default_factory=list)  # server-side, when traced

    def check(self, expect: int = 0) -> Run:
        if self.code != expect:
            tail = "\n".join(f"    {line}" for _, line in self.lines[-15:])
            raise RuntimeError(
                f"{' '.join(self.argv[2:5])}... exited {self.code} (expected {expect}):\n{tail}"
            )
        return self


def _collect(pipe, into: list, started: float, timed: bool) -> None:
    for raw in pipe:
        text = raw.decode("utf-8", "replace").rstrip("\n")
        into.append((time.monotonic() - started, text) if timed else text)
    pipe.close()


def run_python(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """`python bench/peak.py ARGS` (= `python ARGS`), timed from spawn to exit."""
    peak_file = cwd / f"peak-{uuid.uuid4().hex}"
    argv = [sys.executable, str(BENCH / "peak.py"), *args]
    wall_started = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "BENCH_PEAK_FILE": str(peak_file)},
        cwd=cwd,
    )
    RUNNING.add(proc)
    out: list[str] = []
    err: list[tuple[float, str]] = []
    readers = [
        threading.Thread(target=_collect, args=(proc.stdout, out, started, False), daemon=True),
        threading.Thread(target=_collect, args=(proc.stderr, err, started, True), daemon=True),
    ]
    for t in readers:
        t.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        RUNNING.discard(proc)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join(timeout=30)
    try:
        peak = int(peak_file.read_text().strip())
        peak_file.unlink()
    except (OSError, ValueError):
        peak = 0
    return Run(
        argv,
        started,
        wall_started,
        seconds,
        proc.returncode,
        "\n".join(out),
        err,
        peak,
        usage.ru_maxrss,
    )


def pipeline(
    dump: list[str], dump_env: dict[str, str], load: list[str], load_env: dict[str, str]
) -> float:
    """`dump | load`, both checked; seconds from spawn to both exited."""
    started = time.monotonic()
    producer = subprocess.Popen(dump, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dump_env)
    RUNNING.add(producer)
    consumer = subprocess.Popen(
        load,
        stdin=producer.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=load_env,
    )
    RUNNING.add(consumer)
    assert producer.stdout is not None
    producer.stdout.close()  # the consumer holds the read end now
    _, load_err = consumer.communicate()
    _, dump_err = producer.communicate()
    seconds = time.monotonic() - started
    RUNNING.discard(producer)
    RUNNING.discard(consumer)
    for proc, err in ((producer, dump_err), (consumer, load_err)):
        if proc.returncode != 0:
            raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}: {err.decode().strip()}")
    return seconds


def count_bytes(argv: list[str], env: dict[str, str]) -> int:
    """Bytes a command writes on stdout (the size of the data-only dump)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    RUNNING.add(proc)
    total = 0
    assert proc.stdout is not None
    while chunk := proc.stdout.read(1 << 20):
        total += len(chunk)
    _, err = proc.communicate()
    RUNNING.discard(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err.decode().strip()}")
    return total


SCAN = "SELECT count(*), max(updated_at) FROM public.prompts"
LOOKUP = "SELECT body FROM public.prompts WHERE name = %s"


@dataclass
class Latency:
    """What the reader saw: per query, in ms."""

    samples: int = 0
    scan_worst_ms: float = 0.0
    scan_p99_ms: float = 0.0
    scan_median_ms: float = 0.0
    scan_worst_at: float = 0.0  # time.monotonic() when the worst scan started
    lookup_worst_ms: float = 0.0
    lookup_median_ms: float = 0.0
    rows_seen: list[int] = field(default_factory=list)  # count(*) as it changed, in order


class Reader:
    """A client of the live target table: every 10 ms (10 ms after the previous answer) it runs
    `SELECT count(*), max(updated_at) FROM prompts` (a scan) and looks up one prompt by name
    (an index lookup), on its own connection, each timed."""

    def __init__(self, url: str, names: list[str], interval: float = 0.010) -> None:
        self.url, self.names, self.interval = url, names, interval
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.samples: list[tuple[float, float, float, int]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Reader:
        self.thread.start()
        self.ready.wait(timeout=30)
        if self.error:
            raise RuntimeError(f"the reader could not start: {self.error}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.url, autocommit=True, application_name="bench-reader") as c:
                i = 0
                while not self.stop_event.is_set():
                    t0 = time.monotonic()
                    count, _ = c.execute(SCAN).fetchone()  # type: ignore[misc]
                    t1 = time.monotonic()
                    c.execute(LOOKUP, (self.names[i % len(self.names)],)).fetchall()
                    t2 = time.monotonic()
                    self.samples.append((t0, (t1 - t0) * 1e3, (t2 - t1) * 1e3, count))
                    i += 1
                    self.ready.set()
                    self.stop_event.wait(self.interval)
        except BaseException as exc:  # reported by result()
            self.error = exc
            self.ready.set()

    def result(self, until: float | None = None) -> Latency:
        """Latencies of the reads that started by `until` (time.monotonic()); the row counts
        of every read, later ones included."""
        if self.error:
            raise RuntimeError(f"the reader failed: {self.error}")
        during = [s for s in self.samples if until is None or s[0] <= until]
        if not during:
            return Latency()
        scans = sorted(s[1] for s in during)
        worst = max(during, key=lambda s: s[1])
        seen: list[int] = []
        for s in self.samples:
            if not seen or seen[-1] != s[3]:
                seen.append(s[3])
        return Latency(
            samples=len(during),
            scan_worst_ms=scans[-1],
            scan_p99_ms=scans[min(len(scans) - 1, int(len(scans) * 0.99))],
            scan_median_ms=statistics.median(scans),
            scan_worst_at=worst[0],
            lookup_worst_ms=max(s[2] for s in during),
            lookup_median_ms=statistics.median(s[2] for s in during),
            rows_seen=seen,
        )
