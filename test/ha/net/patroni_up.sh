#!/usr/bin/env bash
# patroni_up.sh N [DATADIR] - N PostgreSQL 15 nodes managed by Patroni (Debian's patroni 3.0.2), one per
# host namespace h1..hN, DCS = the etcd from etcd_up.sh (Patroni "etcd3:" section = etcd v3 API).
#
# - Runs patroni/postgres as $DBR_OSUSER (postgres refuses root). Data: DATADIR/hI/{patroni.yml,pgdata,sock}
#   (default DATADIR = $DBR_HOME; must be traversable by $DBR_OSUSER - not under /root; /dev/shm is fastest).
# - PostgreSQL listens on 0.0.0.0:5432 inside each namespace (= $DBR_NET.(10+I):5432 from the root
#   namespace); Patroni REST API on $DBR_NET.(10+I):8008.
# - Timing knobs go into bootstrap.dcs (cluster-wide): PATRONI_TTL (10), PATRONI_LOOP_WAIT (1),
#   PATRONI_RETRY_TIMEOUT (3). Patroni 3.0.2 accepts any integers here; later versions clamp to
#   ttl>=20, loop_wait>=1, retry_timeout>=3 and want loop_wait + 2*retry_timeout <= ttl.
# - DCS section: PATRONI_DCS=etcd3 (default, etcd v3 API) or etcd (v2 API: etcd_up.sh must run with ETCD_V2=1,
#   else Patroni only logs "waiting on etcd" / 404s forever).
# - pg_hba: local trust; 127.0.0.1 and $DBR_NET.0/24 need scram-sha-256 (replication included).
# - h1 is started first and becomes the leader; h2..hN then clone it (pg_basebackup) in parallel.
# - Users: postgres/postgres (superuser), replicator/replicator, rewinder/rewinder (pg_rewind),
#   app/app (owner of database app, for the application / pgbouncer).
# Writes $DBR_HOME/patroni.env (sourced by the other scripts; also handy: PGUSER/PGPASSWORD).
# Undo: patroni_down.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
load_env net; load_env etcd
N=${1:?usage: patroni_up.sh N [DATADIR]}
[ "$N" -le "$DBR_N" ] || die "only $DBR_N host namespaces exist"
DATA=${2:-$DBR_HOME}
SCOPE=${DBR_SCOPE:-dbr}
TTL=${PATRONI_TTL:-10}; LOOP=${PATRONI_LOOP_WAIT:-1}; RETRY=${PATRONI_RETRY_TIMEOUT:-3}
DCS_SECTION=${PATRONI_DCS:-etcd3}   # etcd3 = v3 API (default); etcd = v2 API, needs etcd_up.sh with ETCD_V2=1
case "$DCS_SECTION" in etcd3|etcd) ;; *) die "PATRONI_DCS must be etcd3 or etcd" ;; esac
[ -f "$DBR_HOME/patroni.env" ] && die "$DBR_HOME/patroni.env exists: run patroni_down.sh first"
command -v patronictl >/dev/null || die "patroni missing: apt-get install -y patroni"
t0=$(now_ms)
HOSTS=$(seq -f 'h%g' -s ' ' 1 "$N")
mkdir -p "$DATA"; chmod 755 "$DATA"
setpriv --reuid="$DBR_OSUSER" --regid="$DBR_OSUSER" --init-groups test -x "$DATA" ||
  die "$DBR_OSUSER cannot enter $DATA (a parent directory is not world-executable?)"

# stale cluster state in etcd from an earlier run would make Patroni refuse to bootstrap
ETCDCTL_API=3 etcdctl --endpoints "$DBR_ETCD_URL" del --prefix "/service/$SCOPE/" >/dev/null

mkdir -p "$DBR_HOME/log"
for H in $HOSTS; do
  D="$DATA/$H"; IP=$(host_ip "$H")
  [ -e "$D" ] && die "$D exists"
  : > "$DBR_HOME/log/patroni-$H.log"
  mkdir -p "$D/sock"; chown -R "$DBR_OSUSER:" "$D"; chmod 700 "$D"
  cat > "$D/patroni.yml" <<EOF
scope: $SCOPE
namespace: /service/
name: $H
restapi:
  listen: $IP:8008
  connect_address: $IP:8008
$DCS_SECTION:
  host: $DBR_ETCD_HOSTPORT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP
    retry_timeout: $RETRY
    maximum_lag_on_failover: 1048576
    synchronous_mode: ${PATRONI_SYNC:-false}   # PATRONI_SYNC=true: Patroni's synchronous mode (one sync standby)
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_connections: 100
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 64MB
        hot_standby_feedback: 'on'
        wal_receiver_status_interval: 1s
        wal_retrieve_retry_interval: 500ms   # default 5s: a new replica's first try fails (slot not yet created)
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $IP:5432
  use_unix_socket: true
  data_dir: $D/pgdata
  bin_dir: $PGBIN
  pgpass: $D/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: rewinder, password: rewinder}
  parameters:
    unix_socket_directories: $D/sock
    shared_buffers: 32MB
    logging_collector: 'on'
    log_directory: log
    log_min_messages: warning
  basebackup:           # without this pg_basebackup waits for a SPREAD checkpoint: 94 s measured here
    - checkpoint: fast
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host replication replicator $DBR_NET.0/24 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
    - host all all $DBR_NET.0/24 scram-sha-256
EOF
  chown "$DBR_OSUSER:" "$D/patroni.yml"; chmod 600 "$D/patroni.yml"
done

cat > "$DBR_HOME/patroni.env" <<EOF
# written by patroni_up.sh
DBR_PATRONI_N=$N
DBR_PATRONI_HOSTS="$HOSTS"
DBR_PATRONI_DATA=$DATA
DBR_SCOPE=$SCOPE
DBR_PATRONICTL_CFG=$DATA/h1/patroni.yml
export PGUSER=postgres PGPASSWORD=postgres PGDATABASE=postgres
EOF
. "$DBR_HOME/patroni.env"

rest_is() { [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://$(host_ip "$1"):8008/$2")" = "$3" ]; }
"$DBR_HERE/patroni_node.sh" start h1
wait_until 60 rest_is h1 primary 200 || { tail -30 "$DBR_HOME/log/patroni-h1.log" >&2; die "h1 did not become primary"; }
t_leader=$(now_ms)
pq h1 -c "CREATE ROLE app LOGIN PASSWORD 'app'" -c "CREATE DATABASE app OWNER app"
for H in ${HOSTS#h1}; do "$DBR_HERE/patroni_node.sh" start "$H"; done
streaming() { [ "$(pq h1 -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" -ge $((N - 1)) ]; }
wait_until 120 streaming || { tail -30 "$DBR_HOME/log/patroni-h2.log" >&2; die "replicas did not start streaming"; }
for H in ${HOSTS#h1}; do wait_until 30 rest_is "$H" replica 200 || die "$H: /replica != 200"; done
log "patroni up: leader h1 after $((t_leader - t0)) ms, all $N nodes streaming after $(( $(now_ms) - t0 )) ms"
patronictl -c "$DBR_PATRONICTL_CFG" list
