"""promptsync.dumpstream: only the COPY data of a pg_dump script reaches the target session,
redirected into the staging tables."""

from __future__ import annotations

import io

import pytest

from promptsync import dumpstream
from promptsync.dumpstream import CHUNK, copy_header, forward_copy_data
from promptsync.errors import Failed

KEY = b"Xq7hT3b9vKpL2mN4cR8sW1yZ6dF0gJ5aE"
STAGE = "pg_temp.promptsync_stage_0"
STAGE_TAGS = "pg_temp.promptsync_stage_1"
PROMPTS_HEADER = b"COPY public.prompts (id, name, prompt_type, body, meta) FROM stdin;\n"
TAGS_HEADER = b"COPY public.tags (label) FROM stdin;\n"


def row(*fields: bytes) -> bytes:
    return b"\t".join(fields) + b"\n"


PROMPT_ROWS = [
    row(b"1", b"greeting", b"system", rb"Hello\tworld\nline two", b'{"a": [1, 2]}'),
    row(b"2", b"empty-body", b"system", b"", rb"\N"),  # '' and NULL
    row(b"3", b"dot", b"user", rb"\\.", rb"\N"),  # the text \. as escaped data
    row(b"4", b"unicode", b"user", "Grüße 👋 日本".encode(), rb"\N"),
    row(b"5", b"backslashes", b"user", rb"C:\\path\\to", rb"\N"),
]
TAG_ROWS = [
    rb"\\." + b"\n",  # a row whose only value is the text `\.`: data, not the terminator
    b"SET statement_timeout = 0;\n",  # data that looks like SQL is data
    b"COPY public.users (id) FROM stdin;\n",
    rb"\N" + b"\n",
]
END = b"\\.\n"

PREAMBLE = b"".join(
    [
        b"--\n",
        b"-- PostgreSQL database dump\n",
        b"--\n",
        b"\n",
        b"\\restrict " + KEY + b"\n",
        b"\n",
        b"-- Dumped from database version 18.1\n",
        b"-- Dumped by pg_dump version 18.1\n",
        b"\n",
        b"SET statement_timeout = 0;\n",
        b"SET lock_timeout = 0;\n",
        b"SET idle_in_transaction_session_timeout = 0;\n",
        b"SET transaction_timeout = 0;\n",
        b"SET client_encoding = 'UTF8';\n",
        b"SET standard_conforming_strings = on;\n",
        b"SELECT pg_catalog.set_config('search_path', '', false);\n",
        b"SET check_function_bodies = false;\n",
        b"SET xmloption = content;\n",
        b"SET client_min_messages = warning;\n",
        b"SET row_security = off;\n",
        b"\n",
    ]
)


def data_comment(table: bytes) -> bytes:
    return (
        b"--\n-- Data for Name: " + table + b"; Type: TABLE DATA; Schema: public; "
        b"Owner: postgres\n--\n\n"
    )


PROMPTS_BLOCK = data_comment(b"prompts") + PROMPTS_HEADER + b"".join(PROMPT_ROWS) + END + b"\n\n"
TAGS_BLOCK = data_comment(b"tags") + TAGS_HEADER + b"".join(TAG_ROWS) + END + b"\n\n"
EPILOGUE = b"".join(
    [
        b"--\n",
        b"-- Name: prompts_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres\n",
        b"--\n",
        b"\n",
        b"SELECT pg_catalog.setval('public.prompts_id_seq', 5, true);\n",
        b"\n",
        b"\n",
        b"--\n",
        b"-- PostgreSQL database dump complete\n",
        b"--\n",
        b"\n",
        b"\\unrestrict " + KEY + b"\n",
        b"\n",
    ]
)
DUMP = PREAMBLE + PROMPTS_BLOCK + EPILOGUE
DUMP_TWO_TABLES = PREAMBLE + PROMPTS_BLOCK + TAGS_BLOCK + EPILOGUE
ONE = {"public.prompts": STAGE}
TWO = {"public.prompts": STAGE, "public.tags": STAGE_TAGS}


def lines(dump: bytes) -> io.BytesIO:
    """Line iteration exactly like a pipe from pg_dump (split on \\n only)."""
    return io.BytesIO(dump)


class Sink:
    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        assert isinstance(data, bytes) and data
        self.calls.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.calls)


def forward(dump: bytes, tables=ONE, progress=None) -> tuple[dumpstream.StreamStats, Sink]:
    sink = Sink()
    stats = forward_copy_data(lines(dump), tables, sink, progress)
    return stats, sink


# -- what reaches the target ------------------------------------------------------------------


def test_only_the_copy_block_reaches_send():
    _, sink = forward(DUMP)
    expected = (
        b"COPY "
        + STAGE.encode()
        + b" (id, name, prompt_type, body, meta) FROM STDIN;\n"
        + b"".join(PROMPT_ROWS)
        + END
    )
    assert sink.data == expected


@pytest.mark.parametrize(
    "fragment",
    [
        b"SET ",
        b"restrict",
        KEY,
        b"set_config",
        b"setval",
        b"transaction_timeout",
        b"--",
        b"public.prompts",
        b"FROM stdin",
    ],
)
def test_nothing_but_copy_data_reaches_send(fragment):
    _, sink = forward(DUMP)
    assert fragment not in sink.data


def test_the_copy_is_redirected_to_the_staging_table():
    _, sink = forward(DUMP)
    first_line = sink.data.split(b"\n", 1)[0]
    assert first_line == (
        b"COPY " + STAGE.encode() + b" (id, name, prompt_type, body, meta) FROM STDIN;"
    )


def test_rows_are_counted():
    stats, _ = forward(DUMP)
    assert stats.rows == {"public.prompts": len(PROMPT_ROWS)}
    assert stats.total_rows == 5


def test_bytes_are_the_copy_data_bytes():
    stats, _ = forward(DUMP)
    assert stats.bytes == len(b"".join(PROMPT_ROWS)) + len(END)


def test_escaped_backslash_dot_is_data_not_the_terminator():
    _, sink = forward(DUMP)
    assert PROMPT_ROWS[2] in sink.data
    assert PROMPT_ROWS[3] in sink.data  # the rows after it were not cut off


def test_a_line_holding_only_escaped_backslash_dot_is_a_row():
    stats, sink = forward(DUMP_TWO_TABLES, TWO)
    assert stats.rows["public.tags"] == len(TAG_ROWS)
    assert b"\n" + TAG_ROWS[0] in sink.data


def test_data_that_looks_like_sql_is_forwarded_as_data():
    _, sink = forward(DUMP_TWO_TABLES, TWO)
    assert b"SET statement_timeout = 0;\n" in sink.data
    assert b"COPY public.users (id) FROM stdin;\n" in sink.data


def test_tabs_nulls_and_unicode_are_forwarded_byte_for_byte():
    _, sink = forward(DUMP)
    assert b"2\tempty-body\tsystem\t\t\\N\n" in sink.data
    assert "Grüße 👋 日本".encode() in sink.data


def test_several_tables_each_go_to_their_own_stage():
    stats, sink = forward(DUMP_TWO_TABLES, TWO)
    assert stats.rows == {"public.prompts": 5, "public.tags": 4}
    assert stats.total_rows == 9
    expected = (
        b"COPY "
        + STAGE.encode()
        + b" (id, name, prompt_type, body, meta) FROM STDIN;\n"
        + b"".join(PROMPT_ROWS)
        + END
        + b"COPY "
        + STAGE_TAGS.encode()
        + b" (label) FROM STDIN;\n"
        + b"".join(TAG_ROWS)
        + END
    )
    assert sink.data == expected


def test_blocks_in_any_order():
    dump = PREAMBLE + TAGS_BLOCK + PROMPTS_BLOCK + EPILOGUE
    stats, sink = forward(dump, TWO)
    assert stats.rows == {"public.tags": 4, "public.prompts": 5}
    assert sink.data.index(STAGE_TAGS.encode()) < sink.data.index(STAGE.encode() + b" ")


def test_an_empty_table_is_a_block_with_no_rows():
    dump = PREAMBLE + PROMPTS_HEADER + END + EPILOGUE
    stats, sink = forward(dump)
    assert stats.rows == {"public.prompts": 0}
    assert sink.data.endswith(b" FROM STDIN;\n" + END)


def test_quoted_table_names_as_pg_dump_writes_them():
    dump = PREAMBLE + b'COPY public."Prompts" (id, "Body") FROM stdin;\n1\tx\n' + END
    stats, sink = forward(dump, {'public."Prompts"': STAGE})
    assert stats.rows == {'public."Prompts"': 1}
    assert sink.data.startswith(b"COPY " + STAGE.encode() + b' (id, "Body") FROM STDIN;\n')


def test_no_progress_callback_is_fine():
    stats, _ = forward(DUMP, progress=None)
    assert stats.total_rows == 5


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_rows", [0, 1, 3, 5])
def test_a_dump_cut_off_inside_the_data_fails(keep_rows):
    dump = PREAMBLE + PROMPTS_HEADER + b"".join(PROMPT_ROWS[:keep_rows])
    with pytest.raises(Failed) as excinfo:
        forward(dump)
    assert "public.prompts" in str(excinfo.value)
    assert f"{keep_rows} rows" in str(excinfo.value)


def test_a_dump_cut_off_in_the_middle_of_a_line_fails():
    dump = PREAMBLE + PROMPTS_HEADER + PROMPT_ROWS[0] + PROMPT_ROWS[1][:5]
    with pytest.raises(Failed, match="ended in the middle"):
        forward(dump)


def test_a_dump_cut_off_before_the_terminators_newline_fails():
    dump = PREAMBLE + PROMPTS_HEADER + b"".join(PROMPT_ROWS) + b"\\."
    with pytest.raises(Failed, match="ended in the middle"):
        forward(dump)


def test_a_dump_cut_off_in_the_second_table_fails():
    dump = PREAMBLE + PROMPTS_BLOCK + TAGS_HEADER + TAG_ROWS[0]
    with pytest.raises(Failed, match="public.tags"):
        forward(dump, TWO)


def test_a_dump_with_no_block_for_a_table_fails():
    with pytest.raises(Failed) as excinfo:
        forward(DUMP, TWO)
    assert "no data block for public.tags" in str(excinfo.value)


def test_an_empty_dump_fails():
    with pytest.raises(Failed, match="no data block for public.prompts"):
        forward(b"")


def test_a_preamble_only_dump_fails():
    with pytest.raises(Failed, match="no data block"):
        forward(PREAMBLE + EPILOGUE)


def test_a_block_for_an_unexpected_table_fails_before_its_data_is_sent():
    dump = PREAMBLE + b"COPY public.users (id, email) FROM stdin;\n1\ta@b.c\n" + END + PROMPTS_BLOCK
    sink = Sink()
    with pytest.raises(Failed) as excinfo:
        forward_copy_data(lines(dump), ONE, sink)
    assert "unexpected table: public.users" in str(excinfo.value)
    assert b"a@b.c" not in sink.data


def test_a_table_whose_name_starts_like_ours_is_unexpected():
    dump = PREAMBLE + b"COPY public.prompts_archive (id) FROM stdin;\n1\n" + END
    with pytest.raises(Failed, match="public.prompts_archive"):
        forward(dump)


# -- copy_header -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"SET statement_timeout = 0;\n",
        b"\\restrict abc\n",
        b"-- COPY public.prompts\n",
        b"\n",
        b"COPY public.prompts (id) FROM stdin;",
        b"SELECT 'COPY public.prompts (id) FROM stdin;\n",
    ],
)
def test_copy_header_ignores_other_lines(line):
    assert copy_header(line, ONE) is None


def test_copy_header_returns_table_and_columns():
    assert copy_header(PROMPTS_HEADER, ONE) == (
        "public.prompts",
        b"(id, name, prompt_type, body, meta)",
    )


# -- large dumps -------------------------------------------------------------------------------


def big_rows(count: int, width: int = 1000) -> list[bytes]:
    return [row(str(i).encode(), b"n%d" % i, b"x" * width) for i in range(count)]


def test_data_larger_than_a_chunk_is_forwarded_completely_and_in_order():
    rows = big_rows(3500)  # ~3.4 MiB
    assert sum(map(len, rows)) > 3 * CHUNK
    dump = PREAMBLE + PROMPTS_HEADER + b"".join(rows) + END + EPILOGUE
    stats, sink = forward(dump)
    assert len(sink.calls) >= 3
    assert sink.data == (
        b"COPY "
        + STAGE.encode()
        + b" (id, name, prompt_type, body, meta) FROM STDIN;\n"
        + b"".join(rows)
        + END
    )
    assert stats.rows == {"public.prompts": 3500}
    assert stats.bytes == sum(map(len, rows)) + len(END)


def test_large_dumps_are_sent_in_chunks_of_about_a_mebibyte():
    rows = big_rows(3500)
    dump = PREAMBLE + PROMPTS_HEADER + b"".join(rows) + END
    _, sink = forward(dump)
    for chunk in sink.calls[:-1]:
        assert CHUNK <= len(chunk) < CHUNK + 2048  # header + at most one row over


def test_chunks_end_at_line_boundaries():
    rows = big_rows(2500, width=777)
    _, sink = forward(PREAMBLE + PROMPTS_HEADER + b"".join(rows) + END)
    for chunk in sink.calls:
        assert chunk.endswith(b"\n")


def test_progress_reports_growing_totals():
    calls: list[tuple[int, int]] = []
    rows = big_rows(3500)
    stats, _ = forward(
        PREAMBLE + PROMPTS_HEADER + b"".join(rows) + END, progress=lambda r, b: calls.append((r, b))
    )
    assert len(calls) >= 3
    assert calls == sorted(calls)
    assert all(r <= stats.total_rows and b <= stats.bytes for r, b in calls)


def test_progress_never_reports_more_rows_than_were_read():
    rows = [b"x" * 1023 + b"\n"] * 1023 + [b"y" * 1022 + b"\n"]  # CHUNK - 1 bytes of data
    assert sum(map(len, rows)) == CHUNK - 1
    calls: list[tuple[int, int]] = []
    stats, _ = forward(
        PREAMBLE + b"COPY public.prompts (v) FROM stdin;\n" + b"".join(rows) + END,
        progress=lambda r, b: calls.append((r, b)),
    )
    assert stats.total_rows == 1024
    assert calls and all(r <= 1024 for r, _ in calls)
