#!/usr/bin/env bash
# Local PostgreSQL for Casegold.
#
#   deploy/postgres/postgres.sh start   use the server at CASEGOLD_PG_DSN if it answers; otherwise
#                                       install Debian's postgresql if missing, start (or create) the
#                                       cluster on the DSN's port, create the role and the database
#   deploy/postgres/postgres.sh stop    stop the cluster only if this script started it
#   deploy/postgres/postgres.sh status  exit 0 when the DSN accepts a connection
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
var_dir=${CASEGOLD_VAR_DIR:-$root/var}
dsn=${CASEGOLD_PG_DSN:-postgresql://casegold:casegold@127.0.0.1:5432/casegold}
marker=$var_dir/postgres/started-cluster

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# user password host port database, from the DSN.
read -r pg_user pg_password pg_host pg_port pg_db < <(python3 - "$dsn" <<'EOF'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
print(unquote(u.username or "casegold"), unquote(u.password or "casegold"), u.hostname or "127.0.0.1",
      u.port or 5432, (u.path or "/casegold").lstrip("/") or "casegold")
EOF
)
shown_dsn="postgresql://$pg_user:***@$pg_host:$pg_port/$pg_db"

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

answers() {
    PGPASSWORD=$pg_password PGCONNECT_TIMEOUT=3 psql -X -q -h "$pg_host" -p "$pg_port" -U "$pg_user" \
        -d "$pg_db" -tAc 'SELECT 1' >/dev/null 2>&1
}

server_up() { pg_isready -q -h "$pg_host" -p "$pg_port" >/dev/null 2>&1; }

install_server() {
    if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
        return 0
    fi
    log "PostgreSQL server not installed: installing Debian's postgresql"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
}

cluster_on_port() {
    # "version name status" of the Debian cluster listening on the DSN's port, if any.
    pg_lsclusters -h 2>/dev/null | awk -v port="$pg_port" '$3 == port { print $1, $2, $4; exit }'
}

start_cluster() {
    local version name status
    read -r version name status < <(cluster_on_port) || true
    if [[ -z ${version:-} ]]; then
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        name=casegold
        log "creating cluster $version/$name on port $pg_port"
        as_root pg_createcluster "$version" "$name" -p "$pg_port" >/dev/null
        status=down
    fi
    if [[ $status != online ]]; then
        log "starting cluster $version/$name on port $pg_port"
        as_root pg_ctlcluster "$version" "$name" start
        mkdir -p "$(dirname "$marker")"
        echo "$version $name" >"$marker"
    fi
    local deadline=$((SECONDS + 60))
    until server_up; do
        ((SECONDS < deadline)) || die "cluster $version/$name did not accept connections within 60 s"
        sleep 0.3
    done
}

create_role_and_database() {
    local sql_user=${pg_user//\'/\'\'} sql_password=${pg_password//\'/\'\'}
    if [[ $(as_postgres psql -X -p "$pg_port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$sql_user'") != 1 ]]; then
        log "creating role $pg_user"
        as_postgres psql -X -q -p "$pg_port" -c "CREATE ROLE \"$pg_user\" LOGIN PASSWORD '$sql_password'"
    fi
    if [[ $(as_postgres psql -X -p "$pg_port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$pg_db'") != 1 ]]; then
        log "creating database $pg_db"
        as_postgres psql -X -q -p "$pg_port" -c "CREATE DATABASE \"$pg_db\" OWNER \"$pg_user\""
    fi
}

start() {
    if answers; then
        log "server answers at $shown_dsn; using it"
        return 0
    fi
    case $pg_host in
    127.0.0.1 | localhost | ::1) ;;
    *) die "PostgreSQL at $shown_dsn does not answer, and it is not on this machine" ;;
    esac
    command -v psql >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq postgresql-client >/dev/null; }
    install_server
    start_cluster
    create_role_and_database
    answers || die "cannot log in at $shown_dsn after creating the role (check pg_hba.conf)"
    log "ready at $shown_dsn"
}

stop() {
    if [[ ! -f $marker ]]; then
        log "nothing to stop (this script did not start the server)"
        return 0
    fi
    local version name
    read -r version name <"$marker"
    log "stopping cluster $version/$name"
    as_root pg_ctlcluster "$version" "$name" stop -m fast || true
    rm -f "$marker"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers && log "answers at $shown_dsn" || { log "no answer at $shown_dsn"; exit 1; } ;;
*) die "usage: $0 start|stop|status" ;;
esac
