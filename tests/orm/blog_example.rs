//! `examples/blog.rs`, run on every backend: its revisions create the
//! tables, and the eager query loads users, posts and tags in 3 statements.

use crate::common::fresh_db;
use migrate::db::Backend;

#[path = "../../examples/blog.rs"]
#[allow(dead_code)] // its `main` runs only as the example
mod blog;

fn example(backend: Backend) {
    let Some(db) = fresh_db(backend, "blog_example") else { return };
    let report = blog::run(&db.url).unwrap();
    assert_eq!(
        report.lines,
        [
            "3 users",
            "ann: ann #0 [rust]; ann #1 [rust, sql]; ann #2 [orm, rust, sql]",
            "bob: bob #0 [rust, sql]; bob #1 [orm, rust, sql]; bob #2 [rust]",
            "cid: cid #0 [orm, rust, sql]; cid #1 [rust]; cid #2 [rust, sql]",
        ]
    );
    assert_eq!(report.statements, 3, "users, their posts, the posts' tags");
}

#[test]
fn blog_example_sqlite() {
    example(Backend::Sqlite);
}

#[test]
fn blog_example_postgres() {
    example(Backend::Postgres);
}

#[test]
fn blog_example_mysql() {
    example(Backend::Mysql);
}
