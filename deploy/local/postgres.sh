#!/usr/bin/env bash
# PostgreSQL for the suite: a private cluster from the Debian packages' binaries on 127.0.0.1:$PG_PORT, or
# an existing server when DATABASE_URL is set.
#
#   postgres.sh up          start (initialising once), or reuse a server already answering on the port;
#                           prints the DATABASE_URL to use on stdout
#   postgres.sh down        stop our own cluster (pg_ctl -m fast on our data dir), nothing else
#   postgres.sh status      exit 0 if the server answers, 1 if not
#   postgres.sh url         the DATABASE_URL (DATABASE_URL itself when set)
#   postgres.sh psql ARGS   psql as zuofeng on the zuofeng database
#
# Environment: PG_PORT (55432), ZUOFENG_RUN_DIR, DATABASE_URL. PG_INSTANCE=name runs a second, independent
# cluster (own data and lock; give it its own PG_PORT): the fault tests restart one without disturbing
# the shared one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

NAME="pg${PG_INSTANCE:+-$PG_INSTANCE}"
# Always in the checkout, even when the cluster itself has to live elsewhere (see data_home).
STATE="$RUN_DIR/$NAME"
URL="postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:$PG_PORT/zuofeng"
START_TIMEOUT="${PG_START_TIMEOUT:-60}"
is_root() { [ "$(id -u)" = 0 ]; }

# pg_bin DATA: the binaries for DATA's major version if it has one (a cluster only starts with its own
# major version), else the newest installed server, else pg_config's or PATH's.
pg_bin() {
  local ver="" dir
  [ -f "$1/PG_VERSION" ] && ver="$(cat "$1/PG_VERSION")"
  if [ -n "$ver" ] && [ -x "/usr/lib/postgresql/$ver/bin/postgres" ]; then
    echo "/usr/lib/postgresql/$ver/bin"
    return
  fi
  dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  if [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  dir="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  command -v initdb >/dev/null || die "no PostgreSQL server binaries; run deploy/local/install-deps.sh"
  dirname "$(command -v initdb)"
}

# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user. From /,
# because pg_ctl fails ("could not identify current directory") when it cannot read the caller's cwd.
as_owner() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
own() { if is_root; then chown postgres "$@"; fi; }

# data_home: where the cluster lives. Normally $STATE, but the postgres user must be able to reach it, and
# a checkout under /root (0700) is out of its reach; then /var/tmp, keyed by this run folder so checkouts
# never share. The choice is recorded in $STATE/location so every later call finds the same cluster.
data_home() {
  mkdir -p "$STATE"
  if [ -s "$STATE/location" ]; then cat "$STATE/location"; return; fi
  local home="$STATE"
  if is_root; then
    own "$home"
    if ! (cd / && runuser -u postgres -- test -w "$home"); then
      home="/var/tmp/zuofeng-$NAME-$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)"
      install -d -m 700 -o postgres "$home"
      log "postgres: $STATE is out of the postgres user's reach; the cluster lives in $home"
    fi
  fi
  printf '%s\n' "$home" >"$STATE/location"
  echo "$home"
}
# Without creating anything: for status and down.
known_home() { if [ -s "$STATE/location" ]; then cat "$STATE/location"; else echo "$STATE"; fi; }

sql() {
  PGPASSWORD=zuofeng PGCONNECT_TIMEOUT=5 "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U zuofeng "$@"
}
answers() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# The role comes from initdb (-U zuofeng: the bootstrap superuser, LOGIN SUPERUSER, because the tests
# create and drop databases); the database is created here, also for a server we merely reuse.
ensure_db() {
  local found
  found="$(sql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'zuofeng'")" || return 1
  [ "$found" = 1 ] && return 0
  # Another caller (another checkout sharing the server) may create it at the same moment.
  sql -d postgres -c "CREATE DATABASE zuofeng" 2>/dev/null ||
    [ "$(sql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'zuofeng'")" = 1 ]
}

init_cluster() {
  local home="$1" pwfile="$1/initdb.pw" locale=C
  # C.UTF-8 sorts like C (byte order: fast, stable across glibc updates) but classifies Unicode text.
  locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' && locale=C.UTF-8
  log "postgres: initialising a private cluster in $home/data"
  (umask 077 && printf 'zuofeng\n' >"$pwfile")
  own "$pwfile"
  if ! as_owner "$BIN/initdb" -D "$home/data" -U zuofeng --pwfile="$pwfile" -E UTF8 --locale="$locale" \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null; then
    rm -f "$pwfile"
    die "postgres: initdb failed"
  fi
  rm -f "$pwfile"
}

# Our settings go in their own file, rewritten on every start (a changed port or setting applies), and
# included last so they win over anything earlier in postgresql.conf.
configure() {
  local home="$1" sock="$1/sock" conf="$1/data/zuofeng.conf"
  # A Unix socket path is limited to 107 bytes; a deep checkout would make the server refuse to start.
  if ((${#sock} + 17 > 107)); then sock="/tmp/zuofeng-pgsock-$(printf '%s' "$home" | sha256sum | cut -c1-12)"; fi
  mkdir -p "$sock" "$home/log"
  own "$sock" "$home/log"
  cat >"$conf" <<CONF
# Generated by deploy/local/postgres.sh on each start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
# The suite's services each keep a pool, and parallel test runs add their own.
max_connections = 300
shared_buffers = 256MB
# A real database: durable commits (no fsync=off) so restart tests prove what production would do.
synchronous_commit = on
logging_collector = on
log_directory = '$home/log'
log_filename = 'postgresql-%a.log'
log_truncate_on_rotation = on
log_rotation_age = 1d
log_rotation_size = 0
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
CONF
  own "$conf"
  grep -qx "include_if_exists = 'zuofeng.conf'" "$home/data/postgresql.conf" ||
    printf "\ninclude_if_exists = 'zuofeng.conf'\n" >>"$home/data/postgresql.conf"
}

# psql speaks libpq URLs: drop SQLAlchemy's +driver and the query (asyncpg's ssl=... is not libpq's).
libpq_url() { printf '%s' "$1" | sed -E 's#^postgres(ql)?(\+[A-Za-z0-9_]+)?://#postgresql://#; s#\?.*$##'; }

check_external() {
  local url
  url="$(libpq_url "$DATABASE_URL")"
  command -v psql >/dev/null || die "no psql to check DATABASE_URL with; run deploy/local/install-deps.sh"
  PGCONNECT_TIMEOUT=5 psql -X -q "$url" -tAc 'SELECT 1' >/dev/null ||
    die "postgres: DATABASE_URL is set but does not answer"
}

up() {
  if [ -n "${DATABASE_URL:-}" ]; then
    check_external
    log "postgres: using DATABASE_URL"
    echo "$DATABASE_URL"
    return 0
  fi
  local home data
  home="$(data_home)"
  data="$home/data"
  BIN="$(pg_bin "$data")"
  if answers; then
    if [ -f "$data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      log "postgres: running on 127.0.0.1:$PG_PORT ($data)"
    else
      log "postgres: reusing the server already answering on 127.0.0.1:$PG_PORT"
    fi
    ensure_db || die "a server answers on 127.0.0.1:$PG_PORT but zuofeng/zuofeng cannot log in;" \
      "set PG_PORT to a free port or DATABASE_URL to a server of yours"
    echo "$URL"
    return 0
  fi
  [ -f "$data/PG_VERSION" ] || init_cluster "$home"
  configure "$home"
  log "postgres: starting $(basename "$(dirname "$BIN")") on 127.0.0.1:$PG_PORT ($data)"
  # -w: returns once the server accepts connections (or fails). A stale postmaster.pid from a crash is
  # handled by the server itself.
  if ! without_locks as_owner "$BIN/pg_ctl" -D "$data" -l "$home/log/startup.log" -w -t "$START_TIMEOUT" \
      start >/dev/null; then
    if answers; then
      # Lost a race with another checkout's server on the same port: it is as good as ours.
      log "postgres: another server took 127.0.0.1:$PG_PORT first; reusing it"
    else
      tail -n 20 "$home/log/startup.log" "$home"/log/postgresql-*.log >&2 2>/dev/null || true
      die "postgres did not start; logs in $home/log"
    fi
  fi
  ensure_db || die "postgres: started but zuofeng cannot log in"
  log "postgres: ready on 127.0.0.1:$PG_PORT"
  echo "$URL"
}

down() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "postgres: DATABASE_URL is an external server; not ours to stop"
    return 0
  fi
  local data
  data="$(known_home)/data"
  BIN="$(pg_bin "$data")"
  if [ -f "$data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # -m fast: roll back open transactions and disconnect clients now instead of waiting for them.
    as_owner "$BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    log "postgres: stopped ($data)"
  elif answers; then
    log "postgres: the server on 127.0.0.1:$PG_PORT was not started by this checkout; leaving it running"
  else
    log "postgres: not running"
  fi
}

status() {
  if [ -n "${DATABASE_URL:-}" ]; then
    if (check_external) 2>/dev/null; then echo "postgres: DATABASE_URL answers"; return 0; fi
    echo "postgres: DATABASE_URL does not answer"
    return 1
  fi
  local data
  data="$(known_home)/data"
  BIN="$(pg_bin "$data")"
  if answers; then
    if [ -f "$data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      echo "postgres: running on 127.0.0.1:$PG_PORT ($data, started by this checkout)"
    else
      echo "postgres: running on 127.0.0.1:$PG_PORT (not started by this checkout)"
    fi
    return 0
  fi
  echo "postgres: not running"
  return 1
}

case "${1:-}" in
  up) with_lock "$NAME" up ;;
  down) with_lock "$NAME" down ;;
  status) status ;;
  url) echo "${DATABASE_URL:-$URL}" ;;
  psql)
    shift
    BIN="$(pg_bin "$(known_home)/data")"
    if [ -n "${DATABASE_URL:-}" ]; then
      exec psql "$(libpq_url "$DATABASE_URL")" "$@"
    fi
    PGPASSWORD=zuofeng exec "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U zuofeng -d zuofeng "$@"
    ;;
  *) echo "usage: $0 up|down|status|url|psql [ARGS]" >&2; exit 2 ;;
esac
