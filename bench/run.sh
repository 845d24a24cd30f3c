#!/usr/bin/env bash
# Runs the benchmarks with Alembic as the baseline, measured in the same run.
# Creates bench/.venv with Alembic 1.20 and the Python drivers on first use.
#   bench/run.sh            # reflection: N = 100 and 1,000 tables, all backends
#   bench/run.sh 100        # only N = 100
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'alembic==1.20.*' 'sqlalchemy>=2' 'psycopg2-binary' 'pymysql'
fi
MIGRATE_BENCH_PYTHON="$venv/bin/python" cargo bench --bench reflect -- "$@"
