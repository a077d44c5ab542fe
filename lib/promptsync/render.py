"""The Render builds, shipped in the package, so that an application's Build Command is one line
that exists in its own virtualenv (docs/deploying.md, "In the application's repository"):

    pip install -r requirements.txt && python -m promptsync.render build-production
    pip install -r requirements.txt && python -m promptsync.render build-staging
    python -m promptsync.render pre-deploy        # Render's Pre-Deploy Command

The install is Render's own (`pip install -r requirements.txt`, before this). Then, in the
directory holding manage.py (--app-dir, default the current one), with this interpreter:

1. `manage.py check`: Django's system checks, promptsync.E001 among them. A missing TLS client
   (Python 3.11 without the bundled tools) fails here, before any database is touched, and the
   last line names the line to add to the build;
2. the client tools: checked (promptsync.clientcheck), and the bundled ones unpacked into the
   virtualenv while it is writable, so the pre-deploy command never writes to HOME;
3. `manage.py migrate --noinput`, `manage.py collectstatic --noinput`;
4. build-production only: the sync staging -> production (`make sync-prod`'s), and one last line
   saying what happened to the prompts. build-staging ends by printing the command that brings
   prompts to staging. --app-only stops after step 3 (the sync is then the pre-deploy command).

pre-deploy is step 4 alone; it refuses to start when the build did not unpack the tools.

A failed step fails the build: Render keeps the previous version live. PROMPT_SYNC_OPTIONAL=1
turns a failed sync (only the sync) into a loud WARNING and exit 0: production keeps its old
prompts. Exit codes: 0 done; 2 usage (no manage.py where it was looked for); a failed sync's own
(2 configuration, 3 refused, 4 failed); 4 for any other failed step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from promptsync import bundled, clientcheck, summary
from promptsync.buildlog import say, step
from promptsync.errors import EXIT_FAILED, EXIT_OK, PromptsyncError, UsageError

GOES_LIVE = "this code goes live with staging's prompts"
MANAGE = {
    "check": ["check"],
    "migrate": ["migrate", "--noinput"],
    "collectstatic": ["collectstatic", "--noinput"],
}
STEP_TITLES = {
    "check": "check the app (manage.py check: Django's system checks, promptsync's among them)",
    "migrate": "migrate the database",
    "collectstatic": "collect static files",
}


# -- argv, built by pure functions -----------------------------------------------------------


def manage_argv(python: str, command: str) -> list[str]:
    return [python, "manage.py", *MANAGE[command]]


def sync_argv(python: str) -> list[str]:
    """`make sync-prod`'s sync: non-interactive, as on Render (no terminal)."""
    return [python, "-m", "promptsync", "sync", "staging", "production", "--force", "--yes"]


def unpack_argv(python: str) -> list[str]:
    return [python, "-m", "promptsync.bundled", "unpack"]


# -- the steps -------------------------------------------------------------------------------


class Build:
    """One run: its name in every line (`promptsync.render build-production: ...`) and what a
    failure means for the deploy."""

    def __init__(self, command: str) -> None:
        self.name = f"promptsync.render {command}"
        self.keep_live = (
            "the deploy fails and the previous version stays live"
            if command == "pre-deploy"
            else "the build fails and the previous version stays live"
        )

    def say(self, message: str) -> None:
        say(f"{self.name}: {message}")

    def fail(self, what: str, code: int = EXIT_FAILED) -> int:
        self.say(f"{what}; {self.keep_live}")
        return code or EXIT_FAILED


def app_dir(given: str) -> Path:
    """The directory holding manage.py; UsageError (exit 2) naming where it looked."""
    app = Path(given)
    if not (app / "manage.py").is_file():
        raise UsageError(
            f"no manage.py in {app.resolve()}: run from the directory that holds it, or give "
            "--app-dir (--no-app for a build without a Django app)"
        )
    return app


def manage(build: Build, app: Path, python: str, command: str) -> int:
    code = step(STEP_TITLES[command], manage_argv(python, command), cwd=app)
    if code == 0:
        return EXIT_OK
    why = f"manage.py {command} failed (exit {code})"
    if command == "check" and clientcheck.missing():
        why += f": promptsync.E001: {clientcheck.fix()}"
    return build.fail(why)


def client_tools(build: Build) -> int:
    """The client check, then the bundled tools unpacked into the virtualenv."""
    missing = clientcheck.missing()
    if missing:
        build.say(missing)
        return build.fail(clientcheck.fix())
    if bundled.archive() is None:
        build.say("the bundled client tools are not installed here: the sync uses PATH's or "
                  "PROMPTSYNC_PG_BIN's")  # fmt: skip
        return EXIT_OK
    title = "unpack the bundled PostgreSQL client tools into the virtualenv"
    code = step(title, unpack_argv(sys.executable))
    return EXIT_OK if code == 0 else build.fail(f"unpacking the client tools failed (exit {code})")


def prepare(build: Build, args: argparse.Namespace) -> int:
    """Steps 1 to 3; the first failure's exit code, 0 when all passed."""
    app = None if args.no_app else app_dir(args.app_dir)
    python = args.app_python or sys.executable
    if app is None:
        build.say("no Django app (--no-app): no check, migrate or collectstatic")
    elif code := manage(build, app, python, "check"):
        return code
    if code := client_tools(build):
        return code
    for command in ("migrate", "collectstatic") if app else ():
        if code := manage(build, app, python, command):
            return code
    return EXIT_OK


def sync(build: Build) -> int:
    """Step 4: the sync, its one-line outcome, and what the deploy does about a failure."""
    with tempfile.TemporaryDirectory(prefix="promptsync-render-") as scratch:
        report = Path(scratch) / "sync.json"
        env = {**os.environ, "PROMPTSYNC_JSON_FILE": str(report)}
        code = step("sync prompts: staging -> production", sync_argv(sys.executable), env=env)
        outcome = _outcome(report)
    if code == 0:
        build.say(f"done: {GOES_LIVE}; {outcome}")
        return EXIT_OK
    build.say(outcome)
    if os.environ.get("PROMPT_SYNC_OPTIONAL") == "1":
        for line in (
            "******************************************************************",
            f"the prompt sync FAILED (exit {code}), and PROMPT_SYNC_OPTIONAL=1 lets",
            "this version go live anyway: production keeps its OLD prompts, which may not",
            "match this code. Fix the cause above, then run: make sync-prod",
            "******************************************************************",
        ):
            say(f"WARNING: {line}")
        return EXIT_OK
    return build.fail(f"the prompt sync failed (exit {code})", code)


def _outcome(report: Path) -> str:
    try:
        return summary.line(json.loads(report.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return "prompts: the sync left no report"


# -- the commands ----------------------------------------------------------------------------


def build_production(build: Build, args: argparse.Namespace) -> int:
    if code := prepare(build, args):
        return code
    if args.app_only:
        build.say("done; the prompt sync is left to the pre-deploy command")
        return EXIT_OK
    return sync(build)


def build_staging(build: Build, args: argparse.Namespace) -> int:
    if code := prepare(build, args):
        return code
    build.say("done; this build does not touch the prompts.")
    say("To copy the local database's prompts to staging, run on a developer machine:")
    say("  make sync-staging FORCE=1")
    return EXIT_OK


def pre_deploy(build: Build, args: argparse.Namespace) -> int:
    """The sync alone, from a virtualenv and HOME that may be read-only: the tools must have
    been unpacked by the build."""
    missing = clientcheck.missing()
    if missing:
        build.say(missing)
        return build.fail(clientcheck.fix())
    if bundled.archive() is not None and bundled.where() is None:
        return build.fail(
            "the bundled PostgreSQL client tools were not unpacked during the build, and the "
            "pre-deploy command writes nothing outside the build: end the Build Command with "
            "`python -m promptsync.render build-production --app-only`",
            EXIT_FAILED,
        )
    return sync(build)


COMMANDS = {
    "build-production": build_production,
    "build-staging": build_staging,
    "pre-deploy": pre_deploy,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m promptsync.render",
        description="The Render build and pre-deploy commands of an application using promptsync.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    app = argparse.ArgumentParser(add_help=False)
    app.add_argument("--app-dir", default=".", help="where manage.py is (default: here)")
    app.add_argument("--app-python", help="the Python that runs manage.py (default: this one)")
    app.add_argument("--no-app", action="store_true", help="no Django app: only the tools")
    p = commands.add_parser(
        "build-production", parents=[app], help="check, tools, migrate, collectstatic, sync"
    )
    p.add_argument("--app-only", action="store_true", help="no sync: the pre-deploy command's")
    commands.add_parser("build-staging", parents=[app], help="check, tools, migrate, collectstatic")
    commands.add_parser("pre-deploy", help="the sync staging -> production alone")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    build = Build(args.command)
    build.say(f"commit {os.environ.get('RENDER_GIT_COMMIT') or 'unknown'}, in {Path.cwd()}")
    try:
        return COMMANDS[args.command](build, args)
    except PromptsyncError as exc:
        return build.fail(f"error: {exc}", exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
