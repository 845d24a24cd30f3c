"""Baseline for benches/reflect.rs: time Alembic comparing a database with itself.

Reflects the database into a MetaData once (untimed), then times
`alembic.autogenerate.compare_metadata` against the same database, which is
the work `alembic check` does on a database equal to its models. Prints one
JSON line: {"seconds": ..., "statements": ..., "diffs": ...}.

Usage: python alembic_compare.py SQLALCHEMY_URL [REPEAT]
"""
import json
import sys
import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, event


def main() -> None:
    url = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    statements = 0

    def count(*_args, **_kwargs):
        nonlocal statements
        statements += 1

    best = None
    for _ in range(repeat):
        statements = 0
        with engine.connect() as conn:
            event.listen(conn, "before_cursor_execute", count)
            context = MigrationContext.configure(conn)
            start = time.perf_counter()
            diffs = compare_metadata(context, metadata)
            elapsed = time.perf_counter() - start
            event.remove(conn, "before_cursor_execute", count)
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"seconds": best, "statements": statements, "diffs": len(diffs)}))


if __name__ == "__main__":
    main()
