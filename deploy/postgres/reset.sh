#!/usr/bin/env bash
# Empty the project's database: every object the DSN's role owns in it is dropped (tables,
# schemas, their rows: idempotency keys, delivery log, read models, migration history), then
# the public schema is recreated. Used by `make clean`, with the broker's data, so no key
# replays a case a fresh broker never saw.
#
#   deploy/postgres/reset.sh        reset the database at CASEGOLD_PG_DSN; if the server does
#                                   not answer, start it (postgres.sh) and stop it again after
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dsn=${CASEGOLD_PG_DSN:-postgresql://casegold:casegold@127.0.0.1:5432/casegold}

log() { printf '[postgres] %s\n' "$*" >&2; }

read -r pg_user pg_password pg_host pg_port pg_db < <(python3 - "$dsn" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
print(unquote(u.username or "casegold"), unquote(u.password or "casegold"), u.hostname or "127.0.0.1",
      u.port or 5432, (u.path or "/casegold").lstrip("/") or "casegold")
PY
)

run_sql() {
    PGPASSWORD=$pg_password PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" \
        -p "$pg_port" -U "$pg_user" -d "$pg_db" "$@"
}

started=false
if ! run_sql -tAc 'SELECT 1' >/dev/null 2>&1; then
    "$here/postgres.sh" start
    started=true
fi

# DROP OWNED only touches the current database; the role and the database stay.
run_sql -c 'DROP OWNED BY CURRENT_USER CASCADE' -c 'CREATE SCHEMA IF NOT EXISTS public'
log "database $pg_db at $pg_host:$pg_port reset (every object of role $pg_user dropped)"

if $started; then
    "$here/postgres.sh" stop
fi
