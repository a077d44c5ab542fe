"""Prompts as code: a deterministic snapshot file of the synced tables, meant to be committed
with the code that needs it (`promptsync export ENV FILE`), and read back as a sync, verify
or diff source (`file:PATH`).

    -- promptsync snapshot 1
    -- table public.prompts
    -- columns ["id", "name", ...]
    -- rows 150
    -- checksum 2cda668bc9a0...
    COPY public.prompts (id, name, ...) FROM stdin;
    <COPY text rows, sorted by primary key>
    \\.
    -- end of snapshot

The same data gives a byte-identical file. The checksum is the one `verify` computes on a
server (fingerprint.sql); it is recomputed here from the rows themselves, so a truncated or
hand-edited file is refused before anything connects.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from promptsync.config import Table
from promptsync.errors import Failed
from promptsync.fingerprint import Fingerprint, combine

MAGIC = "-- promptsync snapshot 1"
END = "-- end of snapshot"
_SPECIAL = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)
_QUOTE_TRIGGERS = set('"\\(),') | set(" \t\n\v\f\r")


def copy_value(field_text: str) -> str | None:
    """One field of COPY text format, unescaped (None for \\N)."""
    if field_text == "\\N":
        return None
    if "\\" not in field_text:
        return field_text

    def unescape(m: re.Match[str]) -> str:
        octal, hexa, char = m.groups()
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        return _SPECIAL.get(char, char)

    return _ESCAPE.sub(unescape, field_text)


def record_text(values: list[str | None]) -> str:
    """PostgreSQL's text form of ROW(values...) (record_out), from the values' text forms."""
    parts = []
    for value in values:
        if value is None:
            parts.append("")
        elif value == "" or any(c in _QUOTE_TRIGGERS for c in value):
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '""') + '"')
        else:
            parts.append(value)
    return "(" + ",".join(parts) + ")"


class Hasher:
    """fingerprint.sql in Python: md5 of each row (columns in name order) summed as two
    signed 64-bit halves."""

    def __init__(self, columns: list[str]) -> None:
        order = sorted(range(len(columns)), key=lambda i: columns[i].encode())
        self.order = order
        self.rows = 0
        self.high = 0
        self.low = 0

    def add(self, line: str) -> None:
        fields = line.split("\t")
        values = [copy_value(fields[i]) for i in self.order]
        digest = hashlib.md5(record_text(values).encode(), usedforsecurity=False).hexdigest()
        self.rows += 1
        self.high += _signed(digest[:16])
        self.low += _signed(digest[16:])

    def fingerprint(self) -> Fingerprint:
        return combine(str(self.rows), str(self.high), str(self.low))


def _signed(hex16: str) -> int:
    value = int(hex16, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass
class Section:
    table: Table
    rel: str
    columns: list[str]
    rows: int
    checksum: str
    copy_line: str
    data_start: int = 0  # index of the first data line
    data_end: int = 0  # index of the terminator line

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.rows, self.checksum)


@dataclass
class Snapshot:
    path: Path
    lines: list[str] = field(default_factory=list)
    sections: dict[Table, Section] = field(default_factory=dict)

    def fingerprints(self) -> dict[Table, Fingerprint]:
        return {t: s.fingerprint for t, s in self.sections.items()}

    def script(self) -> Iterator[bytes]:
        """The file as pg_dump-like script lines (dumpstream keeps only the COPY data)."""
        for line in self.lines:
            yield (line + "\n").encode()


def _bad(path: Path, why: str) -> Failed:
    return Failed(f"snapshot {path} is not usable: {why}; nothing was changed")


def read(path: Path, tables: tuple[Table, ...]) -> Snapshot:
    """Parse and check a snapshot completely (row counts, checksums, end marker)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failed(f"snapshot {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, exc.__class__.__name__) from None
    lines = text.split("\n")
    if not lines or lines[0] != MAGIC:
        raise _bad(path, f"it does not start with '{MAGIC}'")
    if lines[-1] != "" or len(lines) < 2 or lines[-2] != END:
        raise _bad(path, "it is truncated (no end marker)")
    snap = Snapshot(path, lines[:-1])
    i = 1
    while i < len(lines) - 2:
        header: dict[str, str] = {}
        while lines[i].startswith("-- ") and not lines[i].startswith("-- end"):
            key, _, value = lines[i][3:].partition(" ")
            header[key] = value
            i += 1
        try:
            schema, name = json.loads(header["table"])
            columns = json.loads(header["columns"])
            section = Section(
                Table(schema, name),
                header["rel"],
                columns,
                int(header["rows"]),
                header["checksum"],
                lines[i],
            )
        except (KeyError, ValueError, TypeError):
            raise _bad(path, f"bad header before line {i + 1}") from None
        if not lines[i].startswith(f"COPY {section.rel} (") or not lines[i].endswith(
            " FROM stdin;"
        ):
            raise _bad(path, f"line {i + 1} should start the data of {section.rel}")
        section.data_start = i + 1
        hasher = Hasher(columns)
        i += 1
        while i < len(lines) - 2 and lines[i] != "\\.":
            if lines[i].count("\t") != len(columns) - 1:
                raise _bad(path, f"line {i + 1} does not have {len(columns)} fields")
            hasher.add(lines[i])
            i += 1
        if i >= len(lines) - 2:
            raise _bad(path, f"the data of {section.rel} has no end (\\.)")
        section.data_end = i
        found = hasher.fingerprint()
        if found != section.fingerprint:
            raise _bad(
                path, f"{section.table} holds {found}, but its header says {section.fingerprint}"
            )
        snap.sections[section.table] = section
        i += 1
    missing = [str(t) for t in tables if t not in snap.sections]
    if missing:
        raise _bad(path, f"it has no data for {', '.join(missing)}")
    return snap


def header(table: Table, rel: str, columns: list[str], print_: Fingerprint) -> list[str]:
    return [
        f"-- table {json.dumps([table.schema, table.name])}",
        f"-- rel {rel}",
        f"-- columns {json.dumps(columns)}",
        f"-- rows {print_.rows}",
        f"-- checksum {print_.checksum}",
    ]
