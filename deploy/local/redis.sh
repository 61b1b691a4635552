#!/usr/bin/env bash
# Redis for the gateway's shared rate-limit counters and hotline nonces: Debian's redis-server on
# 127.0.0.1:$REDIS_PORT, or an existing server when REDIS_URL is set.
#
#   redis.sh up       start, or reuse a server already answering on the port; prints the REDIS_URL on stdout
#   redis.sh down     stop our own server (the pid in our pidfile, checked against its command line), nothing else
#   redis.sh status   exit 0 if the server answers, 1 if not
#   redis.sh url      the REDIS_URL (REDIS_URL itself when set)
#
# Environment: REDIS_PORT (56379), ZUOFENG_RUN_DIR, REDIS_URL. Counters and nonces are short-lived, so the
# server keeps nothing on disk (no RDB, no AOF).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

STATE="$RUN_DIR/redis"
PIDFILE="$STATE/redis.pid"
URL="redis://127.0.0.1:$REDIS_PORT/0"
MARK="redis-server"

answers() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    port_open "$REDIS_PORT"
  fi
}

up() {
  if [ -n "${REDIS_URL:-}" ]; then
    log "redis: using REDIS_URL"
    echo "$REDIS_URL"
    return 0
  fi
  if answers; then
    if pid_alive "$PIDFILE" "$MARK"; then log "redis: running on 127.0.0.1:$REDIS_PORT"; else log "redis: reusing the server on 127.0.0.1:$REDIS_PORT"; fi
    echo "$URL"
    return 0
  fi
  command -v redis-server >/dev/null || die "no redis-server; run deploy/local/install-deps.sh"
  mkdir -p "$STATE"
  log "redis: starting on 127.0.0.1:$REDIS_PORT ($STATE)"
  # In the foreground under daemonize, so $! is redis-server's own pid for the pidfile.
  daemonize redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE" --save "" --appendonly no \
    --protected-mode yes --maxmemory 256mb --maxmemory-policy volatile-ttl \
    --logfile "$STATE/redis.log" >/dev/null 2>&1
  echo $! >"$PIDFILE"
  if ! wait_for_port "$REDIS_PORT" 30 "$PIDFILE" "$MARK"; then
    if answers; then
      log "redis: another server took 127.0.0.1:$REDIS_PORT first; reusing it"
    else
      tail -n 20 "$STATE/redis.log" >&2 2>/dev/null || true
      die "redis did not start; log in $STATE/redis.log"
    fi
  fi
  log "redis: ready on 127.0.0.1:$REDIS_PORT"
  echo "$URL"
}

down() {
  if [ -n "${REDIS_URL:-}" ]; then
    log "redis: REDIS_URL is an external server; not ours to stop"
    return 0
  fi
  if pid_alive "$PIDFILE" "$MARK"; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$PIDFILE"
    log "redis: stopped"
  elif answers; then
    log "redis: the server on 127.0.0.1:$REDIS_PORT was not started by this checkout; leaving it running"
  else
    log "redis: not running"
  fi
}

status() {
  if answers; then
    if pid_alive "$PIDFILE" "$MARK"; then echo "redis: running on 127.0.0.1:$REDIS_PORT (started by this checkout)"
    else echo "redis: running on 127.0.0.1:$REDIS_PORT (not started by this checkout)"; fi
    return 0
  fi
  echo "redis: not running"
  return 1
}

case "${1:-}" in
  up) with_lock redis up ;;
  down) with_lock redis down ;;
  status) status ;;
  url) echo "${REDIS_URL:-$URL}" ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
