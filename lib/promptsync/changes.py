"""What changed inside a prompt's columns, down to the words: the lines shown under a changed
row in the terminal or a build log, and the Markdown a GitHub job summary or pull-request
comment folds them into. Text gets a unified line diff whose changed words are marked; JSON
(json, jsonb, arrays) the paths that changed; anything else `old → new`.

Prompts hold hostile text (tests/integration/test_sync.py, HOSTILE), so nothing here prints a
character a reader cannot see: a CR shows as ␍, spaces and tabs ending a changed line as ␠ and
␉, controls and invisible or reordering characters (zero-width, bidi) as <U+XXXX>, and two
spellings that look alike (é, e + U+0301) code point by code point. NULL never looks like ''.

The work per value is bounded (see _line_opcodes, _word_pieces, _pairs): a 1 MB prompt with
one changed word costs a few linear scans, and what is shown is cut to max_lines lines of
max_line_chars characters, saying how much was left out. Pure functions: no I/O here.
"""

from __future__ import annotations

import difflib
import html
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# Bounds on the work done for one value (each is where a cost is quadratic at worst).
LINES_COMPARED = 4_000  # lines (both sides) difflib may align once the common ends are cut off
WORD_CHARS = 20_000  # longest differing middle of a changed line pair split into words
WORD_CELLS = 1_000_000  # tokens x tokens difflib may weigh in the changed lines of a column
PAIRING_CELLS = 400  # removed x added lines weighed against each other to pair them
SIMILAR_CHARS = 2_000  # longest pair of lines whose words are compared to pair them
JSON_DEPTH = 64  # deeper JSON is compared, and shown, as whole values
MAX_LINES = 200  # lines shown per column (then how many more)
MAX_LINE_CHARS = 400  # characters of the value shown per line (then how many more)

MORE_ROWS = "{:,} more rows not shown"


@dataclass(frozen=True)
class Value:
    """One column's value on one side of a change. kind "text" (text, varchar, char): value is
    a str; "json" (json, jsonb and arrays, sent as JSON): the parsed document, where None is
    JSON null; "scalar" (anything else): the str PostgreSQL prints. SQL NULL is
    Value(kind, None, null=True)."""

    kind: str
    value: object
    null: bool = False


@dataclass(frozen=True)
class RowChange:
    """One row of a listing: mark "+" (added), "~" (changed) or "-" (removed), its label in
    plain text ("id=17 name=blocked.system"), its (column, old, new) values, where the side an
    added or removed row lacks is Value(kind, None, null=True), and a note such as
    "edited in production outside promptsync since promotion 12"."""

    mark: str
    label: str
    columns: list[tuple[str, Value, Value]]
    note: str = ""


Piece = tuple[str, str, str]  # (mark, text, how): see _Out.add
Opcode = tuple[str, int, int, int, int]  # difflib's (tag, i1, i2, j1, j2)


def from_listing(kind: str, held: str | None) -> Value:
    """A value as a listing carries it (sql/diff_values.sql): the text of a JSON array holding
    the value, or None for SQL NULL."""
    if held is None:
        return Value(kind, None, null=True)
    return Value(kind, json.loads(held)[0])


def column_lines(
    column: str,
    old: Value,
    new: Value,
    *,
    context: int = 3,
    color: bool = False,
    max_lines: int = MAX_LINES,
    max_line_chars: int = MAX_LINE_CHARS,
) -> list[str]:
    """How one column changed, as lines without line ends: for text a unified diff (hunks
    `@@ -a,b +c,d @@ column`, `context` lines around each change) whose changed words are
    marked [-removed-] and {+added+}, or with color=True in ANSI colors; for JSON one line per
    changed path (`~ $.a.b: 1 → 2`, `+ $.c[1]: "x"`, `- $.d: true`); for other types
    `old → new`. No lines when the values are equal. At most max_lines lines, each showing at
    most max_line_chars characters of the value, then how many were left out."""
    out = _Out(color, max_lines, max_line_chars)
    _column(column, old, new, out, context, "")
    return out.result()


def markdown_blocks(
    rows: list[RowChange], *, context: int = 3, limit_bytes: int = 900_000
) -> list[str]:
    """Markdown lines for a GitHub job summary or pull-request comment: per row, in the order
    given, a folded <details> whose summary is the row's mark, label and note, holding per
    changed column its name and a ```diff block of column_lines. Whole rows only: the first row
    that would take the lines joined with "\\n" past limit_bytes (UTF-8) ends the listing with
    `N more rows not shown`."""
    lines: list[str] = []
    size = 0  # bytes of the lines so far, each counted with a "\n" after it
    reserve = 1 + len(MORE_ROWS.format(len(rows)).encode())  # "\n" + the last line
    for shown, row in enumerate(rows):
        block = _row_block(row, context)
        cost = sum(len(line.encode()) + 1 for line in block)
        last = shown == len(rows) - 1
        if size + cost + (-1 if last else reserve) > limit_bytes:
            return lines + ([""] if lines else []) + [MORE_ROWS.format(len(rows) - shown)]
        lines += block
        size += cost
    return lines


# -- one column ----------------------------------------------------------------------------


def _column(column: str, old: Value, new: Value, out: _Out, context: int, whole: str) -> None:
    """The lines for one column into `out`. `whole` is "+" or "-" for a row added or removed
    (its values shown whole, the absent side not called NULL), "" for a changed row."""
    if _equal(old, new):
        return
    kinds = {v.kind for v in (old, new) if not _null(v)} or {new.kind}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    if kind == "text":
        _text(column, old, new, out, context, whole)
    elif kind == "json":
        _json(old, new, out, whole)
    else:
        _scalar(old, new, out, whole)


def _null(v: Value) -> bool:
    return v.null or (v.value is None and v.kind != "json")


def _equal(old: Value, new: Value) -> bool:
    if _null(old) or _null(new):
        return _null(old) and _null(new)
    if old.kind != new.kind:
        return False
    return _same_json(old.value, new.value) if old.kind == "json" else old.value == new.value


def _scalar(old: Value, new: Value, out: _Out, whole: str) -> None:
    if whole:
        shown = new if whole == "+" else old
        out.add(f"{whole} ", [("", _one_line(shown), "text")], _TONE[whole])
    else:
        out.add("", out.old_new(_one_line(old), _one_line(new)))


def _one_line(v: Value) -> str:
    """A value as one line of text: NULL, '' or the value (JSON compact)."""
    if _null(v):
        return "NULL"
    if v.kind == "json":
        return _dump(v.value)
    return str(v.value) if v.value != "" else "''"


# -- text ----------------------------------------------------------------------------------


def _text(column: str, old: Value, new: Value, out: _Out, context: int, whole: str) -> None:
    """A unified diff of two texts; when one is NULL a first line says so (`NULL → ''`)."""
    a = "" if _null(old) else str(old.value)
    b = "" if _null(new) else str(new.value)
    if whole and not (a or b):
        out.add("", [("", "''", "raw")])
    elif _null(old) != _null(new) and not whole:
        out.add("", [("", f"{_text_size(old)} → {_text_size(new)}", "raw")])
    if a == b:
        return
    a_lines, b_lines = _split(a), _split(b)
    ends_differ = a.endswith("\n") != b.endswith("\n")
    for hunk in _hunks(_line_opcodes(a_lines, b_lines), context):
        first, last = hunk[0], hunk[-1]
        old_range, new_range = _range(first[1], last[2]), _range(first[3], last[4])
        head = f"@@ -{old_range} +{new_range} @@ {column}"
        out.add("", [("", head.rstrip(), "text")], "cyan")
        for tag, i1, i2, j1, j2 in hunk:
            if tag == "equal":
                for line in a_lines[i1:i2]:
                    out.add(" ", [("", _strip(line), "text")])
            else:
                _changed(a_lines[i1:i2], b_lines[j1:j2], out, ends_differ)


def _text_size(v: Value) -> str:
    if _null(v):
        return "NULL"
    text = str(v.value)
    if not text:
        return "''"
    count = text.count("\n") + (not text.endswith("\n"))
    return f"text ({count:,} line{'' if count == 1 else 's'})"


def _split(text: str) -> list[str]:
    """The lines of text, each with its "\\n" (the last may have none). Only "\\n" ends a
    line: a CR, a form feed or U+2028 stays inside it, to be shown."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def _strip(line: str) -> str:
    return line[:-1] if line.endswith("\n") else line


def _range(start: int, stop: int) -> str:
    """Lines start to stop (0-based, stop excluded) as a unified diff's hunk header writes
    them: first line (1-based) and count, the count left out when 1 (difflib's convention)."""
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib opcodes turning lines a into lines b, at a bounded cost. The lines both values
    begin and end with are skipped first, a linear scan: a 1 MB prompt with one changed word
    leaves one line per side. SequenceMatcher aligns what remains only when it holds at most
    LINES_COMPARED lines: for each line of one side it visits the places the other holds that
    line, which autojunk limits to 1% of them (a pass costs at most n x m / 100 steps; 2,000
    adversarial lines against 2,000 take under 20 ms). A longer middle is compared coarser:
    line k against line k when both sides hold as many lines (linear), else as one replaced
    block."""
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    codes = [("equal", 0, head, 0, head)] if head else []
    if len(a_mid) + len(b_mid) <= LINES_COMPARED:
        matcher = difflib.SequenceMatcher(None, a_mid, b_mid)
        codes += [
            (tag, i1 + head, i2 + head, j1 + head, j2 + head)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    elif len(a_mid) == len(b_mid):  # as many lines on both sides: line k against line k
        codes += _aligned(a_mid, b_mid, head)
    else:
        codes.append(("replace", head, head + len(a_mid), head, head + len(b_mid)))
    if tail:
        codes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return codes


def _aligned(a: list[str], b: list[str], at: int) -> list[Opcode]:
    """Opcodes for two lists of lines of one length compared line k to line k (linear): exact
    where lines were edited but none added or removed, as in a long prompt with a few words
    changed here and there."""
    codes: list[Opcode] = []
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        tag = "equal" if x == y else "replace"
        if codes and codes[-1][0] == tag:
            codes[-1] = (tag, codes[-1][1], at + k + 1, codes[-1][3], at + k + 1)
        else:
            codes.append((tag, at + k, at + k + 1, at + k, at + k + 1))
    return codes


def _hunks(codes: list[Opcode], context: int) -> Iterator[list[Opcode]]:
    """The opcodes in hunks, each change with at most `context` equal lines around it (as
    difflib's get_grouped_opcodes)."""
    if not codes:
        return
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _changed(old: list[str], new: list[str], out: _Out, ends_differ: bool) -> None:
    """A block of removed lines, then the added ones. A removed line paired with an added one
    (_pairs) has the words only it holds marked, and so has its partner; only the lines that
    can still be shown are paired."""
    room = out.room
    pairs = _pairs([_strip(x) for x in old[:room]], [_strip(y) for y in new[:room]])
    marked = {i: _word_pieces(_strip(old[i]), _strip(new[j]), out) for i, j in pairs.items()}
    by_old = {i: (pieces, start, new[pairs[i]]) for i, (pieces, _, start) in marked.items()}
    by_new = {pairs[i]: (pieces, start, old[i]) for i, (_, pieces, start) in marked.items()}
    for sign, lines, paired, after in (("-", old, by_old, len(new)), ("+", new, by_new, 0)):
        for k, line in enumerate(lines):
            if not out.room:
                out.skip(len(lines) - k + after)
                return
            pieces, start, partner = paired.get(k, ([("", _strip(line), "text")], None, ""))
            out.add(sign, _trailing_visible(pieces), _TONE[sign], start)
            if not line.endswith("\n") and (ends_differ or partner.endswith("\n")):
                out.add("\\", [("", " No newline at end of value", "raw")], "dim")


def _trailing_visible(pieces: list[Piece]) -> list[Piece]:
    """The spaces and tabs ending a changed line, made visible (␠, ␉)."""
    if not pieces:
        return pieces
    mark, text, how = pieces[-1]
    blank = len(text) - len(text.rstrip(" \t"))
    if not blank or how != "text":
        return pieces
    return [*pieces[:-1], (mark, text[:-blank], how), (mark, text[-blank:], "ws")]


# -- pairing lines and marking words -------------------------------------------------------

_TOKEN = re.compile(r"\w+|[ \t]+|.", re.S)  # words, runs of blanks, any other character
_WORD = re.compile(r"\w+")


def _pairs(old: list[str], new: list[str]) -> dict[int, int]:
    """Which removed line became which added one: the most pairs of similar lines (_similar)
    keeping their order, found with a table of len(old) x len(new) cells when that is at most
    PAIRING_CELLS; larger blocks pair the k-th removed line with the k-th added one."""
    n, m = len(old), len(new)
    if n * m > PAIRING_CELLS:
        return {k: k for k in range(min(n, m)) if _similar(old[k], new[k])}
    similar = [[_similar(x, y) for y in new] for x in old]
    best = [[0] * (m + 1) for _ in range(n + 1)]  # best[i][j]: most pairs in old[i:], new[j:]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            pair = best[i + 1][j + 1] + 1 if similar[i][j] else 0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], pair)
    pairs, i, j = {}, 0, 0
    while i < n and j < m:
        if similar[i][j] and best[i][j] == best[i + 1][j + 1] + 1:
            pairs[i] = j
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _similar(x: str, y: str) -> bool:
    """Whether two lines are one edited line: half their characters in a common beginning
    and end, or half their words shared, or (lines of at most SIMILAR_CHARS / 10 together,
    where difflib's character ratio is cheap) 60% of their characters."""
    start = _common_prefix(x, y)
    same = start + _common_suffix(x[start:], y[start:])
    if 2 * same >= (len(x) + len(y)) / 2:
        return True
    if len(x) + len(y) > SIMILAR_CHARS:
        return False
    words = difflib.SequenceMatcher(None, _WORD.findall(x), _WORD.findall(y))
    if words.quick_ratio() >= 0.5:
        return True
    if len(x) + len(y) > SIMILAR_CHARS // 10:
        return False
    chars = difflib.SequenceMatcher(None, x, y, autojunk=False)
    return chars.quick_ratio() >= 0.6 and chars.ratio() >= 0.6


def _word_pieces(a: str, b: str, out: _Out) -> tuple[list[Piece], list[Piece], int]:
    """Two paired lines cut into pieces, the tokens only a holds marked "-", those only b holds
    "+", and where they start to differ. The common beginning and end are found by bisection
    (about log2(len) slice comparisons); only a middle of at most WORD_CHARS is split into
    tokens, and SequenceMatcher aligns them at a cost of at most len(ta) x len(tb) steps,
    taken from the column's WORD_CELLS. A longer middle, or one met once those are spent, is
    marked whole. Marked pieces that are only blanks, or that look alike (_look_alike), are
    spelled so that the difference shows."""
    start = _common_prefix(a, b)
    end = _common_suffix(a[start:], b[start:])
    while start and any(_inside(a[start - 1], s[start]) for s in (a, b) if start < len(s)):
        start -= 1  # back to where the token the two lines start to differ in begins
    while end and any(
        _inside(s[len(s) - end - 1], s[len(s) - end]) for s in (a, b) if len(s) - end > 0
    ):
        end -= 1  # on to where the token they stop differing in ends
    a_mid, b_mid = a[start : len(a) - end], b[start : len(b) - end]
    ta, tb = [a_mid], [b_mid]
    codes = [("replace", 0, 1, 0, 1)]
    if len(a_mid) + len(b_mid) <= WORD_CHARS:
        ta, tb = _tokens(a_mid), _tokens(b_mid)
        if len(ta) * len(tb) <= out.word_cells:
            out.word_cells -= len(ta) * len(tb)
            codes = difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes()
        else:
            codes = [("replace", 0, len(ta), 0, len(tb))]
    old: list[Piece] = [("", a[:start], "text")]
    new: list[Piece] = [("", b[:start], "text")]
    for tag, i1, i2, j1, j2 in codes:
        x, y = "".join(ta[i1:i2]), "".join(tb[j1:j2])
        if tag == "equal":
            old.append(("", x, "text"))
            new.append(("", y, "text"))
            continue
        alike = bool(x and y) and _look_alike(x, y)
        old.append(("-", x, "codes" if alike else _blank_how(x)))
        new.append(("+", y, "codes" if alike else _blank_how(y)))
    old.append(("", a[len(a) - end :], "text"))
    new.append(("", b[len(b) - end :], "text"))
    return [p for p in old if p[1]], [p for p in new if p[1]], start


def _inside(before: str, after: str) -> bool:
    """Whether two neighbouring characters belong to one token (see _tokens)."""
    if _continues(after) or before == "\u200d":
        return True
    return (_wordy(before) and _wordy(after)) or (before in " \t" and after in " \t")


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"


def _continues(char: str) -> bool:
    """A combining mark, an emoji skin tone or a zero-width joiner: part of the character
    before it."""
    return (
        unicodedata.category(char)[0] == "M"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or char == "\u200d"
    )


def _tokens(text: str) -> list[str]:
    """Words, runs of blanks and single other characters; combining marks, emoji modifiers and
    zero-width joiners stay with the character before them."""
    found: list[str] = []
    for token in _TOKEN.findall(text):
        if found and (_continues(token[0]) or found[-1].endswith("\u200d")):
            found[-1] += token
        else:
            found.append(token)
    return found


def _look_alike(x: str, y: str) -> bool:
    """Whether two short differing pieces print alike or are one text in NFKC (é and
    e + U+0301, a ligature and its letters, a fullwidth letter and its ASCII form)."""
    if len(x) + len(y) > SIMILAR_CHARS:
        return False
    nfkc = unicodedata.normalize
    return nfkc("NFKC", x) == nfkc("NFKC", y) or _show(x) == _show(y)


def _blank_how(text: str) -> str:
    return "ws" if not text.strip(" \t") else "text"


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


# -- JSON ----------------------------------------------------------------------------------


def _json(old: Value, new: Value, out: _Out, whole: str) -> None:
    """One line per path that changed; a value NULL on one side is one line for `$`."""
    if whole:
        shown = new if whole == "+" else old
        out.add(f"{whole} $: ", [("", _one_line(shown), "text")], _TONE[whole])
    elif _null(old) or _null(new):
        out.add("", out.old_new(_one_line(old), _one_line(new), "~ $: "))
    else:
        for sign, path, a, b in _json_changes(old.value, new.value, "$", 0):
            if not out.room:
                out.skip(1)
            elif sign == "~":
                out.add("", out.old_new(_dump(a), _dump(b), f"~ {path}: "))
            else:
                out.add(
                    f"{sign} ",
                    [("", f"{path}: {_dump(b if sign == '+' else a)}", "text")],
                    _TONE[sign],
                )


def _json_changes(a: object, b: object, path: str, depth: int) -> Iterator[tuple]:
    """(sign, path, old, new) for each place where documents a and b differ: "~" changed
    (also from one type to another), "+" only in b, "-" only in a. Array elements are compared
    by index. Iterates each document once."""
    if depth < JSON_DEPTH and type(a) is dict and type(b) is dict:
        for key, value in a.items():
            if key in b:
                yield from _json_changes(value, b[key], _path(path, key), depth + 1)
            else:
                yield "-", _path(path, key), value, None
        for key, value in b.items():
            if key not in a:
                yield "+", _path(path, key), None, value
    elif depth < JSON_DEPTH and type(a) is list and type(b) is list:
        for k in range(max(len(a), len(b))):
            if k >= len(b):
                yield "-", f"{path}[{k}]", a[k], None
            elif k >= len(a):
                yield "+", f"{path}[{k}]", None, b[k]
            else:
                yield from _json_changes(a[k], b[k], f"{path}[{k}]", depth + 1)
    elif not _same_json(a, b):
        yield "~", path, a, b


def _same_json(a: object, b: object) -> bool:
    """Equal as JSON documents, types included (1, 1.0 and true differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):  # == first: it is quick, but takes 1 for 1.0 and true
        return a == b and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return a == b or (a != a and b != b)  # NaN equals NaN here


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _path(path: str, key: str) -> str:
    return f"{path}.{key}" if _KEY.fullmatch(key) else f"{path}[{_dump(key)}]"


def _dump(value: object) -> str:
    """Compact JSON, non-ASCII kept but hidden characters escaped (\\u202e, \\u200b)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _HIDDEN.sub(lambda m: json.dumps(m.group())[1:-1], text)


# -- showing characters --------------------------------------------------------------------

# Characters shown as <U+XXXX>: controls but tab, C1 controls, NBSP and other spaces but " "
# and U+3000, every format character (zero-width, bidi embeddings, overrides and isolates,
# the invisible tags that can smuggle text to a model), line and paragraph separators, fillers
# that draw nothing (Hangul, braille blank, Khmer, Mongolian), lone surrogates, plane 14
# (tags, variation selectors supplement), the control pictures (so a real ␍ cannot pass for a
# CR shown), a zero-width joiner not between two emoji, and a second variation selector in a
# row. tests/unit/test_changes.py checks this covers the categories Cc Cf Zs Zl Zp Cs.
_EMOJI = "\u2600-\u27bf\ufe0f\U0001f000-\U0001faff"
_HIDDEN = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\xa0\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f\u2000-\u200c\u200e-\u200f\u2028-\u202f"
    "\u205f-\u206f\u2400-\u2426\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
    f"|(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])"
    "|(?<=[\ufe00-\ufe0f])[\ufe00-\ufe0f]"
)
_PICTURE = {"\r": "␍", "\n": "␊"}
_NOT_ASCII = re.compile(r"[^!-~]")


def _code(match: re.Match[str]) -> str:
    char = match.group()
    return _PICTURE.get(char) or f"<U+{ord(char):04X}>"


def _show(text: str, how: str = "text") -> str:
    """text as it is printed. how: "text" (hidden characters escaped), "ws" (also spaces and
    tabs shown, ␠ ␉), "codes" (every character but visible ASCII as <U+XXXX>), "raw"."""
    if how == "raw":
        return text
    if how == "codes":
        return _NOT_ASCII.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    text = _HIDDEN.sub(_code, text)
    return text.replace(" ", "␠").replace("\t", "␉") if how == "ws" else text


def _fit(text: str, how: str, budget: int) -> tuple[str, int]:
    """The printed form of text's beginning, at most `budget` characters long, and how many
    characters of text it shows. Only the first `budget` characters are looked at (printing
    never makes text shorter), so a 1 MB line costs no more than a short one."""
    head = text[:budget]
    shown = _show(head, how)
    if len(shown) <= budget:
        return shown, len(head)
    lo, hi = 0, len(head)  # head[:lo] fits, head[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(_show(head[:mid], how)) <= budget:
            lo = mid
        else:
            hi = mid
    return _show(head[:lo], how), lo


# -- output --------------------------------------------------------------------------------

_TONE = {"-": "red", "+": "green"}
_SGR = {"red": "\x1b[31m", "green": "\x1b[32m", "cyan": "\x1b[36m", "dim": "\x1b[2m"}
_RESET = "\x1b[0m"


class _Out:
    """The lines of one column: at most max_lines, then `… N more lines not shown`; each shows
    at most max_line_chars characters of the value, then `… (N more characters)`."""

    def __init__(self, color: bool, max_lines: int, max_line_chars: int) -> None:
        self.color, self.max_lines, self.max_chars = color, max_lines, max(1, max_line_chars)
        self.lines: list[str] = []
        self.hidden = 0
        self.word_cells = WORD_CELLS  # what _word_pieces may still spend

    @property
    def room(self) -> int:
        """Lines that can still be added (none once one was left out)."""
        return 0 if self.hidden else max(0, self.max_lines - len(self.lines))

    def skip(self, count: int) -> None:
        self.hidden += count

    def result(self) -> list[str]:
        more = [f"… {self.hidden:,} more lines not shown"] if self.hidden else []
        return self.lines + more

    def add(self, sign: str, pieces: list[Piece], tone: str = "", start: int | None = None) -> None:
        """One line: sign, then the pieces (mark, text, how). mark "-" and "+" are changed
        words ([-x-], {+x+}; in color reversed), "r" and "g" red and green in color only; how
        is how _show prints text, "raw" for words of ours (shown whole, not counted). tone
        colors the whole line; start is where a paired line starts to differ (_window)."""
        if not self.room:
            self.skip(1)
            return
        skipped, pieces = _window(pieces, self.max_chars, start)
        parts, budget, left = [], self.max_chars, 0
        for n, (mark, text, how) in enumerate(pieces):
            shown, used = (text, len(text)) if how == "raw" else _fit(text, how, budget)
            budget -= 0 if how == "raw" else len(shown)
            if shown:
                parts.append(self._mark(mark, shown))
            if used < len(text):
                left = len(text) - used + sum(len(t) for _, t, h in pieces[n + 1 :] if h != "raw")
                break
        line = sign + (f"({skipped:,} earlier characters) …" if skipped else "")
        line += "".join(parts) + (f"… ({left:,} more characters)" if left else "")
        self.lines.append(f"{_SGR[tone]}{line}{_RESET}" if self.color and tone else line)

    def _mark(self, mark: str, shown: str) -> str:
        if self.color:
            if mark in ("-", "+"):
                return f"\x1b[7m{shown}\x1b[27m"
            if mark in ("r", "g"):
                return f"{_SGR['red' if mark == 'r' else 'green']}{shown}\x1b[39m"
            return shown
        return f"[-{shown}-]" if mark == "-" else f"{{+{shown}+}}" if mark == "+" else shown

    def old_new(self, old: str, new: str, prefix: str = "") -> list[Piece]:
        """`prefix old → new`, each value cut to half of what the line can show."""
        half = max(16, (self.max_chars - len(prefix) - 3) // 2)
        arrow: Piece = ("", " → ", "raw")
        return [("", prefix, "text"), *_clip("r", old, half), arrow, *_clip("g", new, half)]


def _clip(mark: str, value: str, budget: int) -> list[Piece]:
    """value printed in at most budget characters, then how many were left out."""
    shown, used = _fit(value, "text", budget)
    more = f"… ({len(value) - used:,} more characters)" if used < len(value) else ""
    return [(mark, shown, "raw"), ("", more, "raw")]


def _window(pieces: list[Piece], budget: int, start: int | None) -> tuple[int, list[Piece]]:
    """For a paired line too long to show whole that differs from its partner from character
    `start` on, past the middle of what can be shown: how many characters to skip so that the
    difference shows (its partner skips as many), and the pieces after them."""
    total = sum(len(text) for _, text, _ in pieces)
    if start is None or total <= budget or start <= budget // 2:
        return 0, pieces
    skip = left = start - budget // 4
    kept: list[Piece] = []
    for mark, text, how in pieces:
        cut = min(left, len(text))
        left -= cut
        if text[cut:]:
            kept.append((mark, text[cut:], how))
    return skip, kept


# -- Markdown ------------------------------------------------------------------------------


def _row_block(row: RowChange, context: int) -> list[str]:
    """One row as a folded <details>: a summary, then per changed column its name and a
    ```diff block fenced with more backticks than the block holds in a row."""
    title = f"{row.mark} {row.label}" + (f" — {row.note}" if row.note else "")
    block = [f"<details><summary>{_html(title)}</summary>", ""]
    whole = row.mark if row.mark in ("+", "-") else ""
    for column, old, new in row.columns:
        out = _Out(False, MAX_LINES, MAX_LINE_CHARS)
        _column(column, old, new, out, context, whole)
        found = out.result()
        if not found:
            continue
        longest = max((len(run) for line in found for run in re.findall("`+", line)), default=0)
        fence = "`" * max(3, longest + 1)
        block += [f"**{_markdown(column)}**", "", f"{fence}diff", *found, fence, ""]
    return [*block, "</details>"]


def _html(text: str) -> str:
    """Plain text as HTML on one line: hidden characters and line ends shown, <>&"' escaped."""
    return html.escape(_show(text))


def _markdown(text: str) -> str:
    """Plain text inside Markdown emphasis: HTML escaped, Markdown's own characters too."""
    return re.sub(r"([\\`*_\[\]~])", r"\\\1", _html(text))
