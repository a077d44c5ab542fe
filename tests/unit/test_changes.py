"""What changed inside a prompt's columns (promptsync.changes): text as a unified diff with the
changed words marked, JSON as the paths that changed, other types as `old → new`; hostile
content shown so that every change can be seen and nothing can be spoofed; long values cut
with counts; and the Markdown blocks for a job summary, kept under their byte budget."""

from __future__ import annotations

import difflib
import re
import unicodedata

import pytest

from promptsync.changes import RowChange, Value, column_lines, markdown_blocks

NULL_TEXT = Value("text", None, null=True)
NULL_JSON = Value("json", None, null=True)
NULL_SCALAR = Value("scalar", None, null=True)
# The HOSTILE rows' one megabyte body (tests/integration/test_sync.py).
MEGABYTE = "é\t\\日\r\n😀 " * 87382
SGR = re.compile(r"\x1b\[[0-9;]*m")


def text(value: str) -> Value:
    return Value("text", value)


def doc(value: object) -> Value:
    return Value("json", value)


def scalar(value: str) -> Value:
    return Value("scalar", value)


def unmarked(lines: list[str]) -> list[str]:
    """The lines with the word marks taken out: what a plain unified diff would show."""
    return [re.sub(r"\[-(.*?)-\]|\{\+(.*?)\+\}", lambda m: m[1] or m[2] or "", x) for x in lines]


def hidden_characters(found: str) -> set[str]:
    """Characters of `found` a reader could not see: controls (but tab), format characters,
    line and paragraph separators, surrogates, spaces other than " " and U+3000."""
    return {c for c in found if invisible(c)}


def invisible(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Zs":
        return char not in " \u3000"
    return category in ("Cc", "Cf", "Zl", "Zp", "Cs") and char != "\t"


# -- text: lines and words -----------------------------------------------------------------


def test_a_changed_word_is_marked_on_both_lines_of_its_hunk():
    old = "You are a helpful assistant.\nBe brief.\nSay hi."
    new = "You are a careful assistant.\nBe brief.\nSay hi."
    assert column_lines("body", text(old), text(new)) == [
        "@@ -1,3 +1,3 @@ body",
        "-You are a [-helpful-] assistant.",
        "+You are a {+careful+} assistant.",
        " Be brief.",
        " Say hi.",
    ]


def test_color_marks_words_with_ansi_and_no_brackets():
    found = column_lines("body", text("a helpful reply"), text("a careful reply"), color=True)
    assert found == [
        "\x1b[36m@@ -1 +1 @@ body\x1b[0m",
        "\x1b[31m-a \x1b[7mhelpful\x1b[27m reply\x1b[0m",
        "\x1b[32m+a \x1b[7mcareful\x1b[27m reply\x1b[0m",
    ]
    assert [SGR.sub("", line) for line in found] == [
        "@@ -1 +1 @@ body",
        "-a helpful reply",
        "+a careful reply",
    ]


def test_lines_added_and_removed_match_a_plain_unified_diff():
    old = "intro\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\nend\n"
    new = "intro\nzero\none\ntwo!\nthree\nfour\nfive\nsix\nseven\neight\nten\nend\nextra\n"
    found = column_lines("body", text(old), text(new), context=2)
    a, b = old.splitlines(), new.splitlines()
    expected = difflib.unified_diff(a, b, n=2, lineterm="")
    assert [re.sub(r" @@ body$", " @@", x) for x in unmarked(found)] == list(expected)[2:]
    assert "+two{+!+}" in found


def test_context_lines_are_honoured_and_far_changes_get_their_own_hunks():
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 5", "line five").replace("line 16", "line sixteen")
    assert column_lines("body", text(old), text(new), context=1) == [
        "@@ -4,3 +4,3 @@ body",
        " line 4",
        "-line [-5-]",
        "+line {+five+}",
        " line 6",
        "@@ -15,3 +15,3 @@ body",
        " line 15",
        "-line [-16-]",
        "+line {+sixteen+}",
        " line 17",
    ]
    assert column_lines("body", text(old), text(new), context=0)[0] == "@@ -5 +5 @@ body"
    assert len(column_lines("body", text(old), text(new), context=3)) == 2 * (1 + 2 * 3 + 2)
    one_hunk = column_lines("body", text(old), text(new), context=6)
    assert [line for line in one_hunk if line.startswith("@@")] == ["@@ -1,20 +1,20 @@ body"]


def test_unrelated_lines_are_replaced_whole_without_word_marks():
    found = column_lines("body", text("alpha beta gamma\nend"), text("completely new\nend"))
    assert found == ["@@ -1,2 +1,2 @@ body", "-alpha beta gamma", "+completely new", " end"]


def test_equal_values_give_no_lines():
    assert column_lines("body", text("same"), text("same")) == []
    assert column_lines("body", NULL_TEXT, NULL_TEXT) == []
    assert column_lines("metadata", doc({"a": [1]}), doc({"a": [1]})) == []
    assert column_lines("version", scalar("2"), scalar("2")) == []


# -- text: hostile content -----------------------------------------------------------------


def test_crlf_to_lf_is_visible_and_no_raw_cr_is_printed():
    found = column_lines("body", text("a\r\nb\r\n"), text("a\nb\n"))
    assert found == ["@@ -1,2 +1,2 @@ body", "-a[-␍-]", "-b[-␍-]", "+a", "+b"]
    assert not any("\r" in line for line in found)
    context = column_lines("body", text("x\r\ny\r\nz"), text("x\r\ny\r\nZ"))
    assert " x␍" in context and " y␍" in context


def test_trailing_spaces_and_tabs_of_changed_lines_are_visible():
    assert column_lines("body", text("end"), text("end  ")) == [
        "@@ -1 +1 @@ body",
        "-end",
        "+end{+␠␠+}",
    ]
    assert column_lines("body", text("x\t\ny"), text("x\ny"))[1] == "-x[-␉-]"
    added = column_lines("body", text("a"), text("a\nnew line \t"))
    assert added[-1] == "+new line␠␉"


def test_tabs_stay_tabs_and_a_tab_turned_to_spaces_shows():
    found = column_lines("body", text("col1\tcol2\nx\ty"), text("col1\tcol2\nx    y"))
    assert " col1\tcol2" in found
    assert "-x[-␉-]y" in found and "+x{+␠␠␠␠+}y" in found


def test_a_lost_final_newline_is_said():
    assert column_lines("body", text("a\nb\n"), text("a\nb")) == [
        "@@ -1,2 +1,2 @@ body",
        " a",
        "-b",
        "+b",
        "\\ No newline at end of value",
    ]


def test_unicode_and_emoji_are_kept_intact():
    old = "Ünïcödé àéîõü ẞ 日本語のテキスト 中文 한국어 😀👍🏽🇳🇵 👨‍👩‍👧 ❤️"
    found = column_lines("body", text(old + "\nbye"), text(old + "\nbye now"))
    assert f" {old}" in found
    assert "+bye{+ now+}" in found


def test_rtl_zero_width_and_other_invisible_characters_are_spelled_out():
    old = "Ünïcödé 😀 \u202ertl\u202c zero\u200bwidth \u2066iso\u2069 \ufeffbom"
    new = "Ünïcödé 😀 rtl zerowidth iso bom"
    found = column_lines("body", text(old), text(new))
    assert found[1] == (
        "-Ünïcödé 😀 [-<U+202E>-]rtl[-<U+202C>-] [-zero<U+200B>width-] "
        "[-<U+2066>-]iso[-<U+2069>-] [-<U+FEFF>-]bom"
    )
    assert found[2] == "+Ünïcödé 😀 rtl {+zerowidth+} iso bom"
    context = column_lines("body", text(f"{old}\nx"), text(f"{old}\ny"))
    assert "<U+202E>" in context[1] and "\u202e" not in "".join(context)


def test_no_hidden_character_of_any_kind_is_ever_printed():
    everything = "".join(chr(cp) for cp in range(0x110000) if invisible(chr(cp)))
    assert len(everything) > 2000  # controls, formats, separators, spaces, surrogates
    for color in (False, True):
        found = column_lines(
            "body",
            text("x"),
            text("x" + everything),
            color=color,
            max_line_chars=len(everything) * 9,
        )
        assert hidden_characters("".join(SGR.sub("", line) for line in found)) == set()
        assert "…" not in found[-1]  # not cut: every character was looked at
    shown = column_lines("v", scalar(everything), scalar("y"), max_line_chars=10**6)[0]
    assert hidden_characters(shown) == set()
    colored = column_lines("body", text("a"), text("\x1b[31mred"), color=True)
    assert colored[-1] == "\x1b[32m+<U+001B>[31mred\x1b[0m"


def test_control_pictures_in_the_data_cannot_pass_for_a_cr():
    found = column_lines("body", text("a\r"), text("a␍"))
    assert found[1:] == ["-a[-␍-]", "+a{+<U+240D>+}"]


def test_look_alike_spellings_are_spelled_out_by_code_point():
    found = column_lines("body", text("café au lait"), text("cafe\u0301 au lait"))
    assert found[1:] == ["-[-caf<U+00E9>-] au lait", "+{+cafe<U+0301>+} au lait"]
    spaces = column_lines("body", text("a b"), text("a\u00a0b"))
    assert spaces[1:] == ["-a[-<U+0020>-]b", "+a{+<U+00A0>+}b"]


def test_the_copy_terminator_and_backslashes_are_shown_as_they_are():
    old = "\\.\nmore text after it\n\\.\n\\.\n"
    new = "\\.\nmore text after it!\n\\.\n\\.\nback\\slash \\N \\t \\\\ end\\\n"
    found = column_lines("body", text(old), text(new))
    assert found == [
        "@@ -1,4 +1,5 @@ body",
        " \\.",
        "-more text after it",
        "+more text after it{+!+}",
        " \\.",
        " \\.",
        "+back\\slash \\N \\t \\\\ end\\",
    ]


def test_null_and_empty_text_never_look_alike():
    assert column_lines("body", NULL_TEXT, text("")) == ["NULL → ''"]
    assert column_lines("body", text(""), NULL_TEXT) == ["'' → NULL"]
    assert column_lines("body", NULL_TEXT, text("a\nb")) == [
        "NULL → text (2 lines)",
        "@@ -0,0 +1,2 @@ body",
        "+a",
        "+b",
    ]
    assert column_lines("body", text(""), text("a\nb")) == ["@@ -0,0 +1,2 @@ body", "+a", "+b"]
    assert column_lines("body", text("x\n"), NULL_TEXT)[0] == "text (1 line) → NULL"
    assert column_lines("body", Value("text", None), text("")) == ["NULL → ''"]


# -- JSON ----------------------------------------------------------------------------------


def test_json_paths_that_changed_one_per_line():
    old = {
        "settings": {"max_tokens": 300, "model": "small", "tools": [1, 2]},
        "state": "planning",
        "stop": ["\n"],
    }
    new = {
        "settings": {"max_tokens": 400, "model": "small", "tools": {"a": 1}},
        "stop": ["\n", "\n\nAI:"],
        "max tokens": "\u202ex\x1b",
        "é": "😀",
    }
    assert column_lines("metadata", doc(old), doc(new)) == [
        "~ $.settings.max_tokens: 300 → 400",
        '~ $.settings.tools: [1,2] → {"a":1}',
        '- $.state: "planning"',
        '+ $.stop[1]: "\\n\\nAI:"',
        '+ $["max tokens"]: "\\u202ex\\u001b"',
        '+ $["é"]: "😀"',
    ]


def test_json_types_arrays_and_nulls_are_told_apart():
    old = {"a": 1, "b": True, "c": None, "d": [1, 2, 3], "e": "1"}
    new = {"a": 1.0, "b": 1, "c": "null", "d": [1, 5], "e": 1}
    assert column_lines("metadata", doc(old), doc(new)) == [
        "~ $.a: 1 → 1.0",
        "~ $.b: true → 1",
        '~ $.c: null → "null"',
        "~ $.d[1]: 2 → 5",
        "- $.d[2]: 3",
        '~ $.e: "1" → 1',
    ]


def test_json_whole_value_null_is_one_line_and_not_json_null():
    assert column_lines("metadata", NULL_JSON, doc({"a": 1})) == ['~ $: NULL → {"a":1}']
    assert column_lines("metadata", doc(None), doc({"a": 1})) == ['~ $: null → {"a":1}']
    assert column_lines("metadata", doc([]), NULL_JSON) == ["~ $: [] → NULL"]
    assert column_lines("tags", doc(["a", None]), doc(["a", "NULL"])) == ['~ $[1]: null → "NULL"']


def test_json_in_color_shows_old_red_and_new_green():
    found = column_lines("metadata", doc({"a": 1, "b": 2}), doc({"a": 2}), color=True)
    assert found == [
        "~ $.a: \x1b[31m1\x1b[39m → \x1b[32m2\x1b[39m",
        "\x1b[31m- $.b: 2\x1b[0m",
    ]


def test_json_nested_deeper_than_shown_is_compared_whole():
    old: object = 1
    new: object = 2
    for _ in range(200):
        old, new = [old], [new]
    found = column_lines("metadata", doc(old), doc(new), max_line_chars=10_000)
    assert len(found) == 1 and found[0].startswith("~ $" + "[0]" * 64 + ": ")
    assert found[0].endswith("[" * 136 + "1" + "]" * 136 + " → " + "[" * 136 + "2" + "]" * 136)


# -- scalars -------------------------------------------------------------------------------


def test_scalars_are_old_arrow_new_with_null_as_null():
    assert column_lines("temperature", scalar("0.7"), scalar("0.9")) == ["0.7 → 0.9"]
    assert column_lines("temperature", NULL_SCALAR, scalar("NaN")) == ["NULL → NaN"]
    assert column_lines("updated_at", scalar("2024-01-01 00:00:00+00"), NULL_SCALAR) == [
        "2024-01-01 00:00:00+00 → NULL"
    ]
    assert column_lines("t", NULL_SCALAR, scalar("1"), color=True) == [
        "\x1b[31mNULL\x1b[39m → \x1b[32m1\x1b[39m"
    ]


# -- cuts ----------------------------------------------------------------------------------


def test_at_most_max_lines_then_the_exact_count_left_out():
    old = "\n".join(f"old {n}" for n in range(30))
    new = "\n".join(f"new {n}" for n in range(40))
    found = column_lines("body", text(old), text(new), max_lines=5)
    assert len(found) == 6
    assert found[-1] == f"… {1 + 30 + 40 - 5:,} more lines not shown"
    many = {f"k{n}": n for n in range(2000)}
    found = column_lines("metadata", doc({}), doc(many), max_lines=10)
    assert found[:2] == ["+ $.k0: 0", "+ $.k1: 1"] and found[-1] == "… 1,990 more lines not shown"


def test_long_lines_are_cut_with_the_count_of_characters_left_out():
    long = "x" * 1000
    found = column_lines("body", text(f"{long}\na"), text(f"{long}\nb"), max_line_chars=100)
    assert found[1] == " " + "x" * 100 + "… (900 more characters)"
    escaped = column_lines("v", scalar("a"), scalar("\u202e" * 50), max_line_chars=40)
    assert escaped == ["a → <U+202E><U+202E>… (48 more characters)"]
    big = column_lines("metadata", doc({"a": "o" * 5000}), doc({"a": "n" * 5000}))
    assert big[0].startswith('~ $.a: "ooo') and ' → "nnn' in big[0]
    assert big[0].count("more characters") == 2 and len(big[0]) < 500


def test_a_change_deep_in_a_long_line_is_brought_into_view():
    line = "lorem ipsum dolor sit amet " * 400
    at = line.index("dolor", len(line) // 2)
    new = line[:at] + "CHANGED " + line[at:]
    found = column_lines("body", text(line), text(new), max_line_chars=200)
    skipped = at - 200 // 4  # a quarter of the line shows what comes before the change
    assert found[1:] == [
        f"-({skipped:,} earlier characters) …{line[skipped : skipped + 200]}"
        f"… ({len(line) - skipped - 200:,} more characters)",
        f"+({skipped:,} earlier characters) …{line[skipped:at]}{{+CHANGED +}}"
        f"{line[at : at + 142]}… ({len(new) - skipped - 200:,} more characters)",
    ]


def test_a_megabyte_value_with_one_changed_word_gives_a_short_exact_diff():
    at = MEGABYTE.rindex("日", 0, len(MEGABYTE) - 2000)
    new = MEGABYTE[:at] + "月" + MEGABYTE[at + 1 :]
    line = MEGABYTE.count("\n", 0, at) + 1
    found = column_lines("body", text(MEGABYTE), text(new))
    assert found == [
        f"@@ -{line - 3},7 +{line - 3},7 @@ body",
        *[" 😀 é\t\\日␍"] * 3,
        "-😀 é\t\\[-日-]␍",
        "+😀 é\t\\{+月+}␍",
        *[" 😀 é\t\\日␍"] * 3,
    ]


def test_megabyte_values_changed_everywhere_are_cut_and_counted():
    other = "abc def\n" * 130_000
    found = column_lines("body", text(MEGABYTE), text(other))
    assert len(found) == 201
    removed, added = MEGABYTE.count("\n") + 1, other.count("\n")
    assert found[0] == f"@@ -1,{removed} +1,{added} @@ body"
    assert found[-1] == f"… {1 + removed + added - 200:,} more lines not shown"
    twice = MEGABYTE.replace("日", "月", 1)
    twice = twice[:-100] + twice[-100:].replace("日", "月")
    hunks = [x for x in column_lines("body", text(MEGABYTE), text(twice)) if x.startswith("@@")]
    assert len(hunks) == 2


# -- Markdown ------------------------------------------------------------------------------


def changed_row(n: int, body: str = "Be brief.\nSay hi.") -> RowChange:
    return RowChange(
        "~",
        f"id={n} name=p{n}",
        [("body", text(body), text(body.replace("brief", f"brief ({n})")))],
    )


def test_a_row_block_holds_its_columns_in_diff_fences():
    row = RowChange(
        "~",
        "id=61 name=<script>alert(1)</script>",
        [
            ("body", text("You are a helpful assistant."), text("You are a careful assistant.")),
            ("metadata", doc({"max_tokens": 300}), doc({"max_tokens": 400})),
            ("updated_at", scalar("2024-01-01"), scalar("2024-02-01")),
            ("version", scalar("1"), scalar("1")),
        ],
        note="edited in production outside promptsync since promotion 12 <b>",
    )
    assert markdown_blocks([row]) == [
        "<details><summary>~ id=61 name=&lt;script&gt;alert(1)&lt;/script&gt; — edited in "
        "production outside promptsync since promotion 12 &lt;b&gt;</summary>",
        "",
        "**body**",
        "",
        "```diff",
        "@@ -1 +1 @@ body",
        "-You are a [-helpful-] assistant.",
        "+You are a {+careful+} assistant.",
        "```",
        "",
        "**metadata**",
        "",
        "```diff",
        "~ $.max_tokens: 300 → 400",
        "```",
        "",
        "**updated\\_at**",
        "",
        "```diff",
        "2024-01-01 → 2024-02-01",
        "```",
        "",
        "</details>",
    ]


def test_fences_outlast_backticks_in_the_value():
    body = ("````\nuse ```code```", "````\nuse ``code``")
    row = RowChange("~", "id=1", [("body", text(body[0]), text(body[1]))])
    lines = markdown_blocks([row])
    fence = lines.index("`````diff")
    assert lines[fence + 1 : fence + 6] == [
        "@@ -1,2 +1,2 @@ body",
        " ````",
        "-use ``[-`-]code[-`-]``",
        "+use ``code``",
        "`````",
    ]


def test_summaries_and_column_names_cannot_break_out():
    row = RowChange(
        "~", "id=2 name=a\nb\u202e</summary>", [("we*ird_`col`<i>", text("a"), text("b"))]
    )
    lines = markdown_blocks([row])
    assert lines[0] == ("<details><summary>~ id=2 name=a␊b&lt;U+202E&gt;&lt;/summary&gt;</summary>")
    assert lines[2] == "**we\\*ird\\_\\`col\\`&lt;i&gt;**"
    assert all("\n" not in line and "\r" not in line for line in lines)


def test_added_and_removed_rows_show_their_values_whole():
    added = RowChange(
        "+",
        "id=7",
        [
            ("body", NULL_TEXT, text("new\nprompt")),
            ("metadata", NULL_JSON, doc({"a": [1]})),
            ("temperature", NULL_SCALAR, scalar("0.5")),
            ("notes", NULL_TEXT, NULL_TEXT),
        ],
    )
    lines = markdown_blocks([added])
    assert "NULL → text (2 lines)" not in lines
    assert ["@@ -0,0 +1,2 @@ body", "+new", "+prompt"] == lines[5:8]
    assert '+ $: {"a":[1]}' in lines and "+ 0.5" in lines and "**notes**" not in lines
    removed = RowChange("-", "id=8", [("body", text(""), NULL_TEXT)])
    assert "''" in markdown_blocks([removed])


def test_rows_keep_their_order():
    lines = markdown_blocks([changed_row(n) for n in (5, 3, 9, 1)])
    titles = [x for x in lines if x.startswith("<details>")]
    assert titles == [f"<details><summary>~ id={n} name=p{n}</summary>" for n in (5, 3, 9, 1)]
    assert "more rows not shown" not in lines[-1]


def test_five_thousand_rows_stay_under_the_budget_and_the_rest_is_counted():
    prompt = "\n".join(
        f"Line {n}: you are the support assistant; be brief, be kind." for n in range(35)
    )
    assert 2000 <= len(prompt) <= 2100
    rows = [changed_row(n, prompt) for n in range(10_000, 15_000)]
    lines = markdown_blocks(rows)
    size = len("\n".join(lines).encode())
    assert size <= 900_000
    shown = sum(1 for x in lines if x.startswith("<details>"))
    assert lines[-2:] == ["", f"{5000 - shown:,} more rows not shown"]
    assert lines[-3] == "</details>"
    next_block = markdown_blocks(rows[shown : shown + 1])
    assert size + len("\n".join(next_block).encode()) > 900_000  # the next row did not fit
    assert [x for x in lines if x.startswith("<details>")] == [
        f"<details><summary>~ id={n} name=p{n}</summary>" for n in range(10_000, 10_000 + shown)
    ]


def test_the_budget_counts_utf8_bytes_and_drops_whole_rows():
    rows = [changed_row(n, "日本語のテキスト😀 brief\n" * 20) for n in range(100)]
    one = len("\n".join(markdown_blocks(rows[:1])).encode())
    lines = markdown_blocks(rows, limit_bytes=one * 3 + 50)
    assert len("\n".join(lines).encode()) <= one * 3 + 50
    assert sum(1 for x in lines if x == "</details>") == 3
    assert lines[-1] == "97 more rows not shown"
    assert markdown_blocks(rows[:3], limit_bytes=one * 3 + 2) == markdown_blocks(rows[:3])
    assert markdown_blocks(rows, limit_bytes=10) == ["100 more rows not shown"]


@pytest.mark.parametrize("mark", ["+", "~", "-"])
def test_every_markdown_line_is_one_line_of_visible_text(mark):
    hostile = "tabs\tin\tname\r\nline2\rline3\nback\\slash \\N \x00\x1b[2J \u2028 end\\"
    row = RowChange(mark, "id=1 name=tabs\tin\tname", [("body", text("x"), text(hostile))])
    for line in markdown_blocks([row]):
        assert "\n" not in line and "\x1b" not in line and not hidden_characters(line)
