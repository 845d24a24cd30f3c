"""What Alembic's autogenerate detects between two databases.

Reflects AFTER_URL into a MetaData (the "models") and compares BEFORE_URL with
it, as `alembic revision --autogenerate` / `alembic check` would, with type,
server-default and comment comparison on. Prints one JSON list of the diff
kinds found (add_column, remove_column, modify_type, ...).

Usage: python alembic_detects.py BEFORE_URL AFTER_URL
"""
import json
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

IGNORED = {"migrate_version", "migrate_version_history"}


def kinds(diffs):
    for diff in diffs:
        if isinstance(diff, list):  # modify_* come grouped per column
            yield from kinds(diff)
        else:
            yield diff[0]


def main() -> None:
    before, after = sys.argv[1], sys.argv[2]
    metadata = MetaData()
    metadata.reflect(create_engine(after))
    for name in IGNORED & set(metadata.tables):
        metadata.remove(metadata.tables[name])
    with create_engine(before).connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, type_, parent: type_ != "table" or name not in IGNORED,
            },
        )
        print(json.dumps(sorted(set(kinds(compare_metadata(context, metadata))))))


if __name__ == "__main__":
    main()
