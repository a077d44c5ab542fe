"""toolcache: what a client tool said of itself is used again only for that very file, and only
from a cache file nobody else may write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promptsync import bundled, toolcache


@pytest.fixture
def tool(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "psql"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\necho 'psql (PostgreSQL) 18.6'\n")
    path.chmod(0o755)
    return path


def forget() -> None:
    toolcache._answers = None  # as a new process would


def test_an_answer_is_remembered_between_runs(tool):
    toolcache.put(str(tool), "version", "psql (PostgreSQL) 18.6")
    toolcache.put(str(tool), "tls", True)
    forget()
    assert toolcache.get(str(tool), "version") == "psql (PostgreSQL) 18.6"
    assert toolcache.get(str(tool), "tls") is True
    cache = bundled.cache_dir() / toolcache.FILE
    assert cache.stat().st_mode & 0o022 == 0  # nobody else may write it
    assert oct(bundled.cache_dir().stat().st_mode & 0o777) == "0o700"  # made private


def test_a_changed_or_replaced_file_is_asked_again(tool):
    toolcache.put(str(tool), "version", "psql (PostgreSQL) 18.6")
    tool.write_text("#!/bin/sh\necho 'psql (PostgreSQL) 19.0 and more'\n")  # another size
    forget()
    assert toolcache.get(str(tool), "version") is None
    toolcache.put(str(tool), "version", "19")
    replacement = tool.with_name("psql.new")
    replacement.write_text(tool.read_text())
    os.utime(replacement, ns=(tool.stat().st_atime_ns, tool.stat().st_mtime_ns))
    replacement.replace(tool)  # same size and time, another inode
    forget()
    assert toolcache.get(str(tool), "version") is None


def test_a_symlink_is_remembered_under_its_target(tool, tmp_path):
    link = tmp_path / "psql-link"
    link.symlink_to(tool)
    toolcache.put(str(link), "tls", False)
    forget()
    assert toolcache.get(str(tool), "tls") is False


def test_a_cache_file_others_may_write_is_not_read(tool):
    toolcache.put(str(tool), "version", "psql (PostgreSQL) 18.6")
    cache = bundled.cache_dir() / toolcache.FILE
    cache.chmod(0o666)
    forget()
    assert toolcache.get(str(tool), "version") is None


def test_a_planted_answer_in_a_foreign_file_is_not_read(tool):
    """Only a file of this user's (or root's) counts."""
    cache = bundled.cache_dir() / toolcache.FILE
    bundled.make_private_dir(cache.parent)
    entry = {"file": toolcache._identity(str(tool)), "version": "psql (PostgreSQL) 99"}
    cache.write_text(json.dumps({os.path.realpath(tool): entry}))
    cache.chmod(0o644)
    forget()
    assert toolcache.get(str(tool), "version") == "psql (PostgreSQL) 99"  # our own file: used
    if os.geteuid() == 0:
        os.chown(cache, 65534, 65534)  # nobody's
        forget()
        assert toolcache.get(str(tool), "version") is None


def test_an_unwritable_cache_is_no_error(tool, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTSYNC_CACHE_DIR", str(tmp_path / "file-not-dir" / "cache"))
    (tmp_path / "file-not-dir").write_text("")
    forget()
    toolcache.put(str(tool), "tls", True)  # does not raise
    assert toolcache.get(str(tool), "tls") is True  # this process still knows it
