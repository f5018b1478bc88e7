# shellcheck shell=bash
# lib.sh - shared helpers of `npm run test:ha` (network namespaces + etcd + Patroni + pgbouncer).
# Adapted from the team's measured recipes (shared/notes/recipes/ha); own prefix and subnet so the recipes
# and this test bed can run on the same machine at once.
# Source it; do not execute it. Every script in this folder sources it.
#
# Knobs (environment, all optional):
#   DBR_PREFIX   name prefix of namespaces / root-side veth        (default dbrt)
#   DBR_NET      first three octets of the /24 used inside our namespaces (default 10.233.0)
#   DBR_HOME     state directory: env files, pid files, logs, default data (default ${TMPDIR:-/tmp}/dbrouter-ha)
#   DBR_OSUSER   unprivileged OS user for etcd/patroni/postgres/pgbouncer (default postgres)
#   PGBIN        PostgreSQL binaries                                (default /usr/lib/postgresql/15/bin)
#   DBR_PY       python used for delayq.py                          (default /usr/bin/python3)
#
# Topology (see netns_up.sh):
#   namespace ${DBR_PREFIX}-sw  : bridge br0, no address ("the switch")
#   root namespace              : veth ${DBR_PREFIX}-app = $DBR_NET.1  ("app", where Node runs)
#   namespace ${DBR_PREFIX}-dcs : eth0 = $DBR_NET.2                   ("dcs", etcd)
#   namespace ${DBR_PREFIX}-hI  : eth0 = $DBR_NET.(10+I)              ("hI", one PostgreSQL host each)
# Host names accepted by the scripts: app, dcs (or etcd), h1..hN, ${DBR_PREFIX}-h1.., or the IP.

DBR_PREFIX=${DBR_PREFIX:-dbrt}
DBR_NET=${DBR_NET:-10.233.0}
DBR_HOME=${DBR_HOME:-${TMPDIR:-/tmp}/dbrouter-ha}
DBR_OSUSER=${DBR_OSUSER:-postgres}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DBR_PY=${DBR_PY:-/usr/bin/python3}
DBR_SW="${DBR_PREFIX}-sw"
DBR_APP_IF="${DBR_PREFIX}-app"
DBR_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

now_ms() { date +%s%3N; }
log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root (namespaces, veths and nft need CAP_NET_ADMIN)"; }

# host name -> namespace ("" = root namespace), IP, switch port name
host_canon() {            # prints app | dcs | hI
  local h=$1
  case "$h" in
    app|"$DBR_NET.1") echo app ;;
    dcs|etcd|"${DBR_PREFIX}-dcs"|"$DBR_NET.2") echo dcs ;;
    "${DBR_PREFIX}"-h[0-9]*) echo "${h#"${DBR_PREFIX}"-}" ;;
    h[0-9]*) echo "$h" ;;
    "$DBR_NET".*) local o=${h##*.}; [ "$o" -gt 10 ] || die "unknown host $h"; echo "h$((o - 10))" ;;
    *) die "unknown host '$h' (use app, dcs, h1..hN, ${DBR_PREFIX}-hI or an IP in $DBR_NET.0/24)" ;;
  esac
}
host_ns() { local c; c=$(host_canon "$1"); [ "$c" = app ] && echo "" || echo "${DBR_PREFIX}-$c"; }
host_ip() {
  local c; c=$(host_canon "$1")
  case "$c" in app) echo "$DBR_NET.1" ;; dcs) echo "$DBR_NET.2" ;; h*) echo "$DBR_NET.$((10 + ${c#h}))" ;; esac
}
host_port() { host_canon "$1"; }   # name of the host's port on the bridge (inside $DBR_SW)

# run a command inside a host's namespace (root namespace for "app")
in_host() { local ns; ns=$(host_ns "$1"); shift; if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi; }
in_sw() { ip netns exec "$DBR_SW" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }

# as_user NS DIR : sets the array AS_USER to a command prefix that runs a command inside namespace NS as the
# unprivileged OS user with HOME=DIR and a CLEAN environment. Use it as  "${AS_USER[@]}" cmd args &  and
# "$!" is cmd's own pid: ip netns exec, setpriv and env all exec (runuser/su would fork and stay as parent;
# a backgrounded shell FUNCTION would record the pid of a bash subshell).
# The clean environment (env -i) matters: an inherited PGPASSWORD/PGUSER overrides Patroni's pgpass file and
# makes pg_basebackup fail with "password authentication failed for user replicator".
as_user() {
  AS_USER=(ip netns exec "$1" setpriv --reuid="$DBR_OSUSER" --regid="$DBR_OSUSER" --init-groups
    env -i HOME="$2" USER="$DBR_OSUSER" LOGNAME="$DBR_OSUSER" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
}

# pid files: $DBR_HOME/pids/NAME.pid holds "PID<TAB>MATCH" where MATCH is a string that must appear in
# /proc/PID/cmdline for the pid to be ours (protects against pid reuse). Only these pids are ever signalled.
pid_save() { mkdir -p "$DBR_HOME/pids"; printf '%s\t%s\n' "$2" "$3" > "$DBR_HOME/pids/$1.pid"; }
pid_get() {   # prints the pid if the recorded process is alive and still ours
  local f="$DBR_HOME/pids/$1.pid" pid match
  [ -f "$f" ] || return 1
  IFS=$'\t' read -r pid match < "$f"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$match" || return 1
  echo "$pid"
}
# pid_stop NAME SIGNAL TIMEOUT_S : signal a recorded pid, wait until gone (SIGKILL after timeout), drop pid file
pid_stop() {
  local name=$1 sig=${2:-TERM} t=${3:-10} pid i
  if pid=$(pid_get "$name"); then
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 20; i++)); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
    if [ -e "/proc/$pid" ]; then log "$name (pid $pid) still alive after ${t}s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; fi
    for ((i = 0; i < 100; i++)); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
  fi
  rm -f "$DBR_HOME/pids/$name.pid"
}

# wait_until TIMEOUT_S CMD... : poll CMD every 0.1 s; returns 1 on timeout
wait_until() {
  local t=$1; shift; local end=$(( $(now_ms) + t * 1000 ))
  until "$@" >/dev/null 2>&1; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.1; done
}

load_env() { local f="$DBR_HOME/$1.env"; [ -f "$f" ] || die "$f missing: run ${1}_up.sh first"; . "$f"; }

# psql from the root namespace ("app") to HOST:PORT; PGUSER/PGPASSWORD/PGDATABASE from patroni.env
pq() {   # pq HOST [psql args...]
  local h=$1; shift
  PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-2} "$PGBIN/psql" -h "$(host_ip "$h")" -p "${PGPORT:-5432}" -XAtq -v ON_ERROR_STOP=1 "$@"
}
median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "n/a"; exit} if(NR%2){print a[(NR+1)/2]} else {print int((a[NR/2]+a[NR/2+1])/2)}}'; }
