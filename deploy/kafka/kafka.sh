#!/usr/bin/env bash
# Local Apache Kafka 3.9.1 broker (KRaft, one combined broker+controller) from Maven Central jars.
#
#   deploy/kafka/kafka.sh fetch    resolve the broker jars with Maven into deploy/kafka/.cache/libs
#   deploy/kafka/kafka.sh start    fetch if needed, format storage once, start, wait for metadata
#   deploy/kafka/kafka.sh stop     stop the broker this script started (TERM, then KILL after 60 s)
#   deploy/kafka/kafka.sh status   exit 0 when a broker answers on CASEGOLD_KAFKA_BOOTSTRAP
#   deploy/kafka/kafka.sh wipe     stop, then delete the broker's data directory
#
# Environment: CASEGOLD_KAFKA_BOOTSTRAP (127.0.0.1:9092), CASEGOLD_KAFKA_CONTROLLER_PORT (9093),
# CASEGOLD_VAR_DIR (<repo>/var), CASEGOLD_KAFKA_HEAP (1G).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
var_dir=${CASEGOLD_VAR_DIR:-$root/var}
bootstrap=${CASEGOLD_KAFKA_BOOTSTRAP:-127.0.0.1:9092}
kafka_host=${bootstrap%:*}
kafka_port=${bootstrap##*:}
controller_port=${CASEGOLD_KAFKA_CONTROLLER_PORT:-9093}
heap=${CASEGOLD_KAFKA_HEAP:-1G}
libs=$here/.cache/libs
state_dir=$var_dir/kafka
data_dir=$state_dir/data
log_dir=$var_dir/log/kafka
pid_file=$state_dir/kafka.pid
conf=$state_dir/server.properties
python=$root/.venv/bin/python

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

java_opts=(-Xms256m "-Xmx$heap" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
    -Djava.awt.headless=true "-Dkafka.logs.dir=$log_dir"
    "-Dlog4j.configuration=file:$here/log4j.properties" -cp "$libs/*")

java_cmd() {
    command -v java >/dev/null || die "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)"
    java "${java_opts[@]}" "$@"
}

fetch() {
    local stamp=$libs/.resolved-$(sha256sum "$here/pom.xml" | cut -c1-16)
    if [[ -f $stamp ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
    log "resolving org.apache.kafka:kafka_2.13:3.9.1 and the reload4j binding from Maven Central"
    rm -rf "$libs"
    mkdir -p "$libs"
    mkdir -p "$log_dir"
    mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
        "-DoutputDirectory=$libs" -DincludeScope=runtime >"$log_dir/maven.log" 2>&1 \
        || { tail -n 30 "$log_dir/maven.log" >&2; die "Maven could not resolve the broker jars (is Maven Central reachable?)"; }
    ls "$libs"/kafka_2.13-3.9.1.jar >/dev/null 2>&1 || die "kafka_2.13-3.9.1.jar missing after resolution"
    touch "$stamp"
    log "$(find "$libs" -name '*.jar' | wc -l) jars in $libs"
}

render_config() {
    mkdir -p "$state_dir" "$log_dir"
    sed -e "s|@KAFKA_HOST@|$kafka_host|g" -e "s|@KAFKA_PORT@|$kafka_port|g" \
        -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
        "$here/server.properties.in" >"$conf"
}

format_storage() {
    if [[ -f $data_dir/meta.properties ]]; then
        return 0
    fi
    local cluster_id
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    [[ -n $cluster_id ]] || die "StorageTool random-uuid printed nothing"
    log "formatting KRaft storage in $data_dir (cluster $cluster_id)"
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" >"$log_dir/format.log" 2>&1 \
        || { cat "$log_dir/format.log" >&2; die "StorageTool format failed"; }
}

our_pid() {
    # The pid of the broker this script started, if it is still that broker.
    [[ -f $pid_file ]] || return 1
    local pid
    pid=$(cat "$pid_file")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null \
        && echo "$pid"
}

answers() {
    [[ -x $python ]] || die "no virtualenv at $root/.venv: run 'make venv' first"
    "$python" -m casegold_platform wait-kafka --timeout "${1:-2}" >/dev/null 2>&1
}

start() {
    if our_pid >/dev/null; then
        log "already running (pid $(our_pid))"
        answers 60 || die "broker process runs but does not answer on $bootstrap; see $log_dir/server.log"
        return 0
    fi
    if answers 2; then
        log "a broker already answers on $bootstrap (not started by this script); using it"
        return 0
    fi
    fetch
    render_config
    format_storage
    log "starting on $bootstrap (controller $kafka_host:$controller_port), logs in $log_dir"
    rm -f "$pid_file"
    # setsid: the broker outlives the shell that started it, and Ctrl-C in that shell does not reach it.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" java "${java_opts[@]}" kafka.Kafka "$conf" \
        >>"$log_dir/kafka.out" 2>&1 </dev/null &
    local deadline=$((SECONDS + 90))
    while ((SECONDS < deadline)); do
        if [[ -s $pid_file ]] && ! our_pid >/dev/null; then
            tail -n 30 "$log_dir/server.log" "$log_dir/kafka.out" >&2 2>/dev/null || true
            die "broker exited during start-up"
        fi
        if answers 2; then
            log "ready (pid $(our_pid)): metadata answered on $bootstrap"
            return 0
        fi
        sleep 0.5
    done
    stop || true
    die "broker did not answer a metadata request within 90 s; see $log_dir/server.log"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        rm -f "$pid_file"
        log "not running (nothing started by this script)"
        return 0
    fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 60 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$pid_file"
    log "stopped"
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
status) answers 5 && log "answers on $bootstrap" || { log "no broker answers on $bootstrap"; exit 1; } ;;
pid) our_pid ;;
wipe) stop && rm -rf "$data_dir" && log "data removed" ;;
*) die "usage: $0 fetch|start|stop|status|pid|wipe" ;;
esac
