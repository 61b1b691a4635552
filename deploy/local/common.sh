# shellcheck shell=bash
# Sourced by the local infrastructure scripts (they set -euo pipefail themselves): one place for paths,
# ports and the few helpers every script needs, so two scripts never disagree about where things live.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Everything we create at run time lives here; .run/ is git-ignored. Tests point it elsewhere to stay apart.
RUN_DIR="${ZUOFENG_RUN_DIR:-$REPO/.run}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
mkdir -p "$RUN_DIR/locks"

# Messages go to stderr so stdout stays machine-readable (URLs, export lines).
log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT (bash's /dev/tcp: no nc/ss needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for_port PORT TIMEOUT_S [PIDFILE [MARK]]: poll until the port answers. With a pidfile, give up as
# soon as that process is gone instead of sitting out the whole timeout on a server that already crashed.
wait_for_port() {
  local port="$1" deadline=$((SECONDS + $2)) pidfile="${3:-}" mark="${4:-}"
  until port_open "$port"; do
    if [ -n "$pidfile" ] && ! pid_alive "$pidfile" "$mark"; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# pid_alive PIDFILE [MARK]: the pid recorded in PIDFILE is alive and, with MARK, its command line contains
# MARK. The mark guards against a recycled pid: we must never signal a process that is not ours.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -z "${2:-}" ] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# Lock file descriptors we hold. Anything long-lived we start must not inherit them, or the lock would
# stay held for the server's lifetime and every later `up` would wait for it.
_LOCK_FDS=()

# with_lock NAME CMD...: run CMD holding an exclusive flock on $RUN_DIR/locks/NAME.lock. Several test runs
# may call `up` at the same moment; the lock makes exactly one of them start the server and the others
# find it running. Nests (each call takes its own fd); released when CMD returns or the script exits.
with_lock() {
  local name="$1" fd rc=0
  shift
  exec {fd}>"$RUN_DIR/locks/$name.lock"
  if ! flock -w "${ZUOFENG_LOCK_TIMEOUT:-300}" "$fd"; then
    exec {fd}>&-
    die "timed out waiting for $RUN_DIR/locks/$name.lock"
  fi
  _LOCK_FDS+=("$fd")
  # Not `"$@" || rc=$?`: that would switch off set -e for everything CMD runs. A failure exits the
  # script here, which releases the lock too.
  "$@"
  rc=$?
  unset '_LOCK_FDS[-1]'
  exec {fd}>&-
  return "$rc"
}

# without_locks CMD...: run CMD (a command or function, in a subshell) with our lock fds closed; for
# commands that leave a server behind, such as pg_ctl start.
without_locks() {
  (
    local fd
    for fd in "${_LOCK_FDS[@]}"; do exec {fd}>&-; done
    "$@"
  )
}

# daemonize CMD...: start CMD detached (own session, immune to the caller's SIGHUP, no lock fds, stdin from
# /dev/null); its pid is in $!. setsid execs in place here (a background subshell is no group leader),
# so $! is the server's own pid, which is what the pidfile must hold.
daemonize() {
  (
    local fd
    for fd in "${_LOCK_FDS[@]}"; do exec {fd}>&-; done
    exec setsid nohup "$@" </dev/null
  ) &
}
