#!/usr/bin/env bash
# Keycloak (the staff console's OpenID Connect provider) on 127.0.0.1:$KEYCLOAK_PORT, from Maven Central's
# keycloak-quarkus-dist tarball, in dev mode with an in-memory database: the realm in keycloak/ is imported
# afresh on every start, so what runs is always what the file says.
#
#   keycloak.sh up       start, or reuse a Keycloak already answering on the port; prints the issuer URL
#   keycloak.sh down     stop the server this checkout started (our pidfile), never anyone else's
#   keycloak.sh status   exit 0 if the realm answers, 1 if not
#   keycloak.sh issuer   the realm's issuer URL
#   keycloak.sh logs     the server's log
#
# Environment: KEYCLOAK_PORT (58080), KEYCLOAK_MANAGEMENT_PORT (58081, health), KEYCLOAK_VERSION (26.4.0),
# KEYCLOAK_START_TIMEOUT (240 s: the first start builds the server, ~60-90 s on two busy cores),
# KEYCLOAK_HEAP_OPTS (-Xms128m -Xmx512m), ZUOFENG_CACHE (~/.cache/zuofeng, where the tarball is kept).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.4.0}"
KEYCLOAK_PORT="${KEYCLOAK_PORT:-58080}"
KEYCLOAK_MANAGEMENT_PORT="${KEYCLOAK_MANAGEMENT_PORT:-58081}"
CACHE="${ZUOFENG_CACHE:-$HOME/.cache/zuofeng}"
TARBALL="$CACHE/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
URL="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
STATE="$RUN_DIR/keycloak"
KC_HOME="$STATE/keycloak-$KEYCLOAK_VERSION"
PIDFILE="$STATE/keycloak.pid"
LOGFILE="$STATE/keycloak.log"
MARK="keycloak-$KEYCLOAK_VERSION"
REALM_FILE="$here/keycloak/zuofeng-realm.json"
ISSUER="http://127.0.0.1:$KEYCLOAK_PORT/realms/zuofeng"
START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-240}"
JAVA="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"

realm_answers() { curl -fsS -o /dev/null --max-time 5 "$ISSUER/.well-known/openid-configuration" 2>/dev/null; }
ready() { curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT/health/ready" 2>/dev/null; }

need_java17() {
  command -v "$JAVA" >/dev/null || die "no java; run deploy/local/install-deps.sh"
  local major
  major="$("$JAVA" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')"
  ((${major:-0} >= 17)) || die "Keycloak $KEYCLOAK_VERSION needs Java 17 or later (found ${major:-none})"
}

# Downloaded once per machine into the cache (a partial download never takes the final name), unpacked
# once per checkout: the first start writes the built server into the unpacked tree.
fetch() {
  if [ ! -s "$TARBALL" ]; then
    mkdir -p "$CACHE"
    log "keycloak: downloading keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central"
    curl -fsSL --retry 3 -o "$TARBALL.part.$$" "$URL" || { rm -f "$TARBALL.part.$$"; die "keycloak: download failed ($URL)"; }
    mv -f "$TARBALL.part.$$" "$TARBALL"
  fi
  if [ ! -x "$KC_HOME/bin/kc.sh" ]; then
    mkdir -p "$STATE"
    rm -rf "$STATE/unpack.$$"
    mkdir "$STATE/unpack.$$"
    tar -xzf "$TARBALL" -C "$STATE/unpack.$$"
    rm -rf "$KC_HOME"
    mv "$STATE/unpack.$$/keycloak-$KEYCLOAK_VERSION" "$KC_HOME"
    rm -rf "$STATE/unpack.$$"
  fi
}

up() {
  if pid_alive "$PIDFILE" "$MARK" && ready && realm_answers; then
    log "keycloak: running on http://127.0.0.1:$KEYCLOAK_PORT (pid $(cat "$PIDFILE"))"
    echo "$ISSUER"
    return 0
  fi
  if ! pid_alive "$PIDFILE" "$MARK" && port_open "$KEYCLOAK_PORT"; then
    # Someone else's Keycloak (another checkout): share it if it serves the realm, never stop it.
    local deadline=$((SECONDS + START_TIMEOUT))
    until realm_answers; do
      ((SECONDS < deadline)) || die "something listens on 127.0.0.1:$KEYCLOAK_PORT but serves no realm 'zuofeng'"
      sleep 2
    done
    log "keycloak: reusing the server already answering on 127.0.0.1:$KEYCLOAK_PORT"
    echo "$ISSUER"
    return 0
  fi
  if ! pid_alive "$PIDFILE" "$MARK"; then
    need_java17
    fetch
    mkdir -p "$KC_HOME/data/import"
    cp -f "$REALM_FILE" "$KC_HOME/data/import/zuofeng-realm.json"
    log "keycloak: starting Keycloak $KEYCLOAK_VERSION on http://127.0.0.1:$KEYCLOAK_PORT (first start builds it: a minute or more)"
    read -r -a heap <<<"${KEYCLOAK_HEAP_OPTS:--Xms128m -Xmx512m}"
    # A master-realm administrator for the admin console (local development only).
    JAVA_OPTS_KC_HEAP="${heap[*]}" JAVA_HOME="${JAVA_HOME:-}" \
      KC_BOOTSTRAP_ADMIN_USERNAME="${KEYCLOAK_ADMIN_USER:-kcadmin}" \
      KC_BOOTSTRAP_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-zuofeng-kcadmin}" \
      daemonize "$KC_HOME/bin/kc.sh" start-dev --db=dev-mem --import-realm \
      --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" --http-management-port="$KEYCLOAK_MANAGEMENT_PORT" \
      --health-enabled=true --hostname-strict=false >"$LOGFILE" 2>&1
    echo "$!" >"$PIDFILE"
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until ready && realm_answers; do
    if ! pid_alive "$PIDFILE" "$MARK"; then
      tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
      die "keycloak exited; log in $LOGFILE"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
      die "keycloak not ready after $START_TIMEOUT s; log in $LOGFILE"
    fi
    sleep 2
  done
  log "keycloak: ready on http://127.0.0.1:$KEYCLOAK_PORT (pid $(cat "$PIDFILE"))"
  echo "$ISSUER"
}

down() {
  if ! pid_alive "$PIDFILE" "$MARK"; then
    rm -f "$PIDFILE"
    if port_open "$KEYCLOAK_PORT"; then
      log "keycloak: the server on 127.0.0.1:$KEYCLOAK_PORT was not started by this checkout; leaving it running"
    else
      log "keycloak: not running"
    fi
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  # kc.sh runs the JVM as its child (and execs it only after a rebuild); daemonize made kc.sh a session
  # and group leader, so the group is exactly this server. SIGTERM is Quarkus's graceful shutdown.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "keycloak: still running after 30 s; killing process group $pid"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  log "keycloak: stopped"
}

status() {
  if realm_answers; then
    if pid_alive "$PIDFILE" "$MARK"; then echo "keycloak: running on 127.0.0.1:$KEYCLOAK_PORT (started by this checkout)"
    else echo "keycloak: running on 127.0.0.1:$KEYCLOAK_PORT (not started by this checkout)"; fi
    return 0
  fi
  echo "keycloak: not running"
  return 1
}

case "${1:-}" in
  up) with_lock keycloak up ;;
  down) with_lock keycloak down ;;
  status) status ;;
  issuer) echo "$ISSUER" ;;
  logs) tail -n 100 "$LOGFILE" ;;
  *) echo "usage: $0 up|down|status|issuer|logs" >&2; exit 2 ;;
esac
