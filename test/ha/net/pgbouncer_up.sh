#!/usr/bin/env bash
# pgbouncer_up.sh HOST MODE - pgbouncer (Debian's 1.18) in HOST's namespace on port 6432, in front of the
# PostgreSQL of that host ($DBR_NET.(10+I):5432, its own address, so inet_server_addr() names the host
# behind pgbouncer - whatever role that node has right now).
#
#   MODE       session | transaction | statement   (pool_mode)
#   HOST       h1..hN; clients connect to $DBR_NET.(10+I):6432 from the root namespace
#   PGB_POOL_SIZE  default_pool_size (default 20; pgbouncer_demo.sh uses 2 to make effects deterministic)
#   PGB_QUERY_WAIT_TIMEOUT  query_wait_timeout in seconds (default 3 here; PgBouncer's own default is 120)
# auth_type scram-sha-256 with plain-text passwords in userlist.txt (app/app, postgres/postgres): pgbouncer
# then also does SCRAM towards PostgreSQL (whose pg_hba wants scram for 127.0.0.1). Runs as $DBR_OSUSER
# (pgbouncer refuses root), foreground process recorded as $DBR_HOME/pids/pgbouncer-HOST.pid; config, log and
# userlist in $DBR_HOME/pgbouncer-HOST/. Admin console: psql -h IP -p 6432 -U postgres pgbouncer -c 'SHOW POOLS'.
# Undo: pgbouncer_down.sh [HOST].
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
H=$(host_canon "${1:?usage: pgbouncer_up.sh HOST session|transaction|statement}")
MODE=${2:?usage: pgbouncer_up.sh HOST session|transaction|statement}
case "$MODE" in session|transaction|statement) ;; *) die "MODE must be session, transaction or statement" ;; esac
command -v pgbouncer >/dev/null || die "pgbouncer missing: apt-get install -y pgbouncer"
NS=$(host_ns "$H"); IP=$(host_ip "$H"); ns_exists "$NS" || die "namespace $NS missing"
pid_get "pgbouncer-$H" >/dev/null && die "pgbouncer on $H already running (pgbouncer_down.sh $H)"
t0=$(now_ms)
D="$DBR_HOME/pgbouncer-$H"
rm -rf "$D"; mkdir -p "$D"
printf '"app" "app"\n"postgres" "postgres"\n' > "$D/userlist.txt"
cat > "$D/pgbouncer.ini" <<EOF
[databases]
* = host=$IP port=5432

[pgbouncer]
listen_addr = *
listen_port = 6432
unix_socket_dir = $D
auth_type = scram-sha-256
auth_file = $D/userlist.txt
pool_mode = $MODE
default_pool_size = ${PGB_POOL_SIZE:-20}
max_client_conn = 500
; a client waiting for a server connection gets 08P01 query_wait_timeout after this many seconds (default
; 120): with its PostgreSQL down, statements would otherwise wait in PgBouncer's queue that long; dbrouter
; takes 08P01 for a connection error and retries a read elsewhere
query_wait_timeout = ${PGB_QUERY_WAIT_TIMEOUT:-3}
admin_users = postgres
ignore_startup_parameters = extra_float_digits
logfile = $D/pgbouncer.log
pidfile = $D/pgbouncer.pid
EOF
chown -R "$DBR_OSUSER:" "$D"; chmod 700 "$D"; chmod 600 "$D/userlist.txt"
as_user "$NS" "$D"
"${AS_USER[@]}" pgbouncer "$D/pgbouncer.ini" > "$D/stdout.log" 2>&1 &
pid_save "pgbouncer-$H" $! "$D/pgbouncer.ini"
ok() { PGPASSWORD=app PGCONNECT_TIMEOUT=1 "$PGBIN/psql" "host=$IP port=6432 dbname=app user=app" -XAtqc 'select 1'; }
wait_until 10 ok || { tail -5 "$D/pgbouncer.log" "$D/stdout.log" >&2; die "pgbouncer on $H not answering"; }
log "pgbouncer ($MODE, pool ${PGB_POOL_SIZE:-20}) on $IP:6432 -> 127.0.0.1:5432 of $H, up in $(( $(now_ms) - t0 )) ms"
