#!/usr/bin/env bash
# The suite's infrastructure on this machine: Kafka, PostgreSQL, Redis and Keycloak together.
#
#   infra.sh up       start or reuse both (in parallel); prints the export lines `env` prints
#   infra.sh down     stop what this checkout started (never a server someone else started)
#   infra.sh status   exit 0 only if Kafka, PostgreSQL and Redis answer (Keycloak is reported, not required)
#   infra.sh env      `export KAFKA_BOOTSTRAP_SERVERS=...`, `DATABASE_URL=...`, `REDIS_URL=...`, for eval
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

print_env() {
  echo "export KAFKA_BOOTSTRAP_SERVERS='${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}'"
  echo "export DATABASE_URL='$(bash "$here/postgres.sh" url)'"
  echo "export REDIS_URL='$(bash "$here/redis.sh" url)'"
  echo "export OIDC_ISSUER='$(bash "$here/keycloak.sh" issuer)'"
}

case "${1:-}" in
  up)
    # In parallel: the broker's JVM start and initdb/pg_ctl each take seconds. Their stdout (the address)
    # is dropped; print_env says the same for both. Each script takes its own lock.
    bash "$here/postgres.sh" up >/dev/null &
    pg=$!
    bash "$here/kafka.sh" up >/dev/null &
    kafka=$!
    bash "$here/redis.sh" up >/dev/null &
    redis=$!
    # The console's sign-in provider. Its first start takes a minute or more; only the console needs it, so
    # a failure is reported and the rest still comes up (tests/integration/test_console_auth.py then skips).
    bash "$here/keycloak.sh" up >/dev/null &
    keycloak=$!
    rc=0
    wait "$pg" || { log "infra: PostgreSQL failed"; rc=1; }
    wait "$kafka" || { log "infra: Kafka failed"; rc=1; }
    wait "$redis" || { log "infra: Redis failed"; rc=1; }
    wait "$keycloak" || log "infra: Keycloak failed (the console's sign-in is unavailable; see deploy/local/keycloak.sh logs)"
    ((rc == 0)) || exit "$rc"
    print_env
    ;;
  down)
    rc=0
    bash "$here/kafka.sh" down || rc=1
    bash "$here/postgres.sh" down || rc=1
    bash "$here/redis.sh" down || rc=1
    bash "$here/keycloak.sh" down || rc=1
    exit "$rc"
    ;;
  status)
    rc=0
    bash "$here/kafka.sh" status || rc=1
    bash "$here/postgres.sh" status || rc=1
    bash "$here/redis.sh" status || rc=1
    bash "$here/keycloak.sh" status || true  # optional: the API works without the console
    exit "$rc"
    ;;
  env) print_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
