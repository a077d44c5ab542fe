"""What each client tool said of itself (`--version`, TLS support), remembered between runs so
that choosing the tools costs nothing on a repeat run (tools.py asks each candidate otherwise:
about 0.25 s, more than a sync of a small table).

An answer is kept under the tool's real path, and used only while the file there is still the
same one: same device, inode, size and modification time. The answers live next to the bundled
tools' archive, in the virtualenv, while that is writable (a build; a read-only pre-deploy then
reads them and writes nothing, not even into HOME), else in PROMPTSYNC_CACHE_DIR (the directory
bundled.py keeps private). A file is read only when it is this user's or root's and nobody else
may write it; a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from promptsync import bundled

FILE = "tools.json"
_answers: dict[str, dict] | None = None  # loaded once per process


T = TypeVar("T")


def _places() -> list[Path]:
    """Where the answers may be, in the order they are looked at."""
    tar = bundled.archive()
    inside = [tar.parent / f"promptsync-{FILE}"] if tar is not None else []
    return [*inside, bundled.cache_dir() / FILE]


def _path() -> Path:
    """Where the answers are written: the first place whose directory is writable."""
    places = _places()
    return next((p for p in places[:-1] if os.access(p.parent, os.W_OK)), places[-1])


def _identity(executable: str) -> list[int] | None:
    try:
        info = os.stat(executable)
    except OSError:
        return None
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns]


def _load() -> dict[str, dict]:
    global _answers
    if _answers is None:
        _answers = {}
        for place in reversed(_places()):  # the first place's answers win
            _answers.update(_read(place))
    return _answers


def _read(place: Path) -> dict[str, dict]:
    try:
        with open(place, encoding="utf-8") as cache:
            info = os.fstat(cache.fileno())
            if info.st_uid not in (0, os.geteuid()) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return {}
            found = json.load(cache)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def get(executable: str, question: str) -> object | None:
    """The remembered answer to `question` (version, tls) for this very file, or None."""
    entry = _load().get(os.path.realpath(executable))
    if not entry or entry.get("file") != _identity(executable):
        return None
    return entry.get(question)


def put(executable: str, question: str, answer: object) -> None:
    """Remember an answer (and write the cache; failing to is not an error)."""
    real, identity = os.path.realpath(executable), _identity(executable)
    if identity is None:
        return
    answers = _load()
    entry = answers.get(real)
    if not entry or entry.get("file") != identity:
        entry = answers[real] = {"file": identity}
    entry[question] = answer
    _save(answers)


def _save(answers: dict[str, dict]) -> None:
    scratch, path = None, _path()
    try:
        bundled.make_private_dir(path.parent)
        fd, scratch = tempfile.mkstemp(prefix=".tools.", dir=path.parent)  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(answers, out, sort_keys=True)
        os.chmod(scratch, 0o644)  # readable by a runtime user, writable by nobody else
        os.replace(scratch, path)
    except OSError:
        if scratch:
            Path(scratch).unlink(missing_ok=True)


def answer(executable: str, question: str, kind: type[T], ask: Callable[[str], T]) -> T:
    """The remembered answer of type `kind`, or ask(executable) and remember what it says."""
    known = get(executable, question)
    if isinstance(known, kind):
        return known
    found = ask(executable)
    put(executable, question, found)
    return found
