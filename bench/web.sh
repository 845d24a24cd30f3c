#!/usr/bin/env bash
# The web example under wrk on loopback, against the same GET /users/{id}
# written with raw diesel-async, in the same run, on PostgreSQL
# (MIGRATE_TEST_POSTGRES_URL's server, default the local one). Run by
# `bench/run.sh web [SECONDS]`: each service is measured
# MIGRATE_BENCH_ROUNDS times (default 5), interleaved, and the summary gives
# each one's best and median and their ratios against raw diesel-async.
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
    rm -f "${results:-}"
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
results=$(mktemp) # one line per run: NAME ROUND REQ/S P99_MS SERVICE_US REQUESTS SERVICE_TICKS POSTGRES_TICKS
measure() { # LABEL ADDR: one wrk run of GET /users/1 (2 threads, 32 connections)
    local service_before server_before service server
    service_before=$(ticks "${pid_of[$2]}")
    server_before=$(ticks $(pgrep -x postgres))
    out=$(wrk -t2 -c32 -d"${seconds}s" --latency --timeout 5s "http://$2/users/1")
    # The backends of the connections a pool discards when wrk cuts its
    # requests off end now, and their CPU counts when they have ended.
    sleep 1
    service=$(spent "$service_before" "$(ticks "${pid_of[$2]}")")
    server=$(spent "$server_before" "$(ticks $(pgrep -x postgres))")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    # p99 in milliseconds, whatever unit wrk chose.
    p99=$(awk '$1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[0-9]s$/ && $2 !~ /ms$/) v *= 1000; print v}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    # CPU per request, in microseconds: the service's own, and PostgreSQL's.
    per() { awk -v t="$1" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}'; }
    printf '%-14s #%s %10s req/s   p99 %6.2f ms   cpu/request: service %4s us, postgres %4s us   %s\n' \
        "$1" "$round" "$rps" "$p99" "$(per "$service")" "$(per "$server")" "$errors"
    echo "$1 $round $rps $p99 $(per "$service") $requests $service $server" >>"$results"
}
rounds="${MIGRATE_BENCH_ROUNDS:-5}"
echo "GET /users/{id} (a user, 3 posts, 2 tags: 3 statements in a read-only transaction), ${seconds}s each, $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
services=("raw 127.0.0.1:3101" "migrate 127.0.0.1:3100" "ping-each 127.0.0.1:3102")
for round in $(seq "$rounds"); do
    # Each round starts with the next service, so that no service always
    # runs first (or last) after the others warmed the machine.
    for i in 0 1 2; do
        read -r name addr <<<"${services[(i + round) % 3]}"
        measure "$name" "$addr"
    done
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
# Per service, over the rounds: the best (highest) throughput, the best
# (lowest) p99 and service CPU, and the medians; PostgreSQL's CPU over all
# the rounds together (a backend's CPU is counted when it ends: ours are
# discarded when wrk cuts their requests off, raw diesel-async's at its next
# checkout, in its next run). Then ours against raw, as ratios where above 1 is worse than raw.
awk -v hz="$(getconf CLK_TCK)" '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function best(list, highest,   n, a, i, b) {
        n = split(list, a, " "); b = a[1]
        for (i = 2; i <= n; i++) if (highest ? a[i] + 0 > b + 0 : a[i] + 0 < b + 0) b = a[i]
        return b
    }
    function all(ticks, s) { return ticks[s] / hz * 1e6 / requests[s] }
    {
        rps[$1] = rps[$1] " " $3; p99[$1] = p99[$1] " " $4; cpu[$1] = cpu[$1] " " $5
        requests[$1] += $6; service[$1] += $7; server[$1] += $8
    }
    END {
        printf "\n%-10s %24s %22s %22s %14s %14s\n", "", "req/s best (median)", "p99 ms best (median)", "service us best (med)", "service us all", "postgres us all"
        n = split("raw migrate ping-each", names, " ")
        for (i = 1; i <= n; i++) {
            s = names[i]
            printf "%-10s %12.0f (%8.0f) %12.2f (%7.2f) %12.0f (%7.0f) %14.0f %14.0f\n", s, best(rps[s], 1), median(rps[s]), best(p99[s], 0), median(p99[s]), best(cpu[s], 0), median(cpu[s]), all(service, s), all(server, s)
        }
        print "\nagainst raw diesel-async (above 1: worse): throughput = raw req/s / ours, p99 and CPU = ours / raw; best of the rounds (median), CPU over all rounds"
        for (i = 2; i <= n; i++) {
            s = names[i]
            printf "%-10s throughput %.2fx (%.2fx)   p99 %.2fx (%.2fx)   service CPU %.2fx   postgres CPU %.2fx\n", s,
                best(rps["raw"], 1) / best(rps[s], 1), median(rps["raw"]) / median(rps[s]),
                best(p99[s], 0) / best(p99["raw"], 0), median(p99[s]) / median(p99["raw"]),
                all(service, s) / all(service, "raw"), all(server, s) / all(server, "raw")
        }
    }' "$results"
