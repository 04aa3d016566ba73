#!/usr/bin/env bash
# The local stack behind the Makefile: Kafka, PostgreSQL, topics, schema and the services.
#
#   deploy/stack.sh up      start everything, print where each part listens
#   deploy/stack.sh down    stop everything this stack started
#   deploy/stack.sh status  what answers, and where
#   deploy/stack.sh test    lint, then the whole suite; starts what the tests need (re-using what
#                           already runs) and stops, at the end, only what it started itself
#   deploy/stack.sh lint    ruff and mypy over the tree
#   deploy/stack.sh faults  the short fault run (tests/reliability/test_under_faults.py)
#   deploy/stack.sh bench   the benchmarks under bench/
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
export CASEGOLD_VAR_DIR=${CASEGOLD_VAR_DIR:-$root/var}
export CASEGOLD_KAFKA_BOOTSTRAP=${CASEGOLD_KAFKA_BOOTSTRAP:-127.0.0.1:9092}
export CASEGOLD_PG_DSN=${CASEGOLD_PG_DSN:-postgresql://casegold:casegold@127.0.0.1:5432/casegold}
export CASEGOLD_POLICY_FILE=${CASEGOLD_POLICY_FILE:-$root/deploy/policy/default.yaml}
python=$root/.venv/bin/python
run_dir=$CASEGOLD_VAR_DIR/run
log_dir=$CASEGOLD_VAR_DIR/log

# Services started by `make up`: "name port module". Each port is the one the service reads from
# its own CASEGOLD_<SERVICE>_PORT, so a second checkout can move every part.
services=("intake ${CASEGOLD_INTAKE_PORT:-8081} casegold_intake.dev"
    "escalation ${CASEGOLD_ESCALATION_PORT:-8082} casegold_escalation"
    "notifier ${CASEGOLD_NOTIFIER_PORT:-8085} casegold_notifier"
    "followup ${CASEGOLD_FOLLOWUP_PORT:-8083} casegold_followup"
    "reporting ${CASEGOLD_REPORTING_PORT:-8084} casegold_reporting")
# The local notice sink (docs/demo.md) catches what the dev policies send; not with real recipients.
if [[ -z ${CASEGOLD_NOTIFIER_RECIPIENTS_FILE:-} && $(realpath "$CASEGOLD_POLICY_FILE") == "$root"/deploy/policy/* ]]; then
    services=("sink ${CASEGOLD_SINK_HTTP_PORT:-8180} tools.notice_sink" "${services[@]}")
fi
# Prometheus (Debian's package) scrapes every service with deploy/prometheus's rules; it starts
# last so that its first scrape finds them up. CASEGOLD_PROMETHEUS=false leaves it out.
if [[ ${CASEGOLD_PROMETHEUS:-true} != false ]]; then
    services+=("prometheus ${CASEGOLD_PROMETHEUS_PORT:-9090} tools.prometheus")
fi

log() { printf '[stack] %s\n' "$*" >&2; }

# Where a part says it is ready: Prometheus's own path, every other part's /readyz.
ready_url() { [[ $1 == prometheus ]] && echo "http://127.0.0.1:$2/-/ready" || echo "http://127.0.0.1:$2/readyz"; }

service_pid() {
    local pid_file=$run_dir/$1.pid pid
    [[ -f $pid_file ]] || return 1
    pid=$(cat "$pid_file")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start_services() {
    mkdir -p "$run_dir" "$log_dir"
    # The local stack accepts the documented development keys (README); production sets keys.
    export CASEGOLD_FOLLOWUP_DEV_KEYS=${CASEGOLD_FOLLOWUP_DEV_KEYS:-true}
    export CASEGOLD_REPORTING_DEV_KEYS=${CASEGOLD_REPORTING_DEV_KEYS:-true}
    # Notices carry one-click acknowledgement links signed with this (notifier) and checked
    # by intake; a local value only: production sets its own secret (docs/notices.md).
    export CASEGOLD_ACK_LINK_SECRET=${CASEGOLD_ACK_LINK_SECRET:-casegold-local-development-ack-links}
    local entry name port module
    for entry in "${services[@]}"; do
        read -r name port module <<<"$entry"
        if service_pid "$name" >/dev/null; then
            continue
        fi
        log "starting $name on 127.0.0.1:$port (log $log_dir/$name.log)"
        setsid bash -c 'echo $$ >"$0"; exec "$@"' "$run_dir/$name.pid" \
            "$python" -m "$module" >>"$log_dir/$name.log" 2>&1 </dev/null &
    done
    for entry in "${services[@]}"; do
        read -r name port module <<<"$entry"
        local deadline=$((SECONDS + 60))
        until curl -fsS "$(ready_url "$name" "$port")" >/dev/null 2>&1; do
            if ! service_pid "$name" >/dev/null; then
                tail -n 20 "$log_dir/$name.log" >&2
                log "error: $name exited during start-up"
                return 1
            fi
            ((SECONDS < deadline)) || { log "error: $name not ready within 60 s"; return 1; }
            sleep 0.3
        done
    done
}

stop_services() {
    local entry name port module pid
    for entry in "${services[@]}"; do
        read -r name port module <<<"$entry"
        pid=$(service_pid "$name") || { rm -f "$run_dir/$name.pid"; continue; }
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 20))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$run_dir/$name.pid"
    done
}

lint() {
    log "lint: ruff and mypy"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    local dirs=() dir
    for dir in libs services tests bench tools; do
        [[ -n $(find "$dir" -name '*.py' -print -quit 2>/dev/null) ]] && dirs+=("$dir")
    done
    .venv/bin/mypy "${dirs[@]}"
}

prepare() {
    "$python" -m casegold_platform create-topics --timeout 60
    "$python" -m casegold_platform migrate --timeout 60
}

status() {
    deploy/kafka/kafka.sh status || true
    deploy/postgres/postgres.sh status || true
    local entry name port module
    for entry in "${services[@]}"; do
        read -r name port module <<<"$entry"
        if curl -fsS "$(ready_url "$name" "$port")" >/dev/null 2>&1; then
            log "$name ready on http://127.0.0.1:$port"
        else
            log "$name not answering on http://127.0.0.1:$port"
        fi
    done
}

ensure_prometheus() {
    # Debian's prometheus package (the one that brings promtool), installed when missing.
    [[ ${CASEGOLD_PROMETHEUS:-true} == false ]] && return 0
    command -v prometheus >/dev/null || [[ -x /usr/bin/prometheus ]] || deploy/ops-tools.sh prometheus
}

up() {
    ensure_prometheus
    deploy/kafka/kafka.sh start
    deploy/postgres/postgres.sh start
    prepare
    start_services
    cat <<EOF
Casegold is up.
  Kafka       $CASEGOLD_KAFKA_BOOTSTRAP  (KRaft, data in $CASEGOLD_VAR_DIR/kafka, log in $log_dir/kafka)
  PostgreSQL  ${CASEGOLD_PG_DSN/:casegold@/:***@}
  Policy      $CASEGOLD_POLICY_FILE
EOF
    local entry name port module
    for entry in "${services[@]}"; do
        read -r name port module <<<"$entry"
        if [[ $name == sink ]]; then
            printf '  %-11s http://127.0.0.1:%s  (notices received; SMTP on 127.0.0.1:%s; make notices)\n' \
                "$name" "$port" "${CASEGOLD_SINK_SMTP_PORT:-8025}"
            continue
        fi
        if [[ $name == prometheus ]]; then
            printf '  %-11s http://127.0.0.1:%s  (PromQL, alerts /alerts, targets /targets; data in %s)\n' \
                "$name" "$port" "$CASEGOLD_VAR_DIR/prometheus/data"
            continue
        fi
        local docs=""
        [[ $name != escalation ]] && docs="docs /docs, "
        printf '  %-11s http://127.0.0.1:%s  (%sready /readyz, metrics /metrics)\n' "$name" "$port" "$docs"
    done
    local reporting=http://127.0.0.1:${CASEGOLD_REPORTING_PORT:-8084}
    echo "  case page   $reporting/cases/<case id>  (the link every notice carries)"
    echo "  weekly      $reporting/reports/weekly?week=$(date -u +%G-W%V)  (the managers' report)"
    echo "  Grafana     not run locally (no registry here ships it): docker compose up grafana"
    echo "Stop with: make down"
}

down() {
    stop_services
    deploy/kafka/kafka.sh stop
    deploy/postgres/postgres.sh stop
}

# What `test` started itself, stopped again when the script exits (also on failure or Ctrl-C).
started=()
stop_started() {
    local part
    for part in "${started[@]}"; do
        case $part in
        kafka) deploy/kafka/kafka.sh stop ;;
        postgres) deploy/postgres/postgres.sh stop ;;
        esac
    done
}

ensure_servers() {
    # Start the broker and the database unless they already answer; remember what was started.
    trap stop_started EXIT
    if ! deploy/kafka/kafka.sh status 2>/dev/null; then
        deploy/kafka/kafka.sh start
        started+=(kafka)
    fi
    if ! deploy/postgres/postgres.sh status 2>/dev/null; then
        deploy/postgres/postgres.sh start
        started+=(postgres)
    fi
    prepare
}

ensure_browser() {
    # Page tests look at pages in a real headless browser: Debian's chromium.
    command -v chromium >/dev/null && return 0
    log "installing Debian's chromium for the page tests"
    local sudo=""
    ((EUID == 0)) || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

run_tests() {
    lint
    ensure_browser
    deploy/ops-tools.sh ensure
    ensure_servers
    log "pytest"
    .venv/bin/pytest "$@"
}

run_benchmarks() {
    shopt -s nullglob
    local benches=(bench/bench_*.py) bench
    ((${#benches[@]})) || { log "no benchmarks yet"; return 0; }
    ensure_servers
    for bench in "${benches[@]}"; do
        log "$bench"
        "$python" "$bench"
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
lint) lint ;;
test) shift && run_tests "$@" ;;
faults) shift && ensure_servers && .venv/bin/pytest -m faults tests/reliability "$@" ;;
bench) run_benchmarks ;;
*) log "usage: $0 up|down|status|test|bench" && exit 2 ;;
esac
