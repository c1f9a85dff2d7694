#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller) on loopback, on the machine's Java.
#   scripts/kafka.sh fetch                      jars into $KAFKA_HOME/libs (cached; mvn + deploy/kafka-pom.xml)
#   scripts/kafka.sh start [PORT] [DATA_DIR]    format storage if new, start, wait until it answers
#   scripts/kafka.sh stop  [DATA_DIR]           stop cleanly (SIGTERM, then wait)
#   scripts/kafka.sh status [DATA_DIR]
# With KAFKA_SASL_SSL_PORT, KAFKA_SSL_KEYSTORE_PEM (private key + certificate chain, PEM),
# KAFKA_SCRAM_USER and KAFKA_SCRAM_PASSWORD set, the broker also listens for SASL_SSL
# (SCRAM-SHA-512) on that port, and the user is created when the storage is formatted.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_HOME=${KAFKA_HOME:-$here/var/kafka}
LIBS=$KAFKA_HOME/libs
POM=$here/deploy/kafka-pom.xml
cmd=${1:-}
shift || true

fetch() {
  local stamp=$LIBS/.fetched
  if [[ -f $stamp && $stamp -nt $POM ]]; then return 0; fi
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is needed to fetch the Kafka jars" >&2; exit 3; }
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  touch "$stamp"
}

java_args() {  # data_dir -> JVM options shared by every Kafka process we start
  java_opts=(-Xms128m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$1/log4j2.properties" -cp "$LIBS/*")
}

java_cmd() {
  command -v java >/dev/null || { echo "kafka.sh: java (17+) is needed" >&2; exit 3; }
  java_args "$1"
  java "${java_opts[@]}" "${@:2}"
}

wait_port() {  # host port seconds
  local deadline=$((SECONDS + $3))
  while (( SECONDS < deadline )); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

start() {
  local port=${1:-9092} data=${2:-$here/var/kafka-data}
  local cport=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
  fetch
  mkdir -p "$data"
  if [[ -f $data/kafka.pid ]] && kill -0 "$(cat "$data/kafka.pid")" 2>/dev/null; then
    echo "kafka already running (pid $(cat "$data/kafka.pid")) on $(cat "$data/bootstrap")"; return 0
  fi
  local listeners="PLAINTEXT://127.0.0.1:$port" protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  local sasl_port=${KAFKA_SASL_SSL_PORT:-} scram=()
  if [[ -n $sasl_port ]]; then
    listeners="$listeners,SASL_SSL://127.0.0.1:$sasl_port"
    protocols="$protocols,SASL_SSL:SASL_SSL"
    scram=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]")
  fi
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$data/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  if [[ -n $sasl_port ]]; then
    cat >> "$data/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_KEYSTORE_PEM
ssl.endpoint.identification.algorithm=https
PROPS
  fi
  cat > "$data/log4j2.properties" <<LOG
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $data/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
LOG
  if [[ ! -f $data/logs/meta.properties ]]; then
    local id
    id=$(java_cmd "$data" kafka.tools.StorageTool random-uuid | tail -1)
    java_cmd "$data" kafka.tools.StorageTool format -t "$id" -c "$data/server.properties" "${scram[@]}" >"$data/format.log" 2>&1 \
      || { cat "$data/format.log" >&2; exit 1; }
  fi
  java_args "$data"
  nohup java "${java_opts[@]}" kafka.Kafka "$data/server.properties" >"$data/stdout.log" 2>&1 &
  echo $! > "$data/kafka.pid"
  echo "127.0.0.1:$port" > "$data/bootstrap"
  if ! wait_port 127.0.0.1 "$port" "${KAFKA_START_TIMEOUT:-90}"; then
    echo "kafka did not start; last log lines:" >&2; tail -n 30 "$data/stdout.log" "$data/kafka.log" >&2 || true
    stop "$data"; exit 1
  fi
  echo "kafka up on 127.0.0.1:$port (pid $(cat "$data/kafka.pid"), data $data)"
}

stop() {
  local data=${1:-$here/var/kafka-data}
  [[ -f $data/kafka.pid ]] || { echo "kafka not running ($data)"; return 0; }
  local pid; pid=$(cat "$data/kafka.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$data/kafka.pid"
  echo "kafka stopped"
}

case $cmd in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  status) d=${1:-$here/var/kafka-data}; [[ -f $d/kafka.pid ]] && kill -0 "$(cat "$d/kafka.pid")" 2>/dev/null \
            && echo "running on $(cat "$d/bootstrap")" || { echo "not running"; exit 1; } ;;
  *) echo "usage: $0 fetch|start [PORT] [DATA_DIR]|stop [DATA_DIR]|status [DATA_DIR]" >&2; exit 2 ;;
esac
