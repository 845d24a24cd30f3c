#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback, for tests (see docs/databases.md).
#   tests/galera/cluster.sh start DIR   # nodes on 127.0.0.1:3311-3313, data under DIR
#   tests/galera/cluster.sh stop DIR    # stops node 3, 2, then 1, each by its pid
# Node N: SQL port 331N, group communication 457N, IST 458N, rsync SST 459N.
# Node 1 bootstraps the cluster; 2 and 3 join it and receive its data by
# rsync. Never touches the MariaDB server on 3306.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [ -z "$dir" ] || { [ "$cmd" != start ] && [ "$cmd" != stop ]; }; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

provider() {
    for p in /usr/lib/galera/libgalera_smm.so /usr/lib/libgalera_smm.so; do
        if [ -f "$p" ]; then echo "$p"; return 0; fi
    done
    dpkg -L galera-4 2>/dev/null | grep 'libgalera_smm.so$' | head -n1
}

config() { # N
    local n="$1" node="$dir/node$1"
    cat >"$node/my.cnf" <<CNF
[mariadbd]
user=mysql
datadir=$node/data
socket=$node/mariadbd.sock
pid-file=$node/mariadbd.pid
log-error=$node/error.log
port=331$n
bind-address=127.0.0.1
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$(provider)
wsrep_cluster_address=gcomm://127.0.0.1:4571,127.0.0.1:4572,127.0.0.1:4573
wsrep_node_address=127.0.0.1:457$n
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:459$n
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:457$n;ist.recv_addr=127.0.0.1:458$n"
CNF
}

sql() { # N, statement
    mariadb --no-defaults --socket="$dir/node$1/mariadbd.sock" -u root -N -B -e "$2"
}

wait_synced() { # N, pid
    for _ in $(seq 1 240); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "error: node $1 exited; see $dir/node$1/error.log" >&2
            tail -n 20 "$dir/node$1/error.log" >&2 || true
            return 1
        fi
        if [ "$(sql "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2)" = Synced ]; then
            return 0
        fi
        sleep 0.25
    done
    echo "error: node $1 did not reach Synced in 60 s; see $dir/node$1/error.log" >&2
    return 1
}

start_node() { # N, extra mariadbd arguments...
    local n="$1" node="$dir/node$1"
    shift
    mkdir -p "$node/data"
    config "$n"
    chown -R mysql:mysql "$node"
    # setsid: the node outlives this script and ignores the caller's signals.
    setsid mariadbd --defaults-file="$node/my.cnf" "$@" </dev/null >>"$node/stdout.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$node/node.pid"
    wait_synced "$n" "$pid"
}

stop_node() { # N
    local pidfile="$dir/node$1/node.pid"
    [ -f "$pidfile" ] || return 0
    local pid
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 240); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "node $1 (pid $pid) did not stop in 60 s: killing it" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

case "$cmd" in
start)
    if [ -z "$(provider)" ]; then
        echo "error: galera-4 is not installed (no libgalera_smm.so)" >&2
        exit 3
    fi
    command -v rsync >/dev/null || { echo "error: rsync is not installed" >&2; exit 3; }
    chmod 755 "$dir"
    mkdir -p "$dir/node1/data"
    if [ ! -d "$dir/node1/data/mysql" ]; then
        mariadb-install-db --no-defaults --user=mysql --datadir="$dir/node1/data" \
            --auth-root-authentication-method=socket >"$dir/node1/install.log" 2>&1
    fi
    start_node 1 --wsrep-new-cluster
    sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION"
    start_node 2
    start_node 3
    size="$(sql 1 "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2)"
    if [ "$size" != 3 ]; then
        echo "error: cluster size is $size, not 3" >&2
        exit 1
    fi
    echo "galera cluster up: 127.0.0.1:3311,3312,3313 (data in $dir)"
    ;;
stop)
    stop_node 3
    stop_node 2
    stop_node 1
    ;;
esac
