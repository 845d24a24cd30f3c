#!/usr/bin/env bash
# The web example under wrk on loopback, against the same GET /users/{id}
# written with raw diesel-async, in the same run, on PostgreSQL
# (MIGRATE_TEST_POSTGRES_URL's server, default the local one). Run by
# `bench/run.sh web [SECONDS]`: each service is measured twice, alternating.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
server="${MIGRATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
url="${server%/*}/migrate_web_bench"
command -v wrk >/dev/null || { echo "bench/run.sh web needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet -p migrate-example-web --bins
psql -q "$server" -c 'DROP DATABASE IF EXISTS migrate_web_bench WITH (FORCE)' -c 'CREATE DATABASE migrate_web_bench'

pids=()
finish() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$server" -c 'DROP DATABASE IF EXISTS migrate_web_bench WITH (FORCE)' || true
}
trap finish EXIT
declare -A pid_of # ADDR -> the service's pid
start() { # NAME ADDR [IDLE_MS]: starts target/release/NAME on ADDR and waits until it answers
    DATABASE_URL="$url" ADDR="$2" HEALTH_CHECK_IDLE_MS="${3:-500}" "target/release/$1" >/dev/null &
    pids+=("$!")
    pid_of[$2]=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://$2/users/1" && return 0
        sleep 0.1
    done
    echo "$1 did not start on $2" >&2
    exit 1
}
start web 127.0.0.1:3100 # applies the migrations
for i in $(seq 100); do
    curl -sf -o /dev/null -XPOST http://127.0.0.1:3100/users -H 'content-type: application/json' \
        -d "{\"name\":\"user$i\",\"posts\":[\"a\",\"b\",\"c\"]}"
done
for tag in rust sql; do
    curl -sf -o /dev/null -XPOST http://127.0.0.1:3100/posts/1/tags -H 'content-type: application/json' -d "{\"name\":\"$tag\"}"
done
start web-raw 127.0.0.1:3101
# The pool's default skips the ping for a connection in steady use;
# diesel-async's pings every checkout: this one does too, like for like.
start web 127.0.0.1:3102 0
for port in 3101 3102; do
    [ "$(curl -s http://127.0.0.1:3100/users/1)" = "$(curl -s http://127.0.0.1:$port/users/1)" ] ||
        { echo "the services answer differently" >&2; exit 1; }
done

ticks() { # PID...: each one's user + system CPU so far, its ended children's included, in clock ticks ("pid ticks" lines)
    for p in "$@"; do awk -v p="$p" '{print p, $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || true; done
}
# The ticks spent between two `ticks` listings, a process new in AFTER from 0. A
# PostgreSQL backend that ends in between (a pool discards the connections of
# the requests wrk cuts off at its end) is in the postmaster's ended children.
spent() { # BEFORE AFTER
    awk 'NR == FNR {before[$1] = $2; next} {t += $2 - before[$1]} END {print t + 0}' <(echo "$1") <(echo "$2")
}
measure() { # LABEL ADDR: one wrk run of GET /users/1 (2 threads, 32 connections)
    local service_before server_before service server
    service_before=$(ticks "${pid_of[$2]}")
    server_before=$(ticks $(pgrep -x postgres))
    out=$(wrk -t2 -c32 -d"${seconds}s" --latency --timeout 5s "http://$2/users/1")
    service=$(spent "$service_before" "$(ticks "${pid_of[$2]}")")
    server=$(spent "$server_before" "$(ticks $(pgrep -x postgres))")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    # CPU per request, in microseconds: the service's own, and PostgreSQL's.
    per() { awk -v t="$1" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}'; }
    printf '%-22s %10s req/s   p99 %8s   cpu/request: service %4s us, postgres %4s us   %s\n' \
        "$1" "$rps" "$p99" "$(per "$service")" "$(per "$server")" "$errors"
}
echo "GET /users/{id} (a user, 3 posts, 2 tags: 3 statements in a read-only transaction), ${seconds}s each, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2; do
    measure "raw diesel-async #$round" 127.0.0.1:3101
    measure "migrate (session) #$round" 127.0.0.1:3100
    measure "migrate, ping each #$round" 127.0.0.1:3102
done
