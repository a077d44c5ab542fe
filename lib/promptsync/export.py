"""`promptsync export ENV FILE`: write the tables to a deterministic snapshot file (see
snapshotfile.py), to commit with the code that needs it. The checksum in the header is the
server's (fingerprint.sql, in the same snapshot as the rows) and is recomputed from the written
rows before the file replaces the old one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from promptsync import log, preflight, snapshotfile
from promptsync.config import Settings, environment
from promptsync.copyout import SNAPSHOT_MODE
from promptsync.errors import EXIT_OK, Failed
from promptsync.fingerprint import fingerprint
from promptsync.tools import find_tools


def run(settings: Settings, env_name: str, path: Path) -> int:
    env = environment(settings, env_name)
    log.add_secrets(env.secrets)
    session, _ = preflight.connect(env, find_tools(settings.get("PROMPTSYNC_PG_BIN")))
    lines = [
        snapshotfile.MAGIC,
        "-- Prompts as code: written by `promptsync export`, rows sorted by primary key.",
        "-- Do not edit by hand: the checksums below are checked before any sync.",
    ]
    with session:
        infos = preflight.describe_tables(session, settings.tables)
        session.rollback()
        session.begin(SNAPSHOT_MODE)  # the rows and their checksum, read in one snapshot
        for table, info in infos.items():
            print_ = fingerprint(session, info.rel)
            rows = session.run_file("export.sql", f"exporting {table}", rel=info.rel, pk=info.pk)
            columns, quoted = json.loads(rows[0][0]), rows[0][1]
            data = [r[0] for r in rows[1:]]
            hasher = snapshotfile.Hasher(columns)
            for line in data:
                hasher.add(line)
            if hasher.fingerprint() != print_:
                raise Failed(
                    f"{table}: the exported rows hash to {hasher.fingerprint()}, the server "
                    f"says {print_}: this table cannot be exported reproducibly"
                )
            lines += snapshotfile.header(table, info.rel, columns, print_)
            lines.append(f"COPY {info.rel} ({quoted}) FROM stdin;")
            lines += data
            lines.append("\\.")
            log.info(f"{table}: {print_}")
    lines.append(snapshotfile.END)
    _write_atomically(path, "\n".join(lines) + "\n")
    log.info(f"wrote {path} ({log.human_bytes(path.stat().st_size)})")
    return EXIT_OK


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
