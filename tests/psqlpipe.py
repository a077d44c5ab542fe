"""A long-lived psql connection for tests: a client of the application holding a session
(a reader, a writer with an open transaction, a lock holder), with no database driver."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class PsqlPipe:
    """One long-lived psql connection (as a client of the application would hold one), fed
    statements on stdin; each answer is read up to a marker line. No driver needed."""

    def __init__(self, server, appname: str) -> None:
        argv = [
            str(Path(server.bindir) / "psql"),
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(server.socket_dir),
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            server.dbname,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGAPPNAME"] = appname
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.pid = int(self.query("SELECT pg_backend_pid();"))

    def query(self, sql: str) -> str:
        """The answer's lines joined; raises when psql reports an error (it exits)."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{sql}\n\\echo __done__\n")
        self.proc.stdin.flush()
        lines = []
        while (line := self.proc.stdout.readline()) != "__done__\n":
            if not line:
                raise RuntimeError(f"psql failed: {self.proc.stderr.read().strip()}")
            lines.append(line.rstrip("\n"))
        return "\n".join(lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()
