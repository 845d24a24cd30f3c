"""Baseline for benches/orm.rs: SQLAlchemy 2.x ORM on the same tables and data.

Started once per database by the Rust benchmark, which seeds the data and then
drives this process over stdin, one workload at a time, interleaved with its own
variants. Each request is a line `WORKLOAD ITERATIONS`; the answer is one JSON
line {"wall": s, "cpu": s, "statements": n, "rows": n} for all iterations
together, timed inside Python (interpreter start-up and imports excluded).
`cpu` is this thread's CPU time (the driver's too: psycopg2, PyMySQL and
sqlite3 run in it). `statements` counts cursor executions (an executemany is
one, as SQLAlchemy hands it to the driver). A line `quit` ends the process.

Usage: python orm_compare.py SQLALCHEMY_URL

To add a workload: write a function
`workload_NAME(engine, iteration)` returning the number of rows or objects it
produced, and the Rust side's entry with the same NAME.
"""
import json
import sys
import time

from sqlalchemy import BigInteger, Boolean, Column, Double, ForeignKey, Integer, String, Table, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255))
    age: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Double)
    active: Mapped[bool] = mapped_column(Boolean)
    posts: Mapped[list["Post"]] = relationship(back_populates="user", lazy="raise")


post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", BigInteger, ForeignKey("posts.id"), primary_key=True),
    Column("tag_id", BigInteger, ForeignKey("tags.id"), primary_key=True),
)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50))


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    views: Mapped[int] = mapped_column(Integer)
    user: Mapped[User] = relationship(back_populates="posts", lazy="raise")
    comments: Mapped[list["Comment"]] = relationship(back_populates="post", lazy="raise")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, lazy="raise")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id"))
    body: Mapped[str] = mapped_column(String(200))
    post: Mapped[Post] = relationship(back_populates="comments", lazy="raise")


class FreshUser(Base):
    """The table the insert workload fills (emptied by the benchmark between runs)."""

    __tablename__ = "fresh_users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255))
    age: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Double)
    active: Mapped[bool] = mapped_column(Boolean)


def load(engine, n):
    with Session(engine) as s:
        return len(s.scalars(select(User).order_by(User.id).limit(n)).all())


def workload_load_1(engine, _i):
    return load(engine, 1)


def workload_load_100(engine, _i):
    return load(engine, 100)


def workload_load_10000(engine, _i):
    return load(engine, 10000)


def workload_join(engine, _i):
    with Session(engine) as s:
        query = select(Post).join(User, User.id == Post.user_id).where(User.age < 30).order_by(Post.id)
        return len(s.scalars(query).all())


def workload_nested_100x10x10(engine, _i):
    """Issue 12's nested loading: 100 users, their posts, the posts' comments."""
    with Session(engine) as s:
        query = select(User).order_by(User.id).limit(100).options(selectinload(User.posts).selectinload(Post.comments))
        users = s.scalars(query).all()
        return sum(1 + sum(1 + len(p.comments) for p in u.posts) for u in users)


def workload_tags_100x10(engine, _i):
    """Issue 12's many-to-many loading: 100 users, their posts, the posts' tags."""
    with Session(engine) as s:
        query = select(User).order_by(User.id).limit(100).options(selectinload(User.posts).selectinload(Post.tags))
        users = s.scalars(query).all()
        return sum(1 + sum(1 + len(p.tags) for p in u.posts) for u in users)


def workload_get_10000(engine, _i):
    with Session(engine) as s:
        found = 0
        for key in range(1, 10001):
            if s.get(User, key) is not None:
                found += 1
        return found


def workload_insert_10000(engine, _i):
    with Session(engine) as s:
        s.add_all(
            FreshUser(name=f"new {k}", email=f"new{k}@example.com", age=k % 80, score=k * 0.5, active=k % 2 == 0)
            for k in range(10000)
        )
        s.commit()
        return 10000


def workload_update_1000(engine, _i):
    with Session(engine) as s:
        users = s.scalars(select(User).order_by(User.id).limit(1000)).all()
        for u in users:
            u.score = u.score + 1.0
        s.commit()
        return len(users)


def main() -> None:
    engine = create_engine(sys.argv[1])
    statements = 0

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_args, **_kwargs):
        nonlocal statements
        statements += 1

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        work = globals().get(f"workload_{words[0]}")
        if work is None:
            print(json.dumps({"error": f"no workload {words[0]}"}), flush=True)
            continue
        iterations = int(words[1])
        statements = 0
        rows = 0
        cpu = time.thread_time()
        wall = time.perf_counter()
        for i in range(iterations):
            rows += work(engine, i)
        wall = time.perf_counter() - wall
        cpu = time.thread_time() - cpu
        print(json.dumps({"wall": wall, "cpu": cpu, "statements": statements, "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
