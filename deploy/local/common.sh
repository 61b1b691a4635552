#!/usr/bin/env bash
# Sourced by the local scripts: paths, ports (overridable), logging, locks, waiting.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${ZUOFENG_RUN_DIR:-$REPO/.run}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-55432}"
mkdir -p "$RUN_DIR/locks"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# with_lock NAME CMD...: several test runs may call `up` at once; only one may start a server.
# The lock is fd 9; servers started under it must be given `9>&-`, or they would hold it forever.
with_lock() {
  local name="$1"; shift
  exec 9>"$RUN_DIR/locks/$name.lock"
  flock -w 300 9 || die "timed out waiting for the $name lock"
  local rc=0
  "$@" || rc=$?
  exec 9>&-
  return $rc
}

# pid_alive FILE: the pid recorded in FILE is a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
