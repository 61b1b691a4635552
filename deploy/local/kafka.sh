#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, combined broker + controller) on 127.0.0.1, run from Maven Central's
# jars, so a machine needs only Java and Maven.
#
#   kafka.sh up            start, or reuse whatever broker already answers on 127.0.0.1:$KAFKA_PORT
#   kafka.sh down          stop the broker this checkout started (our pidfile), never anyone else's
#   kafka.sh status        exit 0 if a broker answers on the port, 1 if not
#   kafka.sh logs [-f]     the broker's log
#   kafka.sh topics ARGS   kafka-topics (TopicCommand) against this broker, e.g. `topics --list`
#   kafka.sh fetch         only resolve the jars (CI warm-up)
#
# Environment: KAFKA_PORT / KAFKA_CONTROLLER_PORT (9092 / 9093), KAFKA_VERSION (4.3.1), KAFKA_HEAP_OPTS
# (-Xms256m -Xmx512m), KAFKA_OPTS (more JVM options), KAFKA_CDS=0 (no class archive), ZUOFENG_RUN_DIR.
# KAFKA_INSTANCE=name runs a second, independent broker (own data, pid and lock; give it its own ports):
# the fault tests stop and restart one without disturbing the broker everyone shares.
# KAFKA_SASL_PORT=port adds a SASL_PLAINTEXT listener with SCRAM-SHA-512 (as in Kubernetes, minus TLS)
# next to the plaintext one; KAFKA_SASL_USERS="user:password[,user:password…]" are created as SCRAM
# credentials when the data dir is formatted (first start of that instance). Use it on an instance of its own.
# KAFKA_TLS_DIR=dir (holding broker.pem: the broker's PKCS#8 key and certificate chain, PEM) adds TLS
# listeners as in Kubernetes: KAFKA_SASL_SSL_PORT=port (TLS + SCRAM-SHA-512, users as above) and/or
# KAFKA_SSL_PORT=port (TLS only). PEM keystores need no keytool (Kafka ≥ 2.7).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

# 4.3.x: what current Strimzi (1.2) runs in production, so the tests exercise the broker that ships. 4.0
# removed old request versions (KIP-896) but restored Metadata v0-3 for clients like aiokafka 0.14
# (KAFKA-18648); the whole suite runs against it. 4.x logs through log4j2 (see kafka-pom.xml).
KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
INSTANCE="${KAFKA_INSTANCE:-main}"
POM="$here/kafka-pom.xml"
LIBS="$RUN_DIR/kafka/libs-$KAFKA_VERSION"
HOME_DIR="$RUN_DIR/kafka/$INSTANCE"
PIDFILE="$HOME_DIR/kafka.pid"
# Written once the broker has answered an admin request, so a later `up` can skip the check (~1 s).
READYFILE="$HOME_DIR/kafka.ready"
PROPS="$HOME_DIR/server.properties"
TOOLS_LOG4J="$RUN_DIR/kafka/tools-log4j2.properties"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
# Class-data-sharing archive of the broker's classes (see cds_opts); one per instance, never shared.
CDS="$HOME_DIR/classes-$KAFKA_VERSION.jsa"
read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
read -r -a EXTRA_OPTS <<<"${KAFKA_OPTS:-}"
JAVA="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"

need_java() { command -v "$JAVA" >/dev/null || die "no java; run deploy/local/install-deps.sh"; }

# Resolving costs 10-100 s (Maven starts, maybe downloads), so it runs only when the jar folder is missing
# or was made from another pom/version; the marker records which, and is written last (a run killed
# halfway leaves no marker and is redone).
fetch_jars() {
  local want tmp jar
  want="$(printf '%s\n' "$KAFKA_VERSION" | cat - "$POM" | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$LIBS/.complete" 2>/dev/null)" = "$want" ] && return 0
  command -v mvn >/dev/null || die "no mvn; run deploy/local/install-deps.sh"
  log "kafka: resolving kafka_2.13 $KAFKA_VERSION from Maven Central into $LIBS"
  tmp="$LIBS.tmp.$$"
  rm -rf "$tmp"
  # Maven 3.8 prints colour resets even in batch mode; strip them (pipefail keeps mvn's status).
  if ! mvn -B -q -f "$POM" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "kafka: could not resolve the jars with Maven (network? see the output above)"
  fi
  # A broker may be running from $LIBS (another instance, same version): replace jars one rename at a
  # time rather than deleting the folder under it. Its open jars stay valid; rename is atomic.
  mkdir -p "$LIBS"
  for jar in "$LIBS"/*.jar; do
    if [ -e "$jar" ] && [ ! -e "$tmp/${jar##*/}" ]; then rm -f "$jar"; fi
  done
  for jar in "$tmp"/*.jar; do
    cmp -s "$jar" "$LIBS/${jar##*/}" || mv -f "$jar" "$LIBS/"
  done
  rm -rf "$tmp"
  printf '%s\n' "$want" >"$LIBS/.complete"
}

write_tools_log4j() {
  [ -f "$TOOLS_LOG4J" ] && return 0
  # Command-line tools: warnings only, on stderr, so their stdout stays the answer.
  cat >"$TOOLS_LOG4J.$$" <<'PROPS'
appender.stderr.type=Console
appender.stderr.name=STDERR
appender.stderr.target=SYSTEM_ERR
appender.stderr.layout.type=PatternLayout
appender.stderr.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.stderr.ref=STDERR
PROPS
  mv -f "$TOOLS_LOG4J.$$" "$TOOLS_LOG4J"
}

# A short-lived Kafka tool JVM (StorageTool, TopicCommand). C1 only and the serial GC: it starts in ~0.7 s
# instead of ~2 s, and these tools do nothing that needs the optimising compiler.
TOOL_JAVA=("$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*")
tool() { write_tools_log4j; "${TOOL_JAVA[@]}" "$@"; }

configure() {
  mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs"
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT" sasl=""
  if [ -n "${KAFKA_SASL_PORT:-}" ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    sasl="sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  fi
  local tls=""
  if [ -n "${KAFKA_TLS_DIR:-}" ]; then
    [ -f "$KAFKA_TLS_DIR/broker.pem" ] || die "no $KAFKA_TLS_DIR/broker.pem (key and certificate chain, PEM)"
    if [ -n "${KAFKA_SASL_SSL_PORT:-}" ]; then
      listeners+=",SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
      sasl="sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    fi
    if [ -n "${KAFKA_SSL_PORT:-}" ]; then listeners+=",SSL://127.0.0.1:$KAFKA_SSL_PORT"; fi
    tls="ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS_DIR/broker.pem
ssl.client.auth=none"
  fi
  # Rewritten on every start so a change here (or another port) applies; the data stays as it is.
  cat >"$PROPS" <<PROPS
# Generated by deploy/local/kafka.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
$sasl
$tls
log.dirs=$HOME_DIR/data
# The services create their topics (with their own partition count); a typo must not create one silently.
auto.create.topics.enable=false
num.partitions=3
# One broker: internal topics at the default replication 3 would never be created, and consumer groups
# would fail with "coordinator not available".
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
# Tests join and leave groups all the time; the 3 s default delay would slow every first poll.
group.initial.rebalance.delay.ms=0
log.retention.hours=168
# The compaction map for __consumer_offsets defaults to 128 MB of heap; 32 MB is plenty here.
log.cleaner.dedupe.buffer.size=33554432
PROPS
  cat >"$HOME_DIR/log4j2.properties" <<PROPS
appender.file.type=RollingFile
appender.file.name=FILE
appender.file.fileName=$HOME_DIR/logs/server.log
appender.file.filePattern=$HOME_DIR/logs/server.log.%i
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
appender.file.policies.type=Policies
appender.file.policies.size.type=SizeBasedTriggeringPolicy
appender.file.policies.size.size=20MB
appender.file.strategy.type=DefaultRolloverStrategy
appender.file.strategy.max=2
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
# Per-request and state-change chatter would fill the log during test runs.
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
PROPS
  # KRaft refuses to start on an unformatted log dir. Format once; the id is kept so a wiped data dir
  # comes back as the same cluster.
  if [ ! -f "$HOME_DIR/data/meta.properties" ]; then
    if ! grep -qE '^[A-Za-z0-9_-]{22}$' "$HOME_DIR/cluster.id" 2>/dev/null; then
      tool kafka.tools.StorageTool random-uuid >"$HOME_DIR/cluster.id"
    fi
    log "kafka: formatting $HOME_DIR/data (cluster $(cat "$HOME_DIR/cluster.id"))"
    # SCRAM credentials live in the cluster metadata: KRaft takes the first ones at format time.
    local scram=() entry
    if [ -n "${KAFKA_SASL_USERS:-}" ]; then
      IFS=, read -r -a entries <<<"$KAFKA_SASL_USERS"
      for entry in "${entries[@]}"; do
        scram+=(--add-scram "SCRAM-SHA-512=[name=${entry%%:*},password=${entry#*:}]")
      done
    fi
    tool kafka.tools.StorageTool format -t "$(cat "$HOME_DIR/cluster.id")" -c "$PROPS" -g "${scram[@]}" >&2
  fi
}

# The port is bound (and the kernel completes connections) before the broker serves requests, so an
# open port proves little; a real admin round trip does.
answers_admin() {
  write_tools_log4j
  timeout 30 "${TOOL_JAVA[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
    >/dev/null 2>&1
}

ours() { pid_alive "$PIDFILE" "$PROPS"; }

# A restart should be quick (the outbox tests stop and start a broker), and half of a start's CPU is
# loading and verifying ~9,000 classes. The first broker run records them in a CDS archive when it exits
# (`down`); later runs map it: about 45% less CPU to start (8.5 s -> 4.6 s measured on 2 busy cores).
# A damaged archive crashes the JVM (SIGBUS), so one is used only after a clean exit and a check run, and
# one made for another jar set or JVM (only a warning then) is dropped. KAFKA_CDS=0 turns this off.
cds_opts() {
  CDS_OPTS=()
  [ "${KAFKA_CDS:-1}" = 1 ] || return 0
  local major
  major="$("$JAVA" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')"
  ((${major:-0} >= 13)) || return 0 # dynamic archives came with JDK 13
  rm -f "$CDS.new"
  if [ -s "$CDS" ] && [ "$CDS" -nt "$LIBS/.complete" ]; then
    CDS_OPTS=(-XX:SharedArchiveFile="$CDS")
  else
    rm -f "$CDS"
    CDS_OPTS=(-XX:ArchiveClassesAtExit="$CDS.new")
  fi
}

# After a clean exit: adopt the archive the broker just wrote, if the JVM can map it.
cds_adopt() {
  [ -s "$CDS.new" ] || return 0
  if "$JAVA" -XX:SharedArchiveFile="$CDS.new" -Xshare:on -XX:-CreateCoredumpOnCrash \
      -XX:ErrorFile="$HOME_DIR/logs/hs_err_cds_check.log" -cp "$LIBS/*" -version >/dev/null 2>&1; then
    mv -f "$CDS.new" "$CDS"
  else
    rm -f "$CDS.new"
  fi
}

fail_start() {
  log "kafka: $1; last lines of $HOME_DIR/logs:"
  tail -n 25 "$HOME_DIR/logs/stdout.log" "$HOME_DIR/logs/server.log" >&2 2>/dev/null || true
  die "kafka did not come up on $BOOTSTRAP"
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  # Cheap polling first; the JVM-based admin check only once the port is bound.
  wait_for_port "$KAFKA_PORT" "$START_TIMEOUT" "$PIDFILE" "$PROPS" || true
  while :; do
    if ! ours; then
      # Another checkout may have started a broker on the same port a moment before us: ours then died
      # on "Address already in use", and that broker is as good as ours.
      if port_open "$KAFKA_PORT" && answers_admin; then
        log "kafka: another broker took $BOOTSTRAP first; reusing it"
        rm -f "$PIDFILE" "$READYFILE"
        return 0
      fi
      fail_start "the broker exited"
    fi
    if port_open "$KAFKA_PORT" && answers_admin; then
      cp "$PIDFILE" "$READYFILE"
      return 0
    fi
    ((SECONDS < deadline)) || fail_start "not ready after $START_TIMEOUT s"
    sleep 0.5
  done
}

up() {
  if ours; then
    if cmp -s "$PIDFILE" "$READYFILE" && port_open "$KAFKA_PORT"; then
      log "kafka: running on $BOOTSTRAP (pid $(cat "$PIDFILE"), $INSTANCE)"
    else
      # Ours, but not confirmed (started by an older script, a start that timed out, or not answering
      # right now): wait for it as for a fresh start.
      need_java; with_lock "kafka-libs-$KAFKA_VERSION" fetch_jars; wait_ready
      log "kafka: running on $BOOTSTRAP (pid $(cat "$PIDFILE"), $INSTANCE)"
    fi
  elif port_open "$KAFKA_PORT"; then
    # Someone else's broker (another checkout, a previous session): share it, and never stop it.
    need_java; with_lock "kafka-libs-$KAFKA_VERSION" fetch_jars
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers_admin; do
      ((SECONDS < deadline)) || die "something listens on $BOOTSTRAP but does not answer as a Kafka broker"
      sleep 1
    done
    log "kafka: reusing the broker already answering on $BOOTSTRAP"
  else
    need_java
    with_lock "kafka-libs-$KAFKA_VERSION" fetch_jars
    configure
    rm -f "$READYFILE"
    cds_opts
    log "kafka: starting Kafka $KAFKA_VERSION on $BOOTSTRAP ($INSTANCE)"
    # Kafka's own start script's GC settings; -Xms keeps the heap from growing in steps under tests. A
    # crash report goes with the logs, not into whatever directory `up` was run from.
    daemonize "$JAVA" "${HEAP_OPTS[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -XX:ErrorFile="$HOME_DIR/logs/hs_err_pid%p.log" "${CDS_OPTS[@]}" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" "${EXTRA_OPTS[@]}" \
      -cp "$LIBS/*" kafka.Kafka "$PROPS" >"$HOME_DIR/logs/stdout.log" 2>&1
    echo "$!" >"$PIDFILE"
    wait_ready
    # The JVM only warns when it cannot use the archive (other JVM build, other jars): drop it, re-record.
    if grep -q '\[cds' "$HOME_DIR/logs/stdout.log"; then rm -f "$CDS"; fi
    log "kafka: ready on $BOOTSTRAP (pid $(cat "$PIDFILE" 2>/dev/null || echo "not ours"), $INSTANCE)"
  fi
  echo "$BOOTSTRAP"
}

down() {
  if ! ours; then
    rm -f "$PIDFILE" "$READYFILE"
    if port_open "$KAFKA_PORT"; then
      log "kafka: the broker on $BOOTSTRAP was not started by this checkout ($INSTANCE); leaving it running"
    else
      log "kafka: not running ($INSTANCE)"
    fi
    return 0
  fi
  local pid deadline timeout="$STOP_TIMEOUT"
  pid="$(cat "$PIDFILE")"
  # Writing the class archive on exit takes a few seconds more (up to ~15 s on a loaded machine), once.
  if pid_alive "$PIDFILE" "ArchiveClassesAtExit"; then timeout=$((STOP_TIMEOUT + 60)); fi
  # SIGTERM is a controlled shutdown: logs flushed and closed cleanly, so the next start skips recovery.
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while ours && ((SECONDS < deadline)); do sleep 0.2; done
  if ours; then
    log "kafka: still running after $timeout s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while ours; do sleep 0.2; done
    rm -f "$CDS.new"
  fi
  cds_adopt
  rm -f "$PIDFILE" "$READYFILE"
  log "kafka: stopped ($INSTANCE)"
}

status() {
  if port_open "$KAFKA_PORT"; then
    if ours; then
      echo "kafka: running on $BOOTSTRAP (pid $(cat "$PIDFILE"), $INSTANCE, started by this checkout)"
    else
      echo "kafka: running on $BOOTSTRAP (not started by this checkout)"
    fi
    return 0
  fi
  if ours; then
    echo "kafka: pid $(cat "$PIDFILE") alive but $BOOTSTRAP closed (starting or stopping?)"
  else
    echo "kafka: not running"
  fi
  return 1
}

case "${1:-}" in
  up) with_lock "kafka-$INSTANCE" up ;;
  down) with_lock "kafka-$INSTANCE" down ;;
  status) status ;;
  logs)
    if [ "${2:-}" = "-f" ]; then exec tail -n 100 -F "$HOME_DIR/logs/server.log"; fi
    tail -n 100 "$HOME_DIR/logs/server.log"
    ;;
  topics)
    shift
    need_java
    with_lock "kafka-libs-$KAFKA_VERSION" fetch_jars
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"
    ;;
  fetch) need_java; with_lock "kafka-libs-$KAFKA_VERSION" fetch_jars ;;
  *) echo "usage: $0 up|down|status|logs [-f]|topics ARGS|fetch" >&2; exit 2 ;;
esac
