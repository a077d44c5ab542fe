"""The guards' pure rules: what schema drift refuses and what it only notes, the drift table
(never cut), and the mass-delete rule (fewer than half of the rows left)."""

from __future__ import annotations

import pytest

from promptsync import guards
from promptsync.config import Table
from promptsync.errors import Refused

TABLE = Table("public", "prompts")
ID = ("bigint", "not null", "nextval('prompts_id_seq'::regclass)", "")
BODY = ("text", "null", "", "")


def test_sequence_name_identity_default_and_nullability_are_notes_not_drift():
    src = {"id": ID, "body": BODY}
    tgt = {
        "id": ("bigint", "not null", "nextval('prompts_id_seq1'::regclass)", ""),
        "body": ("text", "not null", "'x'::text", ""),
    }
    assert guards.drift(TABLE, "staging", "production", src, tgt) is None
    notes = guards.notes(TABLE, "staging", "production", src, tgt)
    assert len(notes) == 3
    assert any("prompts_id_seq1" in n for n in notes)
    assert any("nullability null in staging, not null in production" in n for n in notes)
    identity = {"id": ("bigint", "not null", "", "a"), "body": BODY}
    assert guards.drift(TABLE, "staging", "production", src, identity) is None
    assert any(
        "identity/generated - in staging, a in production" in n
        for n in guards.notes(TABLE, "staging", "production", src, identity)
    )


def test_missing_column_other_type_and_generated_are_drift():
    src = {"id": ID, "body": BODY, "n": ("integer", "null", "", "")}
    tgt = {
        "id": ID,
        "n": ("integer", "null", "(id * 2)", "s"),
        "owner": ("text", "null", "", ""),
        "body": ("character varying(20)", "null", "", ""),
    }
    found = guards.drift(TABLE, "staging", "production", src, tgt)
    assert found is not None
    assert found.lines == (
        "column body: type text in staging, character varying(20) in production",
        "column n: generated in production only",
        "production has column owner that staging lacks",
    )
    with pytest.raises(Refused, match="production is migrated ahead of staging .columns owner"):
        guards.check_drift(TABLE, "staging", "production", src, tgt)


def test_drift_table_never_cuts_a_cell():
    long = "'" + "x" * 80 + "-END'::text"
    src = {"body": ("text", "null", long, "")}
    tgt = {"body": ("text", "null", long.replace("END", "FIN"), "")}
    table = guards.drift_table("staging", "production", src, tgt)
    assert "x" * 80 + "-END" in table and "x" * 80 + "-FIN" in table


@pytest.mark.parametrize(
    ("rows_after", "live_rows", "trips"),
    [(808, 151, False), (5, 10, False), (4, 10, True), (0, 0, False), (1, 4, True)],
)
def test_mass_delete_trips_only_below_half_of_the_rows(rows_after, live_rows, trips):
    if trips:
        with pytest.raises(Refused, match="fewer than half"):
            guards.check_mass_delete("staging", TABLE, rows_after, live_rows, False)
        guards.check_mass_delete("staging", TABLE, rows_after, live_rows, True)
    else:
        guards.check_mass_delete("staging", TABLE, rows_after, live_rows, False)
