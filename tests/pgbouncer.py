"""A real PgBouncer (Debian's `pgbouncer` package, installed with apt when missing, as root) in
front of one of the tests' PostgreSQL servers, on a free loopback port, in transaction or
session mode, with a pool of a given size. It runs as the servers' OS user (PgBouncer refuses
root) and stops with the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from promptsync.throwaway import Server, _owner, free_port

QUERY_WAIT_TIMEOUT = 120  # PgBouncer's default: a sync must never wait for it


class Unavailable(Exception):
    pass


def install() -> None:
    """apt-get install pgbouncer when it is missing (root only)."""
    if shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("pgbouncer is not installed, and apt-get cannot install it here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "pgbouncer"]):
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise Unavailable(f"`{' '.join(argv[:2])}` failed: {last}")


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class Bouncer:
    server: Server
    mode: str
    port: int
    proc: subprocess.Popen
    workdir: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self) -> str:
        return (
            f"postgresql://{quote(self.server.user, safe='')}:"
            f"{quote(self.server.password, safe='')}@{self.host}:{self.port}/{self.server.dbname}"
        )

    def psql(self, sql: str) -> str:
        """SQL through the pooler, as the application would send it (psql's defaults)."""
        argv = [str(self.server.bindir / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-d", self.url(), "-f", "-"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        done = subprocess.run(argv, input=sql, capture_output=True, text=True, env=env, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"through {self.mode} pooler: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(server: Server, workdir: Path, mode: str, pool_size: int) -> Bouncer:
    install()
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "userlist.txt").write_text(f"{_quoted(server.user)} {_quoted(server.password)}\n")
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{server.dbname} = host=127.0.0.1 port={server.port} dbname={server.dbname}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {workdir / 'userlist.txt'}\n"
        f"pool_mode = {mode}\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\n"
        f"max_client_conn = 200\nquery_wait_timeout = {QUERY_WAIT_TIMEOUT}\n"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    extra: dict = {}
    owner = _owner()
    if owner is not None:
        for path in (workdir, *workdir.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        for parent in workdir.parents:
            if not parent.stat().st_mode & 0o001:
                parent.chmod(parent.stat().st_mode | 0o001)
        extra = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    proc = subprocess.Popen(
        [binary, str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        **extra,
    )
    bouncer = Bouncer(server, mode, port, proc, workdir)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = workdir / "pgbouncer.log"
            raise RuntimeError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return bouncer
        except OSError:
            time.sleep(0.1)
    bouncer.stop()
    raise RuntimeError("pgbouncer did not listen within 15 s")
