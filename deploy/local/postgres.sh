#!/usr/bin/env bash
# A private PostgreSQL cluster from Debian's packages on 127.0.0.1:$PG_PORT, or an existing server when
# DATABASE_URL is set. up is idempotent; down stops only our own cluster.
#   PG_INSTANCE=name  runs a second, independent cluster (own data; set PG_PORT too), which the fault
#                     tests restart without disturbing the shared one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$BIN" ] || BIN="$(dirname "$(command -v pg_ctl || echo /usr/bin/pg_ctl)")"
URL="postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:$PG_PORT/zuofeng"
PG_HOME_NAME="pg${PG_INSTANCE:+-$PG_INSTANCE}"

# PostgreSQL refuses to run as root: as root, run the server as the `postgres` system user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

data_home() {
  # The postgres user must be able to reach the data directory; a checkout under /root is not reachable,
  # so then the cluster lives under /var/tmp, keyed by this checkout's run folder.
  mkdir -p "$RUN_DIR/$PG_HOME_NAME"
  if [ -f "$RUN_DIR/$PG_HOME_NAME/location" ]; then cat "$RUN_DIR/$PG_HOME_NAME/location"; return; fi
  local home="$RUN_DIR/$PG_HOME_NAME"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$home"
    if ! runuser -u postgres -- test -w "$home"; then
      home="/var/tmp/zuofeng-$PG_HOME_NAME-$(printf '%s' "$RUN_DIR" | sha1sum | cut -c1-12)"
      mkdir -p "$home" && chown postgres "$home"
    fi
  fi
  echo "$home" | tee "$RUN_DIR/$PG_HOME_NAME/location"
}

start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "postgres: using DATABASE_URL"
    return 0
  fi
  local home; home="$(data_home)"
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    log "postgres: reusing the server on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if [ ! -f "$home/data/PG_VERSION" ]; then
    log "postgres: initialising a private cluster in $home/data"
    local pwfile="$home/pwfile"
    echo zuofeng >"$pwfile"; [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_owner "$BIN/initdb" -D "$home/data" -U zuofeng --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >>"$home/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$home'
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
logging_collector = on
log_directory = 'log'
log_min_duration_statement = 1000
CONF
  fi
  as_owner "$BIN/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null 9>&-
  if ! PGPASSWORD=zuofeng "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U zuofeng -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'zuofeng'" | grep -q 1; then
    PGPASSWORD=zuofeng "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U zuofeng -d postgres -qc "CREATE DATABASE zuofeng"
  fi
  log "postgres: ready on 127.0.0.1:$PG_PORT"
}

stop() {
  [ -n "${DATABASE_URL:-}" ] && { log "postgres: external (DATABASE_URL); not ours to stop"; return 0; }
  local home; home="$(data_home)"
  if [ -f "$home/data/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null && log "postgres: stopped"
  else
    log "postgres: not running from $home/data; nothing to stop"
  fi
}

case "${1:-}" in
  up) with_lock "$PG_HOME_NAME" start ;;
  down) with_lock "$PG_HOME_NAME" stop ;;
  status) if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then echo "postgres: running on 127.0.0.1:$PG_PORT"; else echo "postgres: not running"; exit 1; fi ;;
  url) echo "${DATABASE_URL:-$URL}" ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
