//! The quickstart: a declarative model, its table created by a `migrate`
//! revision (`examples/quickstart/migrations/`), then inserts, a query with
//! a filter, an order and a limit, an update, a delete, a commit and a
//! rollback through a session borrowed from a connection pool.
//!
//!     cargo run --example quickstart                       # SQLite, a file in the temp folder
//!     DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example quickstart
//!
//! `tests/orm/quickstart.rs` runs it on PostgreSQL, MariaDB and SQLite.

use migrate::command::{self, RunOptions};
use migrate::config::Config;
use migrate::db::DatabaseUrl;
use migrate::orm::prelude::*;
use std::error::Error;
use std::path::Path;

/// A user: the same struct describes the table to `migrate` and is what
/// the session reads and writes.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "users")]
pub struct User {
    /// 0 until inserted; then the key the database chose.
    #[model(primary_key, autoincrement)]
    pub id: i64,
    /// Unique.
    #[model(max_length = 255, unique)]
    pub email: String,
    /// Shown in lists.
    #[model(max_length = 100)]
    pub name: String,
    /// Points earned.
    #[model(default = "0")]
    pub karma: i32,
}

/// What the quickstart did, for its test to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Revisions the upgrade applied (none when the database was at head).
    pub applied: Vec<String>,
    /// Whether the migrated table matches the `User` model (`migrate check`).
    pub matches_model: bool,
    /// The query's rows: name and karma of the two users with most karma.
    pub top: Vec<(String, i32)>,
    /// Users (by name) after a transaction that added one was rolled back.
    pub after_rollback: Vec<String>,
    /// Users at the end: name and karma, by name.
    pub remaining: Vec<(String, i32)>,
}

fn user(email: &str, name: &str, karma: i32) -> User {
    User { email: email.into(), name: name.into(), karma, ..User::default() }
}

fn names(s: &mut Session) -> Result<Vec<String>, OrmError> {
    s.execute(&select(User::NAME).from(User::TABLE).order_by(User::NAME.asc()))
}

/// Runs the quickstart against the database at `url`.
pub fn run(url: &str) -> Result<Outcome, Box<dyn Error>> {
    // 1. The schema: apply the example's revisions, as `migrate upgrade head` would.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let database = Config::load(Some(&root.join("migrate.toml")), &root)?.database(None)?;
    let db_url = DatabaseUrl::parse(url)?;
    let report = command::upgrade(&db_url, &database, "head", &RunOptions::default(), &mut |_| {})?;
    let applied: Vec<String> = report.steps.iter().map(|step| step.revision.clone()).collect();
    println!("upgrade: applied {:?}, database at {:?}", applied, report.heads);
    // The revision made the table the model declares (`migrate.toml` points at this file).
    let matches_model = command::check(&db_url, &database)?.in_sync;
    println!("check: the table {} the User model", if matches_model { "matches" } else { "differs from" });

    // 2. A pool, and a session (a unit of work) borrowed from it.
    let pool = Pool::open(url, PoolOptions::default())?;
    // A second run starts from an empty table.
    exec::execute(&mut *pool.get()?, &delete_from(User::TABLE))?;
    let mut s = pool.session();

    // 3. Insert: added objects are written at commit, their keys filled in.
    let [ann, bob, eve] = [
        s.add(user("ann@example.com", "Ann", 12)),
        s.add(user("bob@example.com", "Bob", 3)),
        s.add(user("eve@example.com", "Eve", 20)),
    ];
    s.commit()?;
    println!("insert: Ann is #{}, Bob #{}, Eve #{}", s[ann].id, s[bob].id, s[eve].id);

    // 4. Query with a filter, an order and a limit.
    let found = s.query::<User>(|q| q.filter(User::KARMA.ge(5)).order_by(User::KARMA.desc()).limit(2))?;
    let top: Vec<(String, i32)> = found.iter().map(|&h| (s[h].name.clone(), s[h].karma)).collect();
    println!("query: karma >= 5, most first, 2 at most: {top:?}");

    // 5. Update: only the changed column is written, at commit.
    s[bob].karma += 10;
    s.commit()?;
    println!("update: Bob's karma is now {}", s[bob].karma);

    // 6. Delete.
    s.delete(eve)?;
    s.commit()?;
    println!("delete: Eve is gone");

    // 7. Rollback: what the transaction wrote is undone, and leaves the session.
    s.add(user("mallory@example.com", "Mallory", 0));
    s.flush()?;
    s.rollback()?;
    let after_rollback = names(&mut s)?;
    println!("rollback: Mallory was never committed; users are {after_rollback:?}");

    let remaining: Vec<(String, i32)> =
        s.execute(&select((User::NAME, User::KARMA)).from(User::TABLE).order_by(User::NAME.asc()))?;
    s.commit()?;
    println!("end: {remaining:?}");
    Ok(Outcome { applied, matches_model, top, after_rollback, remaining })
}

fn main() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        let path = std::env::temp_dir().join("migrate-quickstart.db");
        format!("sqlite://{}", path.display())
    });
    println!(
        "database: {}",
        DatabaseUrl::parse(&url).map(|u| u.to_string()).unwrap_or_else(|_| "(an invalid URL)".into())
    );
    if let Err(e) = run(&url) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
