#!/usr/bin/env bash
# Runs the benchmarks with Alembic (and, for the ORM, SQLAlchemy 2.x ORM) as the
# baseline, measured in the same run.
# Creates bench/.venv with Alembic 1.20, SQLAlchemy 2 and the Python drivers on first use.
#   bench/run.sh                  # every benchmark
#   bench/run.sh reflect [N...]   # reflection: N = 100 and 1,000 tables, all backends
#   bench/run.sh revisions        # 1,000 revisions: heads/history, applying them
#   bench/run.sh check            # migrate check on 1,000 tables, in sync and with 10 changes
#   bench/run.sh alembic_cases    # every change Alembic's autogenerate detects, migrate detects
#   bench/run.sh fleet [S P]      # upgrade --databases -j 1/2/4/8 over S SQLite + P PostgreSQL databases vs a shell loop
#   bench/run.sh orm [NAME...]    # the ORM against raw diesel and SQLAlchemy ORM; NAME picks
#                                 # workloads (load_100, join, ...) or backends (sqlite, postgresql, mysql)
#   bench/run.sh web [SECONDS]    # examples/web under wrk vs the same endpoint on raw diesel-async (bench/web.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'alembic==1.20.*' 'sqlalchemy>=2' 'psycopg2-binary' 'pymysql'
fi
export MIGRATE_BENCH_PYTHON="$PWD/$venv/bin/python"
case "${1:-all}" in
    reflect | revisions | check | alembic_cases | orm)
        bench="$1"
        shift
        cargo bench --bench "$bench" -- "$@"
        ;;
    web)
        shift
        exec bench/web.sh "$@"
        ;;
    fleet)
        shift
        cargo bench --bench fleet -- "$@"
        ;;
    all)
        cargo bench --bench reflect
        cargo bench --bench revisions
        cargo bench --bench check
        cargo bench --bench alembic_cases
        cargo bench --bench orm
        ;;
    *)
        echo "usage: bench/run.sh [reflect [N...] | revisions | check | alembic_cases | fleet [SQLITE POSTGRES] | orm [NAME...] | web [SECONDS]]" >&2
        exit 2
        ;;
esac
