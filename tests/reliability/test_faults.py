"""Fault injection and concurrency against three real PostgreSQL servers (DESIGN.md, "What a
user can rely on", "Exit codes"): whatever breaks, the target ends EXACTLY as it was (exit 4)
or EXACTLY like the source (exit 0), readers are never blocked and never see a partial table,
and no password shows up in argv or output.

Faults come from a pg_dump or psql stand-in generated into tmp_path (see `fault_bin`): it runs
the real tool and, once a given number of bytes of COPY data went through, kills itself, pauses
until the test lets it go on, ends early with status 0, or drops or alters one row. The psql
stand-in breaks the reader of a delta transfer: the only psql whose output grows that large.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import PASSWORDS
from psqlpipe import PsqlPipe

pytestmark = pytest.mark.integration

MB = 1 << 20
OLD, NEW = 4, 0  # exit codes: target unchanged / target now equals the source

# --------------------------------------------------------------------------------------------
# data


def seed(cluster, env: str, last: int, *, changed_every: int = 0, skipped_every: int = 0) -> None:
    """Rows 1..last with ~2 KB bodies, built server-side; every `changed_every`-th row gets a
    different body and every `skipped_every`-th row is left out (0: none). Deterministic, so
    two environments seeded alike hold identical rows."""
    cluster.sql(
        env,
        f"""
        INSERT INTO public.prompts (id, name, coach_state, prompt_type, version, body, metadata,
                                    tags, temperature, created_at, updated_at)
        SELECT i, 'prompt-' || i, 'state-' || i % 10, 'system', 1,
               repeat(md5(i || CASE WHEN {changed_every} > 0 AND i % {changed_every} = 0
                                    THEN '-new' ELSE '' END), 64),
               jsonb_build_object('i', i), ARRAY['t' || i % 7], 0.5,
               timestamptz '2026-01-01 00:00:00+00' + i * interval '1 s', NULL
          FROM generate_series(1, {last}) AS i
         WHERE {skipped_every} = 0 OR i % {skipped_every} <> 0;
        SELECT setval('public.prompts_id_seq', {last});
        """,
    )


def seed_pair(cluster, source: str, target: str, rows: int) -> tuple[str, str]:
    """The target holds `rows` rows; the source a mix of changes to them (5% updated, 2% deleted,
    2% inserted). Returns the target's state before the sync and the source's rows."""
    seed(cluster, target, rows)
    seed(cluster, source, rows + rows // 50, changed_every=20, skipped_every=50)
    return cluster.state(target), cluster.rows(source)


def promptsync_backends(cluster, env: str, extra: str = "") -> int:
    return int(
        cluster.sql(
            env,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'promptsync' " + extra,
        ).strip()
    )


def assert_old_or_new(
    cluster, env, code, before, new_rows, stderr, *, sequence: bool = True
) -> None:
    """The one promise of every case: exit 0 and exactly the source's rows, or exit 4 and
    exactly what was there before (rows and, unless told otherwise, the id sequence)."""
    assert code in (OLD, NEW), stderr
    if code == NEW:
        assert cluster.rows(env) == new_rows, f"exit 0 but {env} is not the source's copy"
    elif sequence:
        assert cluster.state(env) == before, f"exit 4 but {env} changed:\n{stderr}"
    else:
        assert cluster.rows(env) == before[0], f"exit 4 but {env}'s rows changed:\n{stderr}"


def require(condition: object, what: str) -> None:
    """A precondition of a test (not what it checks): fails with RuntimeError, so that an
    xfail(raises=AssertionError) never passes because its setup went wrong."""
    if not condition:
        raise RuntimeError(f"precondition failed: {what}")


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Poll until predicate() is true; returns the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def no_sessions_left(cluster, *envs: str) -> None:
    """DESIGN.md 3 + the SIGINT case: no promptsync backend stays behind on any of envs."""
    for env in envs:
        wait_until(
            lambda env=env: promptsync_backends(cluster, env) == 0,
            10,
            f"the promptsync sessions on {env} to end",
        )


# --------------------------------------------------------------------------------------------
# fault-injecting pg_dump

WRAPPER_BODY = r"""
if "--version" in sys.argv[1:] or "-V" in sys.argv[1:]:
    os.execv(REAL, [REAL, *sys.argv[1:]])
armed = not os.path.exists(MARKER)  # only the first run injects its fault: a retry runs clean
libc = ctypes.CDLL(None)
child = subprocess.Popen(  # dies with us (PR_SET_PDEATHSIG), like the real pg_dump would
    [REAL, *sys.argv[1:]], stdout=subprocess.PIPE, preexec_fn=lambda: libc.prctl(1, 9)
)
out = sys.stdout.buffer
sent = 0
in_copy = TOOL == "psql"  # a psql's output is query results, or the COPY data of a reader
for line in child.stdout:
    if armed and in_copy and line != b"\\.\n" and sent + len(line) > AFTER:
        armed = False
        with open(MARKER + ".tmp", "w") as f:
            f.write(f"{os.getpid()} {sent}\n")
        os.rename(MARKER + ".tmp", MARKER)
        if MODE in ("kill", "truncate"):
            out.write(line[: AFTER - sent])
            out.flush()
            child.kill()
            if MODE == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            sys.exit(0)  # truncate: ends early and says all went well
        elif MODE == "pause":
            out.flush()
            deadline = time.monotonic() + 60
            while not os.path.exists(RELEASE) and time.monotonic() < deadline:
                time.sleep(0.01)
        elif MODE == "drop":
            sent += len(line)
            continue
        elif MODE == "alter":  # one character of the body column (the 6th): still valid COPY
            fields = line.split(b"\t")
            fields[5] = (b"0" if fields[5][:1] != b"0" else b"1") + fields[5][1:]
            line = b"\t".join(fields)
    if TOOL == "pg_dump" and line.startswith(b"COPY "):
        in_copy = True
    elif TOOL == "pg_dump" and line == b"\\.\n":
        in_copy = False
    out.write(line)
    sent += len(line)
    if TOOL == "psql":
        out.flush()  # a session waits for each result
out.flush()
code = child.wait()
sys.exit(code if code >= 0 else 128 - code)
"""


class FaultBin:
    """A directory with a fault-injecting `tool` (pg_dump or psql) and a symlink to the real
    other one."""

    def __init__(
        self, path: Path, real_bindir: Path, mode: str, after: int, tool: str = "pg_dump"
    ) -> None:
        self.path = path
        self.marker = path / "fault-hit"
        self.release = path / "fault-release"
        path.mkdir()
        header = (
            f"#!{sys.executable} -S\n"
            "import ctypes, os, signal, subprocess, sys, time\n"
            f"REAL = {str(real_bindir / tool)!r}\nTOOL = {tool!r}\n"
            f"MODE = {mode!r}\nAFTER = {after!r}\n"
            f"MARKER = {str(self.marker)!r}\nRELEASE = {str(self.release)!r}\n"
        )
        wrapper = path / tool
        wrapper.write_text(header + WRAPPER_BODY)
        wrapper.chmod(0o755)
        other = "psql" if tool == "pg_dump" else "pg_dump"
        (path / other).symlink_to(real_bindir / other)

    @property
    def hit(self) -> bool:
        return self.marker.exists()

    def let_go(self) -> None:
        self.release.touch()

    kill = let_go  # at teardown: never leave a paused pg_dump behind


def fault_bin(
    cluster, tmp_path: Path, mode: str, after: int, *, docker: bool = False, tool: str = "pg_dump"
):
    """The wrapper directory and the environment that makes promptsync use it: for a direct
    connection through PROMPTSYNC_PG_BIN, for the local container through FAKE_DOCKER_PGBIN
    (the stand-in tests/bin/docker: a real engine cannot swap the container's pg_dump for one
    that fails after N bytes; a container stopped mid-dump is in test_docker_engine.py)."""
    server = cluster.servers["local" if docker else "staging"]
    fb = FaultBin(tmp_path / f"fault-{mode}", Path(server.bindir), mode, after, tool)
    var = "FAKE_DOCKER_PGBIN" if docker else "PROMPTSYNC_PG_BIN"
    # pg_dump runs on the full path only; the delta path's reader is a psql
    path = "full" if tool == "pg_dump" else "delta"
    return fb, {var: str(fb.path), "PROMPTSYNC_TRANSFER": path}


# --------------------------------------------------------------------------------------------
# processes


class Running:
    """promptsync running in the background; its output is collected as it comes."""

    def __init__(self, cluster, *args: str, env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.proc = cluster.popen(*args, env={**env, "PYTHONFAULTHANDLER": "1"})
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.out), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _collect(pipe, into: list[str]) -> None:
        for line in pipe:
            into.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # PYTHONFAULTHANDLER is set: SIGABRT makes promptsync print where each thread hangs
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for t in self._threads:
                t.join(5)
            pytest.fail(f"promptsync still running after {timeout:.0f} s:\n{self.stderr}")
        for t in self._threads:
            t.join(5)
        return code

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class LockHolder(PsqlPipe):
    """`LOCK TABLE prompts IN <mode> MODE` held in an open transaction until release()."""

    def __init__(self, server, mode: str) -> None:
        super().__init__(server, "lock-holder")
        self.query(f"BEGIN; LOCK TABLE public.prompts IN {mode} MODE;")

    def release(self) -> None:
        self.query("ROLLBACK;")
        self.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def background():
    """Register things running in the background (Running, PsqlPipe); whatever a test leaves
    running is stopped afterwards, fault or not."""
    started: list = []
    yield lambda thing: started.append(thing) or thing
    for thing in reversed(started):
        thing.kill()


# --------------------------------------------------------------------------------------------
# 1. pg_dump dies mid-stream; a pg_dump that lies about its output


@pytest.mark.parametrize(
    ("source", "target", "docker"),
    [("staging", "production", False), ("local", "staging", True)],
    ids=["direct", "docker"],
)
def test_pg_dump_killed_mid_stream_leaves_target_unchanged(
    cluster, tmp_path, source, target, docker
):
    before, _ = seed_pair(cluster, source, target, 5000)  # ~10 MB of COPY data
    fb, extra = fault_bin(cluster, tmp_path, "kill", 4 * MB + 123, docker=docker)

    result = cluster.run("sync", source, target, "--force", env=cluster.env(**extra), timeout=60)

    assert fb.hit, "the fault was never injected"
    assert result.returncode == OLD, result.stderr
    assert cluster.state(target) == before
    assert re.search(r"pg_dump of \S+ failed: killed by signal 9", result.stderr), result.stderr
    no_sessions_left(cluster, source, target)


@pytest.mark.parametrize("mode", ["truncate", "drop", "alter"])
def test_dump_that_lies_is_caught_by_the_check(cluster, tmp_path, mode):
    """pg_dump exits 0 but its output ends early, misses a row or carries a changed byte: the
    count + checksum check refuses it and nothing is applied."""
    before, _ = seed_pair(cluster, "staging", "production", 2000)
    fb, extra = fault_bin(cluster, tmp_path, mode, 2 * MB + 7)

    result = cluster.run(
        "sync", "staging", "production", "--force", env=cluster.env(**extra), timeout=60
    )

    assert fb.hit, "the fault was never injected"
    assert result.returncode == OLD, result.stderr
    assert cluster.state("production") == before
    expected = "ended in the middle" if mode == "truncate" else "do not match"
    assert expected in result.stderr, result.stderr


# 1b. the same faults in the reader of a delta transfer (psql's COPY of the changed rows)

READER_AFTER = 400_000  # past the list of row hashes (~200 KB), inside the changed rows (~700 KB)


@pytest.mark.parametrize(
    ("source", "target", "docker"),
    [("staging", "production", False), ("local", "staging", True)],
    ids=["direct", "docker"],
)
def test_delta_reader_killed_mid_copy_leaves_target_unchanged(
    cluster, tmp_path, source, target, docker
):
    before, _ = seed_pair(cluster, source, target, 5000)
    fb, extra = fault_bin(cluster, tmp_path, "kill", READER_AFTER, docker=docker, tool="psql")

    result = cluster.run("sync", source, target, "--force", env=cluster.env(**extra), timeout=60)

    assert fb.hit, "the fault was never injected"
    assert result.returncode == OLD, result.stderr
    assert cluster.state(target) == before
    assert re.search(
        r"reading the changed rows of public\.prompts on \S+ failed: killed by signal 9",
        result.stderr,
    ), result.stderr
    no_sessions_left(cluster, source, target)


@pytest.mark.parametrize("mode", ["truncate", "drop", "alter"])
def test_delta_reader_that_lies_is_caught_row_by_row(cluster, tmp_path, mode):
    """The reader exits 0 but its rows end early, miss one or carry a changed byte: each staged
    row is checked against the source's list, and nothing is applied."""
    before, _ = seed_pair(cluster, "staging", "production", 5000)
    fb, extra = fault_bin(cluster, tmp_path, mode, READER_AFTER, tool="psql")

    result = cluster.run(
        "sync", "staging", "production", "--force", env=cluster.env(**extra), timeout=60
    )

    assert fb.hit, "the fault was never injected"
    assert result.returncode == OLD, result.stderr
    assert cluster.state("production") == before
    assert "only those travel" in result.stderr, result.stderr
    assert re.search(r"do not match its list|ended mid-row", result.stderr), result.stderr


def test_source_written_during_a_delta_is_read_as_of_its_snapshot(cluster, tmp_path):
    """Rows committed on the source while its changed rows travel are not mixed in: the
    target gets the source exactly as it was when the sync read its list."""
    _, source_rows = seed_pair(cluster, "staging", "production", 5000)
    fb, extra = fault_bin(cluster, tmp_path, "pause", READER_AFTER, tool="psql")
    run = Running(cluster, "sync", "staging", "production", "--force", env=cluster.env(**extra))
    try:
        wait_until(lambda: fb.hit, 60, "the reader to pause mid-copy")
        # a changed row and an unchanged one, and a new row, committed mid-transfer
        cluster.sql(
            "staging",
            "UPDATE public.prompts SET body = 'edited meanwhile' WHERE id IN (20, 21);"
            "INSERT INTO public.prompts (id, name, prompt_type, body) "
            "VALUES (99999, 'added meanwhile', 'system', 'x');",
        )
    finally:
        fb.let_go()
    code = run.finish(60)

    assert code == NEW, run.stderr
    assert "by delta transfer" in run.stderr
    assert cluster.rows("production") == source_rows
    assert cluster.rows("staging") != source_rows  # the edit is there, for the next sync


# --------------------------------------------------------------------------------------------
# 2. the target restarts while the rows stream in


def start_paused_sync(cluster, tmp_path, background, rows: int, **env: str):
    """A staging -> production sync whose pg_dump holds still after ~3 MB of data, once the
    target's COPY into the staging table is in flight."""
    before, new_rows = seed_pair(cluster, "staging", "production", rows)
    fb, extra = fault_bin(cluster, tmp_path, "pause", 3 * MB)
    background(fb)
    run = background(
        Running(
            cluster, "sync", "staging", "production", "--force", env=cluster.env(**extra, **env)
        )
    )
    wait_until(lambda: fb.hit or run.proc.poll() is not None, 30, "the dump to pause")
    assert fb.hit, run.stderr
    wait_until(
        lambda: promptsync_backends(cluster, "production", "AND query LIKE 'COPY %'") > 0,
        10,
        "the COPY into the staging table on production",
    )
    return run, fb, before, new_rows


@pytest.mark.parametrize("retries", ["0", "3"])
def test_target_restart_mid_load(cluster, tmp_path, background, retries):
    run, fb, before, new_rows = start_paused_sync(
        cluster, tmp_path, background, 5000, PROMPTSYNC_RETRIES=retries
    )
    cluster.servers["production"].restart()
    fb.let_go()

    code = run.finish(timeout=30)

    print(f"restart mid-load, PROMPTSYNC_RETRIES={retries}: exit {code} in {run.elapsed:.1f} s")
    if retries == "0":
        assert code == OLD, run.stderr
    assert_old_or_new(cluster, "production", code, before, new_rows, run.stderr)
    if code == NEW:
        assert "retrying in" in run.stderr
    no_sessions_left(cluster, "staging", "production")


# --------------------------------------------------------------------------------------------
# the connection to the target breaks around COMMIT

SLOW_COMMIT = """
CREATE FUNCTION public.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN  -- runs at COMMIT (deferred); sleeps once per transaction
  IF current_setting('slow_commit.done', true) IS DISTINCT FROM 'yes' THEN
    PERFORM set_config('slow_commit.done', 'yes', true);
    PERFORM pg_sleep(1);
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT OR UPDATE OR DELETE ON public.prompts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.slow_commit();
"""


REFUSED_COMMIT = """
CREATE FUNCTION public.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a deferred check refuses this change';
END $$;
CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE OR DELETE ON public.prompts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse_commit();
"""


def committing(cluster) -> bool:
    return (
        promptsync_backends(cluster, "production", "AND state = 'active' AND query = 'COMMIT;'") > 0
    )


def target_psql(run: Running, server) -> int:
    """pid of promptsync's psql session on `server` (a child of promptsync)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            args = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == run.proc.pid and "psql" in args and f"port={server.port} " in args:
            return int(stat.parent.name)
    raise AssertionError("promptsync's psql session on the target not found")


def start_committing_sync(cluster, background, rows: int, **env: str):
    before, new_rows = seed_pair(cluster, "staging", "production", rows)
    cluster.sql("production", SLOW_COMMIT)
    before = cluster.state("production")
    run = background(
        Running(cluster, "sync", "staging", "production", "--force", env=cluster.env(**env))
    )
    wait_until(lambda: committing(cluster) or run.proc.poll() is not None, 30, "the COMMIT")
    assert run.proc.poll() is None, run.stderr
    return run, before, new_rows


def test_server_stopped_during_commit(cluster, background):
    """The target goes down while COMMIT runs: the commit cannot have happened; promptsync
    looks (the server is back) and reports the old rows. (The id sequence is left to
    test_failed_commit_leaves_the_sequence_alone.)"""
    run, before, new_rows = start_committing_sync(cluster, background, 2000)
    cluster.servers["production"].restart()

    code = run.finish(timeout=30)

    assert code == OLD, run.stderr
    assert_old_or_new(cluster, "production", code, before, new_rows, run.stderr, sequence=False)
    no_sessions_left(cluster, "staging", "production")


def test_failed_commit_leaves_the_sequence_alone(cluster):
    """The COMMIT itself fails (a deferred constraint trigger refuses it): exit 4, the rows as
    they were, and the id sequence as it was."""
    before, _ = seed_pair(cluster, "staging", "production", 500)
    cluster.sql("production", REFUSED_COMMIT)

    result = cluster.run("sync", "staging", "production", "--force", timeout=60)

    require(result.returncode == OLD, f"exit 4, got {result.returncode}: {result.stderr}")
    require(cluster.rows("production") == before[0], "the rows are unchanged")
    assert cluster.state("production") == before, "the id sequence moved"


@pytest.mark.parametrize(
    "then",
    [
        "lookup",
        "target-down",
        "ctrl-c",
    ],
)
def test_reply_to_commit_lost(cluster, background, then):
    """The server commits but promptsync never reads the reply (its psql session is frozen,
    then killed): the exit code must still say what the target holds. `then`: promptsync can
    look the outcome up / the target is down by then / the user presses Ctrl-C meanwhile."""
    run, before, new_rows = start_committing_sync(cluster, background, 2000)
    server = cluster.servers["production"]
    psql_pid = target_psql(run, server)
    os.kill(psql_pid, signal.SIGSTOP)
    try:
        wait_until(lambda: not committing(cluster), 15, "the COMMIT to finish on the server")
        require(cluster.rows("production") == new_rows, "committed, the reply unread")
        if then == "target-down":
            server.stop()
        if then == "ctrl-c":
            run.proc.send_signal(signal.SIGINT)
            time.sleep(0.2)
    finally:
        os.kill(psql_pid, signal.SIGKILL)
    try:
        code = run.finish(timeout=30)
    finally:
        if then == "target-down":
            server.start()

    print(f"reply to COMMIT lost, then {then}: exit {code}")
    if then == "target-down":
        # Nobody can know the outcome while the target is down: promptsync must say so,
        # never claim the target is unchanged.
        assert code == OLD, run.stderr
        assert "outcome is unknown" in run.stderr, run.stderr
        assert "still holds the old rows" not in run.stderr
        assert cluster.rows("production") == new_rows
        return
    assert_old_or_new(cluster, "production", code, before, new_rows, run.stderr, sequence=False)


# --------------------------------------------------------------------------------------------
# 3. readers during a sync: old or new table, never anything else, never blocked

PROBE = (
    "SELECT count(*) || ' ' || coalesce(sum(id), 0) || ' ' || coalesce(sum(hashtext(body)), 0) "
    "FROM public.prompts;"
)


def test_readers_see_old_or_new_table_and_are_never_blocked(cluster, background):
    before, new_rows = seed_pair(cluster, "staging", "production", 20000)
    old_value = cluster.sql("production", PROBE).strip()
    new_value = cluster.sql("staging", PROBE).strip()
    assert old_value != new_value
    # the apply costs in proportion to the change and can end before a read gets in: each of
    # its statements waits a little here, while holding its row locks (it writes nothing)
    cluster.sql(
        "production",
        "CREATE FUNCTION public.linger() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$; "
        "CREATE TRIGGER linger AFTER INSERT OR UPDATE OR DELETE ON prompts "
        "FOR EACH STATEMENT EXECUTE FUNCTION public.linger();",
    )
    server = cluster.servers["production"]
    reader = background(PsqlPipe(server, "reader"))
    watcher = background(PsqlPipe(server, "watcher"))
    reads: list[tuple[float, float, str]] = []  # (started, ended, value)
    watched: list[tuple[float, str, int, int]] = []  # (when, reader wait, ungranted, applying)
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                value = reader.query(PROBE)
                reads.append((started, time.monotonic(), value))
                time.sleep(0.01)
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
            errors.append(repr(exc))

    pid = reader.pid
    watch_sql = (
        f"SELECT coalesce((SELECT wait_event_type FROM pg_stat_activity WHERE pid = {pid}), '-'),"
        f" (SELECT count(*) FROM pg_locks WHERE pid = {pid} AND NOT granted),"
        " (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        "   WHERE a.application_name = 'promptsync' AND l.mode = 'RowExclusiveLock'"
        "     AND l.relation = 'public.prompts'::regclass);"
    )

    def watch() -> None:
        try:
            while not stop.is_set():
                wait, ungranted, applying = watcher.query(watch_sql).split("|")
                watched.append((time.monotonic(), wait, int(ungranted), int(applying)))
                time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=f, daemon=True) for f in (read, watch)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    run = background(
        Running(cluster, "sync", "staging", "production", "--force", env=cluster.env())
    )
    code = run.finish(timeout=60)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)

    assert code == NEW, run.stderr
    assert cluster.rows("production") == new_rows
    assert not errors, errors
    values = [v for _, _, v in reads]
    assert set(values) <= {old_value, new_value}, set(values) - {old_value, new_value}
    assert values[0] == old_value and values[-1] == new_value
    flipped = values.index(new_value)
    assert set(values[flipped:]) == {new_value}, "a reader saw the old table after the new one"
    # the reader ran while the apply held its row locks (changes made, not committed yet)
    applying = [t for t, _, _, n in watched if n]
    assert applying, "the watcher never saw the apply"
    during = [r for r in reads if applying[0] <= r[0] and r[1] <= applying[-1]]
    assert during, "no read fell inside the apply"
    assert {v for _, _, v in during} == {old_value}
    blocked = [w for w in watched if w[1] == "Lock" or w[2]]
    assert not blocked, f"the reader waited for a lock: {blocked[:5]}"
    worst = max(end - start for start, end, _ in reads)
    worst_during = max(end - start for start, end, _ in during)
    print(
        f"readers: {len(reads)} reads ({len(during)} during the apply), {len(watched)} lock "
        f"samples, worst latency {worst * 1000:.0f} ms (during the apply "
        f"{worst_during * 1000:.0f} ms), sync {run.elapsed:.1f} s"
    )
    assert worst < 1.0


# --------------------------------------------------------------------------------------------
# 4. Ctrl-C at several points: nothing committed, no session left behind


@pytest.mark.parametrize(
    "point",
    ["source-connected", "snapshot-open", "loading", "apply-waits-for-lock", "committing"],
)
def test_ctrl_c(cluster, tmp_path, background, point):
    before, new_rows = seed_pair(cluster, "staging", "production", 5000)
    extra: dict[str, str] = {}
    holder = None
    if point == "loading":
        fb, extra = fault_bin(cluster, tmp_path, "pause", 3 * MB)
    if point == "apply-waits-for-lock":  # readers may read; the apply's writes must wait
        holder = background(LockHolder(cluster.servers["production"], "SHARE"))
    if point == "committing":
        cluster.sql("production", SLOW_COMMIT)
        before = cluster.state("production")
    run = background(
        Running(cluster, "sync", "staging", "production", "--force", env=cluster.env(**extra))
    )
    reached = {
        "source-connected": lambda: promptsync_backends(cluster, "staging") > 0,
        "snapshot-open": lambda: (
            promptsync_backends(  # a transaction past its 1st statement
                cluster,
                "staging",
                "AND (xact_start < query_start OR state = 'idle in transaction')",
            )
            > 0
        ),
        "loading": lambda: (
            promptsync_backends(cluster, "production", "AND query LIKE 'COPY %'") > 0 and fb.hit
        ),
        "apply-waits-for-lock": lambda: (
            promptsync_backends(cluster, "production", "AND wait_event_type = 'Lock'") > 0
        ),
        "committing": lambda: committing(cluster),
    }[point]
    wait_until(lambda: reached() or run.proc.poll() is not None, 30, point)
    assert run.proc.poll() is None, f"promptsync ended before {point}:\n{run.stderr}"

    run.proc.send_signal(signal.SIGINT)
    code = run.finish(timeout=20)

    if point == "committing":
        # Ctrl-C is held while the server decides COMMIT: promptsync reports what happened
        assert code == NEW, run.stderr
        assert "Ctrl-C during COMMIT was held" in run.stderr
    else:
        assert code == OLD, run.stderr
        assert "interrupted" in run.stderr
    # no promptsync backend may stay behind, not even one waiting for the lock
    no_sessions_left(cluster, "production", "staging")
    if holder:
        holder.release()
    assert_old_or_new(cluster, "production", code, before, new_rows, run.stderr, sequence=True)


# --------------------------------------------------------------------------------------------
# 5. passwords never in argv, output or the docker calls


def secret_forms() -> set[str]:
    forms = set()
    for pw in PASSWORDS.values():
        forms |= {pw, quote(pw, safe=""), quote(pw)}
    return forms


def test_passwords_never_in_argv_or_output(cluster, background):
    seed(cluster, "local", 3000)
    secrets = secret_forms()
    leaks: list[str] = []
    seen = {"pg_dump": 0, "psql": 0, "docker": 0}
    samples = 0
    stop = threading.Event()

    def check(text: str, where: str) -> None:
        for name in seen:
            seen[name] += name in text
        for secret in secrets:
            if secret in text:
                leaks.append(f"{where}: {text[:300]}")

    def sample() -> None:
        nonlocal samples
        while not stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    args = cmdline.read_bytes()
                except OSError:
                    continue
                if args:
                    check(args.replace(b"\0", b" ").decode(errors="replace"), str(cmdline))
            ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True)
            for line in ps.stdout.splitlines():
                check(line, "ps")
            samples += 1
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = [
        cluster.run("sync", "local", "staging", "--force"),
        cluster.run("sync", "staging", "production", "--force"),
        cluster.run("verify"),
    ]
    stop.set()
    sampler.join(10)

    for r in results:
        assert r.returncode == 0, r.stderr
    assert cluster.rows("production") == cluster.rows("local")
    print(f"secrets: {samples} samples of every process's argv, saw {seen}")
    assert seen["pg_dump"] and seen["psql"] and seen["docker"], f"sampling missed them: {seen}"
    assert not leaks, leaks[:5]
    for r in results:
        for secret in secrets:
            assert secret not in r.stdout + r.stderr
    calls = [json.loads(line) for line in Path(cluster.env()["FAKE_DOCKER_LOG"]).open()]
    execs = [c for c in calls if c[1:2] == ["exec"]]
    assert execs
    for call in calls:
        for secret in secrets:
            assert secret not in json.dumps(call) and secret not in " ".join(call), call
    for call in execs:
        env_args = [b for a, b in zip(call, call[1:], strict=False) if a in ("-e", "--env")]
        assert "PGPASSWORD" in env_args, call
        assert not [a for a in call if a.startswith(("PGPASSWORD=", "--env=PGPASSWORD"))], call


# --------------------------------------------------------------------------------------------
# 7. someone else holds the table


def test_apply_gives_up_when_writes_are_locked_out(cluster, background):
    """SHARE lock (a reader-friendly lock that stops writers, as CREATE INDEX takes): the apply's
    short lock_timeout ends the sync; nothing changed."""
    before, _ = seed_pair(cluster, "staging", "production", 2000)
    holder = background(LockHolder(cluster.servers["production"], "SHARE"))

    run = background(
        Running(cluster, "sync", "staging", "production", "--force", env=cluster.env())
    )
    code = run.finish(timeout=60)
    holder.release()

    print(f"SHARE lock held: exit {code} after {run.elapsed:.1f} s")
    assert code == OLD, run.stderr
    assert run.elapsed < 30
    assert "lock timeout" in run.stderr.lower()
    assert cluster.state("production") == before


def test_target_out_of_reach_fails_in_bounded_time(cluster, background):
    """Two targets that cannot be had, run side by side to save wall time:
    - production on a closed port, PROMPTSYNC_RETRIES=3: retried with backoff (at most 3
      times), then exit 4 well within two minutes, no password in the output;
    - production's table held in ACCESS EXCLUSIVE mode (a migration's ALTER TABLE), so even
      reading it for the checksum waits; PROMPTSYNC_RETRIES=0: exit 4 rather than a hang."""
    before, _ = seed_pair(cluster, "staging", "production", 2000)
    holder = background(LockHolder(cluster.servers["production"], "ACCESS EXCLUSIVE"))
    closed = cluster.env(PROMPTSYNC_RETRIES="3", PROD_DB_PORT=str(free_port()))
    unreachable = background(
        Running(cluster, "sync", "staging", "production", "--force", env=closed)
    )
    locked = background(
        Running(cluster, "sync", "staging", "production", "--force", env=cluster.env())
    )

    unreachable_code = unreachable.finish(timeout=150)
    unreachable_seconds = unreachable.elapsed
    locked_code = locked.finish(timeout=60)
    holder.release()

    retries = unreachable.stderr.count("retrying in")
    print(
        f"closed port: exit {unreachable_code} after {unreachable_seconds:.1f} s, "
        f"{retries} retries; ACCESS EXCLUSIVE lock held: exit {locked_code} after "
        f"{locked.elapsed:.1f} s"
    )
    assert unreachable_code == OLD, unreachable.stderr
    assert unreachable_seconds < 120
    assert 1 <= retries <= 3, unreachable.stderr
    assert "connection refused" in unreachable.stderr.lower()
    for secret in secret_forms():
        assert secret not in unreachable.stderr + "".join(unreachable.out)
    assert locked_code == OLD, locked.stderr
    assert locked.elapsed < 45
    assert cluster.state("production") == before


def test_a_reader_through_twenty_consecutive_syncs(cluster, background):
    """Production flips between two versions, 20 syncs in a row (local -> production, then
    staging -> production, ...). A reader querying it every 10 ms throughout sees only one of
    the two complete tables, never an error."""
    seed(cluster, "local", 3000)
    seed(cluster, "staging", 3060, changed_every=10, skipped_every=30)
    seed(cluster, "production", 3000)
    versions = {cluster.sql(env, PROBE).strip() for env in ("local", "staging")}
    assert len(versions) == 2
    reader = background(PsqlPipe(cluster.servers["production"], "reader"))
    seen: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                seen.append(reader.query(PROBE))
                time.sleep(0.01)
        except Exception as exc:  # noqa: BLE001 - any failure of the reader is the finding
            errors.append(repr(exc))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    codes = []
    for i in range(20):
        source = "staging" if i % 2 == 0 else "local"
        result = cluster.run("sync", source, "production", "--force", timeout=60)
        codes.append(result.returncode)
        assert result.returncode == 0, result.stderr
        assert cluster.rows("production") == cluster.rows(source)
    stop.set()
    thread.join(10)

    assert not errors
    assert len(seen) > 40, "the reader kept reading throughout"
    assert set(seen) <= versions, set(seen) - versions
    assert len(set(seen)) == 2, "both versions were seen"
