"""promptsync.log: secrets masked in everything printed; human-readable sizes."""

from __future__ import annotations

import re

import pytest

from promptsync import log
from promptsync.log import human_bytes, redact

# -- redact: URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgres://u:pw@h:5432/db?sslmode=require", "postgres://u:***@h:5432/db?sslmode=require"),
        (
            "url=postgresql://dev_user:p%40ss%2F@dpg-x.render.com/db end",
            "url=postgresql://dev_user:***@dpg-x.render.com/db end",
        ),
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        (
            "a postgresql://u:one@h/db and postgresql://v:two@k/db",
            "a postgresql://u:***@h/db and postgresql://v:***@k/db",
        ),
    ],
)
def test_redact_masks_url_passwords(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://u@h/db",
        "postgresql://h/db",
        "plain text",
        "u@h:5432/db",
        'password authentication failed for user "u"',
    ],
)
def test_redact_leaves_text_without_passwords_alone(text):
    assert redact(text) == text


def test_redact_masks_a_url_password_with_an_unescaped_at_sign():
    assert "ss" not in redact("postgresql://u:p@ss@h/db").replace("postgresql", "")


# -- redact: key=value -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("password=secret", "password=***"),
        ("host=h password=secret user=u", "host=h password=*** user=u"),
        ("PASSWORD = secret", "PASSWORD = ***"),
        ("password='two words' user=u", "password=*** user=u"),
        ("password='it\\'s' user=u", "password=*** user=u"),
        ("PGPASSWORD=hunter2", "PGPASSWORD=***"),
    ],
)
def test_redact_masks_password_pairs(text, masked):
    assert redact(text) == masked


# -- redact: registered secrets ----------------------------------------------------------------


def test_registered_secrets_are_masked_anywhere():
    log.add_secrets(["s3cr3t-Value"])
    assert redact("FATAL: bad thing s3cr3t-Value happened; s3cr3t-Value") == (
        "FATAL: bad thing *** happened; ***"
    )


def test_unregistered_text_is_not_masked():
    log.add_secrets(["s3cr3t-Value"])
    assert redact("nothing to see") == "nothing to see"


def test_none_and_empty_secrets_are_ignored():
    log.add_secrets([None, ""])
    assert redact("abc def") == "abc def"


def test_longer_secrets_are_masked_first():
    log.add_secrets(["abc", "abcdef"])
    assert redact("xx abcdef yy") == "xx *** yy"


def test_secrets_with_regex_characters_are_masked_literally():
    log.add_secrets(["a.b*c(d)$"])
    assert redact("pw a.b*c(d)$ end axbbc") == "pw *** end axbbc"


# -- output ------------------------------------------------------------------------------------


def test_info_writes_one_redacted_timestamped_line_to_stderr(capsys):
    log.add_secrets(["hunter2"])
    log.info("connecting with hunter2")
    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(r"\d\d:\d\d:\d\d connecting with \*\*\*\n", err)


def test_error_is_prefixed(capsys):
    log.error("no such thing")
    assert re.fullmatch(r"\d\d:\d\d:\d\d error: no such thing\n", capsys.readouterr().err)


def test_quiet_silences_info_but_not_errors(capsys):
    log.set_quiet(True)
    log.info("chatter")
    log.error("trouble")
    err = capsys.readouterr().err
    assert "chatter" not in err
    assert "error: trouble" in err


def test_error_output_is_redacted(capsys):
    log.error("cannot connect to postgresql://u:topsecret@h/db")
    assert "topsecret" not in capsys.readouterr().err


# -- human_bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 kB"),
        (1536, "1.5 kB"),
        (1024**2, "1.0 MB"),
        (5 * 1024**2 + 1024**2 // 2, "5.5 MB"),
        (1024**3, "1.0 GB"),
        (3 * 1024**4, "3072.0 GB"),
        (512.4, "512 B"),
    ],
)
def test_human_bytes(n, text):
    assert human_bytes(n) == text
