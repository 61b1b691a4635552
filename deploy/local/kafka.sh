#!/usr/bin/env bash
# A real Apache Kafka broker in KRaft mode (combined broker + controller) on 127.0.0.1, from Maven
# Central's jars. up is idempotent (reuses a broker that already answers); down stops only our own.
#   KAFKA_INSTANCE=name  runs a second, independent broker (own data and pid; set its ports too),
#                        which the fault tests stop and start without disturbing the shared one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
LIBS="$RUN_DIR/kafka/libs-$KAFKA_VERSION"
HOME_DIR="$RUN_DIR/kafka/${KAFKA_INSTANCE:-main}"
PIDFILE="$HOME_DIR/kafka.pid"
JAVA="${JAVA:-java}"

fetch_jars() {
  [ -f "$LIBS/.complete" ] && return 0
  log "kafka: resolving kafka_2.13 $KAFKA_VERSION from Maven Central into $LIBS"
  rm -rf "$LIBS"
  mvn -B -q -f "$here/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
  touch "$LIBS/.complete"
}

configure() {
  mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs"
  cat >"$HOME_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$HOME_DIR/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
PROPS
  cat >"$HOME_DIR/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$HOME_DIR/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
  if [ ! -f "$HOME_DIR/data/meta.properties" ]; then
    [ -f "$HOME_DIR/cluster.id" ] || "$JAVA" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null >"$HOME_DIR/cluster.id"
    "$JAVA" -Xmx256m -Dlog4j.configuration="file:$HOME_DIR/log4j.properties" -cp "$LIBS/*" \
      kafka.tools.StorageTool format -t "$(cat "$HOME_DIR/cluster.id")" -c "$HOME_DIR/server.properties" -g >/dev/null
  fi
}

start() {
  if port_open "$KAFKA_PORT"; then
    log "kafka: reusing the broker on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  fetch_jars
  configure
  log "kafka: starting $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (${KAFKA_INSTANCE:-main})"
  setsid nohup "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$HOME_DIR/log4j.properties" -cp "$LIBS/*" \
    kafka.Kafka "$HOME_DIR/server.properties" >"$HOME_DIR/logs/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 90))
  # The broker opens its client port only once it is unfenced and RUNNING, so the port is the signal.
  until port_open "$KAFKA_PORT"; do
    if ! pid_alive "$PIDFILE" || ((SECONDS > deadline)); then
      tail -n 30 "$HOME_DIR/logs/server.log" "$HOME_DIR/logs/stdout.log" >&2 || true
      die "kafka: did not come up"
    fi
    sleep 0.5
  done
  log "kafka: ready"
}

stop() {
  if ! pid_alive "$PIDFILE"; then
    log "kafka: not started by us (${KAFKA_INSTANCE:-main}); nothing to stop"
    rm -f "$PIDFILE"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "kafka: did not stop in 30 s, killing"; kill -KILL "$pid"; fi
  rm -f "$PIDFILE"
  log "kafka: stopped"
}

case "${1:-}" in
  up) with_lock "kafka-${KAFKA_INSTANCE:-main}" start ;;
  down) with_lock "kafka-${KAFKA_INSTANCE:-main}" stop ;;
  status) if port_open "$KAFKA_PORT"; then echo "kafka: running on 127.0.0.1:$KAFKA_PORT"; else echo "kafka: not running"; exit 1; fi ;;
  logs) tail -n 100 "$HOME_DIR/logs/server.log" ;;
  fetch) fetch_jars ;;
  *) echo "usage: $0 up|down|status|logs|fetch" >&2; exit 2 ;;
esac
