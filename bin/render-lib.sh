# shellcheck shell=bash
# Usage: source "$root/bin/render-lib.sh"    (from bin/render-build-staging, -production)
# What the Render build wrappers share: timestamped log lines on stderr, a step runner that
# timestamps every line its command prints, promptsync's install into its own virtualenv, and
# the app's. The builds themselves are `python -m promptsync.render` (docs/deploying.md). The
# sourcing script defines abort(), which the functions here call when a step fails.

KEEP_LIVE="the build fails and the previous version stays live"

# log MESSAGE...: one line on stderr, prefixed with the date, time and UTC offset.
log() {
  printf '%(%Y-%m-%dT%H:%M:%S%z)T %s\n' -1 "$*" >&2
}

# stamp: copy stdin to stderr, each line indented and timestamped.
stamp() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    log "  $line"
  done
}

# step TITLE COMMAND [ARG...]: run COMMAND (stdout and stderr timestamped), log how it ended,
# return its exit status.
step() {
  local title="$1" started=$SECONDS status=0
  shift
  log "==> $title"
  "$@" 2>&1 | stamp || status=${PIPESTATUS[0]}
  if ((status == 0)); then
    log "<== $title: done in $((SECONDS - started)) s"
  else
    log "<== $title: FAILED (exit $status) after $((SECONDS - started)) s"
  fi
  return "$status"
}

# install_promptsync: bin/bootstrap into $PROMPTSYNC_VENV (default .venv-promptsync, apart from
# the app's packages: Render's Python runtime keeps those in .venv), bundled tools unpacked.
install_promptsync() {
  export PROMPTSYNC_VENV="${PROMPTSYNC_VENV:-$PWD/.venv-promptsync}"
  step "install promptsync into $PROMPTSYNC_VENV" bin/bootstrap \
    || abort "installing promptsync failed; $KEEP_LIVE"
}

# install_app: in $APP_DIR (default server), with ${PYTHON:-python3}, install requirements.txt;
# sets APP_ARGS to the options that tell promptsync.render where the app is and which Python
# runs its manage.py, or to --no-app (with a log line) when $APP_DIR has no requirements.txt
# or no manage.py.
# shellcheck disable=SC2034  # APP_ARGS is the sourcing script's
install_app() {
  local app="${APP_DIR:-server}" python="${PYTHON:-python3}"
  if [[ ! -f "$app/requirements.txt" || ! -f "$app/manage.py" ]]; then
    log "$app has no requirements.txt or no manage.py: skipping install, migrate, collectstatic"
    APP_ARGS=(--no-app)
    return 0
  fi
  python="$(command -v "$python")" || abort "${PYTHON:-python3} not found: set PYTHON; $KEEP_LIVE"
  cd "$app" || abort "cannot enter $app; $KEEP_LIVE"
  step "install the app's Python dependencies ($app/requirements.txt)" \
    "$python" -m pip install --disable-pip-version-check -r requirements.txt \
    || abort "installing the app's dependencies failed; $KEEP_LIVE"
  cd - >/dev/null || abort "cannot return from $app"
  APP_ARGS=(--app-dir "$app" --app-python "$python")
}
