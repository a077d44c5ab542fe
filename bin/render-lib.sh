# shellcheck shell=bash
# Usage: source "$root/bin/render-lib.sh"    (from bin/render-build-staging, -production)
# What the Render build scripts share: timestamped log lines on stderr, a step runner that
# timestamps every line its command prints, and the app's own build steps. The sourcing
# script defines abort(), which app_steps calls when a step fails.

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

# app_steps: in $APP_DIR (default server, relative to the current directory), with
# ${PYTHON:-python3}: install requirements.txt, migrate, collectstatic. Skipped, with a log
# line, when $APP_DIR has no requirements.txt or no manage.py.
app_steps() {
  local app="${APP_DIR:-server}" python="${PYTHON:-python3}"
  if [[ ! -f "$app/requirements.txt" || ! -f "$app/manage.py" ]]; then
    log "$app has no requirements.txt or no manage.py: skipping install, migrate, collectstatic"
    return 0
  fi
  command -v "$python" >/dev/null || abort "$python not found: set PYTHON; $KEEP_LIVE"
  cd "$app" || abort "cannot enter $app; $KEEP_LIVE"
  step "install the app's Python dependencies ($app/requirements.txt)" \
    "$python" -m pip install --disable-pip-version-check -r requirements.txt \
    || abort "installing the app's dependencies failed; $KEEP_LIVE"
  step "migrate the database" "$python" manage.py migrate --noinput \
    || abort "migrate failed; $KEEP_LIVE"
  step "collect static files" "$python" manage.py collectstatic --noinput \
    || abort "collectstatic failed; $KEEP_LIVE"
  cd - >/dev/null || abort "cannot return from $app"
}
