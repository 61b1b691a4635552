#!/usr/bin/env bash
# The suite's infrastructure on this machine: Kafka and PostgreSQL together.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

case "${1:-}" in
  up)
    bash "$here/postgres.sh" up &
    pg=$!
    bash "$here/kafka.sh" up
    wait "$pg"
    ;;
  down)
    bash "$here/kafka.sh" down
    bash "$here/postgres.sh" down
    ;;
  status)
    rc=0
    bash "$here/kafka.sh" status || rc=1
    bash "$here/postgres.sh" status || rc=1
    exit $rc
    ;;
  env)
    echo "export DATABASE_URL='$(bash "$here/postgres.sh" url)'"
    echo "export KAFKA_BOOTSTRAP_SERVERS='${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}'"
    ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
