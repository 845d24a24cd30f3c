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
start() { # NAME ADDR [IDLE_MS]: starts target/release/NAME on ADDR and waits until it answers
    DATABASE_URL="$url" ADDR="$2" HEALTH_CHECK_IDLE_MS="${3:-500}" "target/release/$1" >/dev/null &
    pids+=("$!")
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

measure() { # LABEL ADDR: one wrk run of GET /users/1 (2 threads, 32 connections)
    out=$(wrk -t2 -c32 -d"${seconds}s" --latency --timeout 5s "http://$2/users/1")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    printf '%-22s %10s req/s   p99 %8s   %s\n' "$1" "$rps" "$p99" "$errors"
}
echo "GET /users/{id} (a user, 3 posts, 2 tags: 3 statements in a read-only transaction), ${seconds}s each, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2; do
    measure "raw diesel-async #$round" 127.0.0.1:3101
    measure "migrate (session) #$round" 127.0.0.1:3100
    measure "migrate, ping each #$round" 127.0.0.1:3102
done
