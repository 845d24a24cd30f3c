//! Transactions, savepoints, the pool, typed errors and echo, on every backend.

use crate::common::{TestDb, each_backend};
use migrate::db::{Backend, Connection};
use migrate::dialect::{Dialect, IsolationLevel, TransactionOptions};
use migrate::orm::echo::StatementEvent;
use migrate::orm::{Echo, Error, Pool, PoolOptions, StatementKind, Transaction, transaction};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    value: Option<String>,
}

/// A table with one constraint of each kind, named alike on every backend.
const ITEMS: &str = "CREATE TABLE items (
    id INTEGER NOT NULL PRIMARY KEY,
    email VARCHAR(50) NOT NULL,
    parent_id INTEGER,
    n INTEGER,
    CONSTRAINT uq_items_email UNIQUE (email),
    CONSTRAINT fk_items_parent FOREIGN KEY (parent_id) REFERENCES items (id),
    CONSTRAINT ck_items_n CHECK (n >= 0)
)";

fn pool(db: &TestDb, options: PoolOptions) -> Pool {
    let pool = Pool::open(&db.url, options).unwrap();
    pool.get().unwrap().execute(ITEMS).unwrap();
    pool
}

fn insert(conn: &mut Connection, id: i32) {
    conn.execute(&format!("INSERT INTO items (id, email) VALUES ({id}, 'user{id}@x.io')")).unwrap();
}

/// The ids in `items`, in order, as another connection sees them.
fn ids(pool: &Pool) -> Vec<String> {
    let query = migrate::orm::query::text("SELECT id FROM items ORDER BY id");
    let rows: Vec<i64> = migrate::orm::exec::fetch(&mut pool.get().unwrap(), &query).unwrap();
    rows.into_iter().map(|id| id.to_string()).collect()
}

#[test]
fn savepoints_roll_back_only_their_work() {
    each_backend("savepoints", |db| {
        let pool = pool(db, PoolOptions::default());
        let mut conn = pool.get().unwrap();
        let mut tx = conn.transaction(&TransactionOptions::default()).unwrap();
        insert(&mut tx, 1);
        let mut kept = tx.nested().unwrap();
        assert_eq!(kept.depth(), 2);
        insert(&mut kept, 2);
        let mut dropped = kept.nested().unwrap();
        insert(&mut dropped, 3);
        dropped.rollback().unwrap();
        kept.commit().unwrap();
        let mut dropped_by_drop = tx.nested().unwrap();
        insert(&mut dropped_by_drop, 4);
        drop(dropped_by_drop);
        insert(&mut tx, 5);
        assert!(ids(&pool).is_empty(), "nothing is visible before the commit");
        tx.commit().unwrap();
        assert_eq!(ids(&pool), ["1", "2", "5"]);
        assert_eq!(conn.transaction_state().depth, 0);
    });
}

#[test]
fn transactions_roll_back_when_dropped_and_refuse_misuse() {
    each_backend("tx_drop", |db| {
        let pool = pool(db, PoolOptions::default());
        let mut conn = pool.get().unwrap();
        let mut tx = conn.transaction(&TransactionOptions::default()).unwrap();
        insert(&mut tx, 1);
        drop(tx);
        assert!(ids(&pool).is_empty());
        let dialect = pool.dialect();
        assert!(matches!(transaction::commit(&mut conn, dialect), Err(Error::NoTransaction)));
        assert!(matches!(transaction::begin_nested(&mut conn, dialect), Err(Error::NoTransaction)));
        transaction::begin(&mut conn, dialect, &TransactionOptions::default()).unwrap();
        let again = transaction::begin(&mut conn, dialect, &TransactionOptions::default());
        assert!(matches!(again, Err(Error::TransactionOpen)));
        transaction::rollback(&mut conn, dialect).unwrap();
    });
}

#[test]
fn isolation_levels_are_set_per_transaction() {
    each_backend("isolation", |db| {
        let pool = pool(db, PoolOptions::default());
        let mut conn = pool.get().unwrap();
        for (level, postgres_name) in [
            (IsolationLevel::ReadCommitted, "read committed"),
            (IsolationLevel::RepeatableRead, "repeatable read"),
            (IsolationLevel::Serializable, "serializable"),
        ] {
            let mut tx = conn.transaction(&TransactionOptions::isolation(level)).unwrap();
            if db.backend() == Backend::Postgres {
                let rows: Vec<TextRow> = tx.load("SELECT current_setting('transaction_isolation') AS value").unwrap();
                assert_eq!(rows[0].value.as_deref(), Some(postgres_name));
            }
            insert(&mut tx, level as i32 + 1);
            tx.commit().unwrap();
        }
        assert_eq!(ids(&pool).len(), 3);
    });
}

#[test]
fn read_only_transactions_refuse_writes() {
    each_backend("read_only", |db| {
        if db.backend() == Backend::Sqlite {
            return; // SQLite has no read-only transactions (docs/orm.md)
        }
        let pool = pool(db, PoolOptions::default());
        let mut conn = pool.get().unwrap();
        let dialect = pool.dialect();
        let mut tx = Transaction::begin(&mut conn, dialect, &TransactionOptions::read_only()).unwrap();
        let error = tx.execute("INSERT INTO items (id, email) VALUES (1, 'a')").unwrap_err();
        let error = Error::from_db(dialect, StatementKind::Insert, Some("items"), error);
        assert!(matches!(error, Error::ReadOnlyTransaction { statement: StatementKind::Insert }), "{error:?}");
    });
}

/// Runs `sql` and classifies its failure as an insert into `items`.
fn failure(conn: &mut Connection, dialect: &dyn Dialect, sql: &str) -> Error {
    let error = conn.execute(sql).expect_err(sql);
    Error::from_db(dialect, StatementKind::Insert, Some("items"), error)
}

#[test]
fn database_errors_are_typed_and_name_no_values() {
    each_backend("typed_errors", |db| {
        let pool = pool(db, PoolOptions::default());
        let dialect = pool.dialect();
        let mut conn = pool.get().unwrap();
        conn.execute("INSERT INTO items (id, email) VALUES (1, 'secret@x.io')").unwrap();

        let unique = failure(&mut conn, dialect, "INSERT INTO items (id, email) VALUES (2, 'secret@x.io')");
        let Error::UniqueViolation(violation) = &unique else { panic!("{unique:?}") };
        assert_eq!(violation.table.as_deref(), Some("items"));
        assert_eq!(violation.statement, StatementKind::Insert);
        match db.backend() {
            // SQLite names the columns, not the constraint.
            Backend::Sqlite => assert_eq!(violation.columns, ["email"]),
            _ => assert_eq!(violation.constraint.as_deref(), Some("uq_items_email")),
        }
        assert!(!unique.to_string().contains("secret"), "{unique}");

        let pk = failure(&mut conn, dialect, "INSERT INTO items (id, email) VALUES (1, 'other@x.io')");
        assert!(matches!(pk, Error::UniqueViolation(_)), "{pk:?}");

        let fk = failure(&mut conn, dialect, "INSERT INTO items (id, email, parent_id) VALUES (3, 'c@x.io', 99)");
        let Error::ForeignKeyViolation(violation) = &fk else { panic!("{fk:?}") };
        assert_eq!(violation.table.as_deref(), Some("items"));
        if db.backend() != Backend::Sqlite {
            assert_eq!(violation.constraint.as_deref(), Some("fk_items_parent"));
        }

        let not_null = failure(&mut conn, dialect, "INSERT INTO items (id, email) VALUES (4, NULL)");
        let Error::NotNullViolation(violation) = &not_null else { panic!("{not_null:?}") };
        assert_eq!(violation.columns, ["email"]);

        let check = failure(&mut conn, dialect, "INSERT INTO items (id, email, n) VALUES (5, 'e@x.io', -7)");
        let Error::CheckViolation(violation) = &check else { panic!("{check:?}") };
        assert_eq!(violation.constraint.as_deref(), Some("ck_items_n"));
        assert!(!check.to_string().contains("-7"), "{check}");

        let error = conn.execute("SELECT * FROM missing_table").unwrap_err();
        let missing = Error::from_db(dialect, StatementKind::Select, Some("missing_table"), error);
        let Error::UndefinedTable { table, statement } = &missing else { panic!("{missing:?}") };
        assert_eq!((table.as_str(), *statement), ("missing_table", StatementKind::Select));
        assert!(missing.hint().is_some_and(|h| h.contains("migrate upgrade")));

        // SQLite stores the text; the others refuse it, quoting it.
        if db.backend() != Backend::Sqlite {
            let bad_value = failure(&mut conn, dialect, "INSERT INTO items (id, email, n) VALUES (6, 'f', 'secret-n')");
            assert!(matches!(bad_value, Error::Database { .. }), "{bad_value:?}");
            assert!(!bad_value.to_string().contains("secret"), "{bad_value}");
        }
    });
}

#[test]
fn pool_exhaustion_times_out_with_a_typed_error() {
    each_backend("pool_timeout", |db| {
        let options =
            PoolOptions { max_size: 1, connection_timeout: Duration::from_millis(200), ..PoolOptions::default() };
        let pool = pool(db, options);
        let held = pool.get().unwrap();
        let error = pool.get().err().expect("the only connection is held");
        assert!(matches!(error, Error::PoolTimeout { size: 1, .. }), "{error:?}");
        assert!(error.to_string().contains("no free connection in the pool (size 1)"), "{error}");
        drop(held);
        pool.get().unwrap();
    });
}

#[test]
fn pool_rolls_back_open_transactions_and_discards_broken_connections() {
    each_backend("pool_return", |db| {
        let pool = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
        let dialect = pool.dialect();
        let mut conn = pool.get().unwrap();
        transaction::begin(&mut conn, dialect, &TransactionOptions::default()).unwrap();
        insert(&mut conn, 1);
        drop(conn);
        let conn = pool.get().unwrap();
        assert_eq!(conn.transaction_state().depth, 0, "rolled back when given back");
        drop(conn);
        assert!(ids(&pool).is_empty());

        let mut conn = pool.get().unwrap();
        let before = conn.statement_count();
        assert!(conn.control_transaction(&["NOT A STATEMENT".into()], 1).is_err());
        assert!(conn.transaction_state().broken);
        drop(conn);
        let conn = pool.get().unwrap();
        assert!(!conn.transaction_state().broken);
        assert!(conn.statement_count() < before + 1, "a new connection, not the broken one");
    });
}

#[test]
fn eight_threads_share_one_pool() {
    each_backend("eight_threads", |db| {
        let pool = pool(db, PoolOptions { max_size: 4, ..PoolOptions::default() });
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let pool = pool.clone();
                scope.spawn(move || {
                    for i in 0..5 {
                        let mut conn = pool.get().unwrap();
                        let mut tx = conn.transaction(&TransactionOptions::default()).unwrap();
                        insert(&mut tx, thread * 100 + i);
                        tx.commit().unwrap();
                    }
                });
            }
        });
        assert_eq!(ids(&pool).len(), 40);
        assert!(pool.state().connections <= 4);
    });
}

#[test]
fn echo_reports_transaction_statements() {
    each_backend("echo_tx", |db| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()));
        let pool = pool(db, PoolOptions { echo: Some(echo), ..PoolOptions::default() });
        let mut conn = pool.get().unwrap();
        lines.lock().unwrap().clear();
        let mut tx = conn.transaction(&TransactionOptions::isolation(IsolationLevel::Serializable)).unwrap();
        tx.nested().unwrap().rollback().unwrap();
        tx.commit().unwrap();
        let lines = lines.lock().unwrap();
        let dialect = pool.dialect();
        let mut expected = dialect.begin_transaction(&TransactionOptions::isolation(IsolationLevel::Serializable));
        expected.extend([
            dialect.savepoint(2),
            dialect.rollback_to_savepoint(2),
            dialect.release_savepoint(2),
            dialect.commit().to_string(),
        ]);
        let sent: Vec<&str> = lines.iter().map(|l| l.split(" -- ").next().unwrap_or_default()).collect();
        assert_eq!(sent, expected);
        assert!(lines.iter().all(|l| l.ends_with(" ms")), "{lines:?}");
    });
}

// The session.

use migrate::models::Model as _;
use migrate::orm::query::text;

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "customers")]
pub struct Customer {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub email: String,
    #[model(max_length = 100)]
    pub name: String,
    #[model(references = "customers.id")]
    pub referred_by: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "order_lines")]
pub struct OrderLine {
    #[model(primary_key, references = "customers.id")]
    pub customer_id: i64,
    #[model(primary_key)]
    pub line_no: i16,
    pub quantity: i32,
}

/// A pool on `db` with the session tables, echoing into the returned lines.
fn session_pool(db: &TestDb, options: PoolOptions) -> (Pool, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()));
    let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..options }).unwrap();
    let mut conn = pool.get().unwrap();
    for table in [Customer::table(), OrderLine::table()] {
        for sql in pool.dialect().create_table(&table) {
            conn.execute(&sql).unwrap();
        }
    }
    drop(conn);
    lines.lock().unwrap().clear();
    (pool, lines)
}

fn customer(email: &str) -> Customer {
    Customer { email: email.into(), name: "Ann".into(), ..Customer::default() }
}

fn customer_count(s: &mut migrate::orm::Session) -> i64 {
    let rows: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM customers")).unwrap();
    rows[0].0
}

#[test]
fn session_identity_map_and_changed_columns_only() {
    each_backend("session_identity", |db| {
        let (pool, lines) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        let ann = s.add(customer("ann@x.io"));
        s.flush().unwrap();
        let id = s[ann].id;
        assert!(id > 0, "the generated key is filled in");
        let sent = s.statement_count();
        assert_eq!(s.get::<Customer>(&id).unwrap(), Some(ann), "the same object");
        assert_eq!(s.statement_count(), sent, "an identity-map hit sends nothing");
        let line = s.add(OrderLine { customer_id: id, line_no: 2, quantity: 1 });
        s.commit().unwrap();
        assert_eq!(s.get::<OrderLine>(&(id, 2)).unwrap(), Some(line), "composite keys too");

        lines.lock().unwrap().clear();
        s[ann].name = "Ann B.".into();
        s.commit().unwrap();
        let lines = lines.lock().unwrap();
        let update = lines.iter().find(|l| l.starts_with("UPDATE")).expect("an update was sent");
        let quote = |c: &str| pool.dialect().quote_identifier(c);
        assert!(update.contains(&quote("name")), "{update}");
        assert!(!update.contains(&quote("email")) && !update.contains(&quote("referred_by")), "{update}");
        assert!(!update.contains("Ann B."), "values are redacted: {update}");
        drop(lines);

        let mut other = pool.session();
        let read = other.get::<Customer>(&id).unwrap().unwrap();
        assert_eq!(other[read].name, "Ann B.");
        assert_eq!(other.get::<Customer>(&(id + 100)).unwrap(), None);
    });
}

#[test]
fn session_autoflushes_before_queries_unless_told_not_to() {
    each_backend("session_autoflush", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        s.add(customer("a@x.io"));
        let before = s.no_autoflush(customer_count);
        assert_eq!(before, 0);
        assert_eq!(customer_count(&mut s), 1, "flushed before the query");
        s.rollback().unwrap();
        assert_eq!(customer_count(&mut s), 0);
    });
}

#[test]
fn session_savepoint_rollback_removes_what_was_added_inside() {
    each_backend("session_savepoint", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        let kept = s.add(customer("kept@x.io"));
        s.flush().unwrap();
        let mut sp = s.begin_nested().unwrap();
        let gone = sp.add(customer("gone@x.io"));
        sp.flush().unwrap();
        sp.rollback().unwrap();
        let error = s.try_get(gone).unwrap_err();
        assert!(
            matches!(error, Error::StaleHandle { model: "Customer", reason: migrate::orm::Stale::RolledBack }),
            "added inside the savepoint: left the session ({error})"
        );
        assert!(s.try_get(kept).is_ok());
        let mut sp = s.begin_nested().unwrap();
        let released = sp.add(customer("released@x.io"));
        sp.commit().unwrap();
        s.commit().unwrap();
        assert!(s.try_get(released).is_ok());
        assert_eq!(customer_count(&mut s), 2);
    });
}

#[test]
fn session_failed_flush_rolls_back_and_stays_usable() {
    each_backend("session_failed_flush", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        s.add(customer("taken@x.io"));
        s.commit().unwrap();
        let first = s.add(customer("first@x.io"));
        s.add(customer("taken@x.io"));
        let error = s.flush().unwrap_err();
        assert!(matches!(error, Error::UniqueViolation(_)), "{error:?}");
        assert!(!error.to_string().contains("taken@x.io"), "{error}");
        assert!(s.try_get(first).is_err(), "the rolled-back transaction's objects left the session");
        s.add(customer("after@x.io"));
        s.commit().unwrap();
        assert_eq!(customer_count(&mut s), 2);
    });
}

#[test]
fn session_dropped_with_an_open_transaction_rolls_back() {
    each_backend("session_drop", |db| {
        let (pool, _) = session_pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
        let mut s = pool.session();
        let ann = s.add(customer("ann@x.io"));
        s.flush().unwrap();
        s.delete(ann).unwrap();
        drop(s);
        let mut s = pool.session();
        assert_eq!(customer_count(&mut s), 0);
    });
}

#[test]
fn session_pool_exhaustion_and_eight_threads() {
    each_backend("session_threads", |db| {
        let options =
            PoolOptions { max_size: 4, connection_timeout: Duration::from_secs(20), ..PoolOptions::default() };
        let (pool, _) = session_pool(db, options);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let pool = pool.clone();
                scope.spawn(move || {
                    let mut s = pool.session();
                    for i in 0..5 {
                        s.add(customer(&format!("t{thread}-{i}@x.io")));
                    }
                    s.commit().unwrap();
                });
            }
        });
        let mut s = pool.session();
        assert_eq!(customer_count(&mut s), 40);
        s.rollback().unwrap();

        let small = Pool::open(
            &db.url,
            PoolOptions { max_size: 1, connection_timeout: Duration::from_millis(200), ..PoolOptions::default() },
        )
        .unwrap();
        let mut holder = small.session();
        customer_count(&mut holder);
        let mut waiting = small.session();
        let error = waiting.get::<Customer>(&1).unwrap_err();
        assert!(matches!(error, Error::PoolTimeout { size: 1, .. }), "{error:?}");
    });
}

#[test]
fn session_flush_follows_foreign_keys() {
    each_backend("session_fk_order", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        // Children first: the flush must still insert the parent first...
        let line = s.add(OrderLine { customer_id: 50, line_no: 1, quantity: 3 });
        let parent = s.add(Customer { id: 50, ..customer("parent@x.io") });
        s.commit().unwrap();
        // ...and delete the children before it.
        s.delete(parent).unwrap();
        s.delete(line).unwrap();
        s.commit().unwrap();
        assert_eq!(customer_count(&mut s), 0);
    });
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "eggs")]
pub struct Egg {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "hens.id")]
    pub hen_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "hens")]
pub struct Hen {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "eggs.id")]
    pub egg_id: i64,
}

#[test]
fn session_flush_reports_foreign_key_cycles() {
    each_backend("session_cycle", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        s.add(Egg { id: 1, hen_id: 1 });
        s.add(Hen { id: 1, egg_id: 1 });
        let error = s.flush().unwrap_err();
        let Error::ForeignKeyCycle { tables } = &error else { panic!("{error:?}") };
        assert_eq!(tables, &["eggs", "hens"]);
        assert!(error.to_string().contains("eggs, hens form a cycle"), "{error}");
    });
}

#[test]
fn session_query_returns_the_sessions_objects() {
    use migrate::orm::prelude::Expression as _;
    each_backend("session_query", |db| {
        let (pool, _) = session_pool(db, PoolOptions::default());
        let mut s = pool.session();
        let ann = s.add(customer("ann@x.io"));
        s.add(customer("bob@x.io"));
        s.add(customer("cy@y.io"));
        s.commit().unwrap();
        s[ann].name = "changed, not flushed".into();
        let found = s
            .no_autoflush(|s| {
                s.query::<Customer>(|q| q.filter(Customer::EMAIL.like("%@x.io")).order_by(Customer::ID.desc()))
            })
            .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1], ann, "the session's own object");
        assert_eq!(s[found[1]].name, "changed, not flushed");
        assert_eq!(s[found[0]].email, "bob@x.io");
        let sent = s.statement_count();
        let bob_id = s[found[0]].id;
        assert_eq!(s.get::<Customer>(&bob_id).unwrap(), Some(found[0]));
        assert_eq!(s.statement_count(), sent, "bob is in the identity map now");
    });
}

#[test]
fn echo_shows_values_only_when_asked() {
    each_backend("echo_values", |db| {
        for show in [false, true] {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&lines);
            let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()))
                .show_parameters(show);
            let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..PoolOptions::default() }).unwrap();
            let mut conn = pool.get().unwrap();
            if !show {
                conn.execute(&ITEMS.replace("items", "echo_items")).unwrap();
                conn.execute("INSERT INTO echo_items (id, email) VALUES (1, 'v@x.io')").unwrap();
            }
            let duplicate = format!("INSERT INTO echo_items (id, email) VALUES ({}, 'v@x.io')", 2 + show as i32);
            assert!(conn.execute(&duplicate).is_err(), "a duplicate email");
            let lines = lines.lock().unwrap();
            let failed = lines.iter().rfind(|l| l.contains(", failed: ")).expect("the failure was echoed");
            let tail = failed.split(", failed: ").nth(1).unwrap_or_default();
            assert_eq!(tail.contains("v@x.io"), show && db.backend() == Backend::Mysql, "{failed}");
        }
    });
}
