//! The session's flush: inserts batched per table with generated keys
//! filled in, rows ordered by their foreign keys, expiry, rollback of
//! deletes and optimistic concurrency, on every backend.

use crate::common::{TestDb, each_backend};
use migrate::models::Model as _;
use migrate::orm::echo::StatementEvent;
use migrate::orm::query::text;
use migrate::orm::{Echo, Pool, PoolOptions, Session};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "members")]
pub struct Member {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub email: String,
    pub score: Option<i32>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "badges")]
pub struct Badge {
    #[model(primary_key, references = "members.id")]
    pub member_id: i64,
    #[model(primary_key)]
    pub n: i16,
    #[model(max_length = 50)]
    pub label: String,
}

/// Echoed statement lines, shared with the pool's echo.
type Lines = Arc<Mutex<Vec<String>>>;

/// A pool on `db` whose echo (values shown if `show`) goes into the lines.
fn echo_pool(db: &TestDb, show: bool) -> (Pool, Lines) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()))
        .show_parameters(show);
    let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..PoolOptions::default() }).unwrap();
    (pool, lines)
}

/// Creates `tables` with the pool's dialect.
fn create(pool: &Pool, tables: &[migrate::schema::Table]) {
    let mut conn = pool.get().unwrap();
    for table in tables {
        for sql in pool.dialect().create_table(table) {
            conn.execute(&sql).unwrap();
        }
    }
}

/// The echoed statements that begin with `prefix`.
fn sent(lines: &Lines, prefix: &str) -> Vec<String> {
    lines.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).cloned().collect()
}

/// Member ids by email, as the database holds them.
fn member_ids(s: &mut Session) -> HashMap<String, i64> {
    let rows: Vec<(i64, String)> = s.execute(&text("SELECT id, email FROM members")).unwrap();
    rows.into_iter().map(|(id, email)| (email, id)).collect()
}

#[test]
fn flush_batches_inserts_per_table_and_fills_generated_keys() {
    each_backend("flush_batches", |db| {
        let (pool, lines) = echo_pool(db, false);
        create(&pool, &[Member::table(), Badge::table()]);
        let mut s = pool.session();
        // A row already there, so generated keys do not start at 1.
        s.add(Member { email: "first@x.io".into(), ..Member::default() });
        s.commit().unwrap();
        lines.lock().unwrap().clear();
        // Interleaved NULLs and values: every column's type must survive.
        let members: Vec<_> = (0..120)
            .map(|i| Member {
                email: format!("m{i:03}@x.io"),
                score: (i % 3 != 0).then_some(i),
                note: (i % 2 == 0).then(|| format!("note {i}")),
                ..Member::default()
            })
            .collect();
        let handles = s.add_all(members);
        s.flush().unwrap();
        let inserts = sent(&lines, "INSERT");
        assert_eq!(inserts.len(), 1, "one INSERT for 120 rows: {inserts:?}");
        let ids = member_ids(&mut s);
        assert_eq!(ids.len(), 121);
        for (i, &h) in handles.iter().enumerate() {
            let member = &s[h];
            assert_eq!(member.email, format!("m{i:03}@x.io"));
            assert_eq!(ids[&member.email], member.id, "{}: the key of its own row", member.email);
        }

        // Explicit keys: a plain multi-row insert, one per table.
        lines.lock().unwrap().clear();
        let badges: Vec<Badge> = handles
            .iter()
            .take(30)
            .flat_map(|&h| (1..=2).map(move |n| (h, n)))
            .map(|(h, n)| Badge { member_id: s[h].id, n, label: format!("badge {n}") })
            .collect();
        s.add_all(badges);
        let more = s.add(Member { email: "late@x.io".into(), ..Member::default() });
        s.commit().unwrap();
        let inserts = sent(&lines, "INSERT");
        assert_eq!(inserts.len(), 2, "one INSERT per table: {inserts:?}");
        assert!(inserts[0].contains("members") && inserts[1].contains("badges"), "parents first: {inserts:?}");
        assert_eq!(member_ids(&mut s)["late@x.io"], s[more].id);
        let count: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM badges")).unwrap();
        assert_eq!(count[0].0, 60);
    });
}
