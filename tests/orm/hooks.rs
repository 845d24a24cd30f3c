//! Model hooks, session events and the statement hook on every backend:
//! each fires once, in order; a hook's error rolls the flush back and
//! leaves the session usable; `before_flush` can add objects to the flush
//! it starts; the statement hook sees every statement, values redacted.

use crate::common::{TestDb, fresh_db};
use migrate::db::Backend;
use migrate::models::Model as _;
use migrate::orm::echo::{StatementEvent, StatementHook, StatementStart};
use migrate::orm::hooks::HookPoint;
use migrate::orm::prelude::*;
use migrate::orm::{Echo, Error, Pool, PoolOptions, Session, Stale};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

per_backend!(
    hooks_and_events_fire_once_in_order,
    a_hook_error_rolls_the_flush_back_and_the_session_stays_usable,
    the_statement_hook_sees_every_statement_with_values_redacted,
    a_before_flush_error_aborts_the_flush_before_any_write,
);

thread_local! {
    /// What the hooks and listeners of this test's thread did, in order.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn record(entry: String) {
    LOG.with(|log| log.borrow_mut().push(entry));
}

fn take_log() -> Vec<String> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "notes", hooks)]
pub struct Note {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub title: String,
    #[model(max_length = 100)]
    pub slug: String,
}

fn refuse(what: &str) -> HookError {
    HookError::new(format!("refused: {what}"))
}

impl Hooks for Note {
    fn before_insert(&mut self) -> HookResult {
        record(format!("before_insert {}", self.title));
        self.slug = self.title.replace(' ', "-");
        Ok(())
    }
    fn after_insert(&self) -> HookResult {
        record(format!("after_insert {} key set: {}", self.title, self.id > 0));
        if self.title == "refuse after insert" { Err(refuse(&self.title)) } else { Ok(()) }
    }
    fn before_update(&mut self) -> HookResult {
        record(format!("before_update {}", self.title));
        self.slug = self.title.replace(' ', "-");
        Ok(())
    }
    fn after_update(&self) -> HookResult {
        record(format!("after_update {}", self.title));
        Ok(())
    }
    fn before_delete(&self) -> HookResult {
        record(format!("before_delete {}", self.title));
        Ok(())
    }
    fn after_delete(&self) -> HookResult {
        record(format!("after_delete {}", self.title));
        Ok(())
    }
    fn on_load(&mut self) {
        record(format!("on_load {}", self.title));
    }
}

/// Written by a `before_flush` listener, once per flush.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "audits")]
pub struct Audit {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub what: String,
}

/// Records each event under its name; `audit`: adds an [`Audit`] in
/// `before_flush`.
struct Recorder {
    name: &'static str,
    audit: bool,
}

impl SessionEvents for Recorder {
    fn before_flush(&self, session: &mut Session) -> HookResult {
        record(format!("before_flush {}", self.name));
        if self.audit {
            session.add(Audit { id: 0, what: "flush".into() });
        }
        Ok(())
    }
    fn after_flush(&self, _session: &Session) {
        record(format!("after_flush {}", self.name));
    }
    fn after_commit(&self, _session: &Session) {
        record(format!("after_commit {}", self.name));
    }
    fn after_rollback(&self, _session: &Session) {
        record(format!("after_rollback {}", self.name));
    }
}

/// The pool's listener adds an audit row per flush; each session also has its own.
fn run(backend: Backend, name: &str, body: fn(&TestDb, &Pool)) {
    let Some(db) = fresh_db(backend, name) else { return };
    let mut options = PoolOptions::default();
    options.events.add(Recorder { name: "pool", audit: true });
    let pool = Pool::open(&db.url, options).unwrap();
    let mut conn = pool.get().unwrap();
    for table in [Note::table(), Audit::table()] {
        for sql in pool.dialect().create_table(&table) {
            conn.execute(&sql).unwrap();
        }
    }
    drop(conn);
    take_log();
    body(&db, &pool);
}

fn session(pool: &Pool) -> Session {
    let mut s = pool.session();
    s.listen(Recorder { name: "session", audit: false });
    s
}

fn count(s: &mut Session, table: &str) -> i64 {
    let rows: Vec<(i64,)> = s.execute(&text(format!("SELECT COUNT(*) FROM {table}"))).unwrap();
    rows[0].0
}

fn hooks_and_events_fire_once_in_order(_db: &TestDb, pool: &Pool) {
    let mut s = session(pool);
    let a = s.add(Note { title: "first note".into(), ..Note::default() });
    let b = s.add(Note { title: "second".into(), ..Note::default() });
    s.commit().unwrap();
    assert_eq!(
        take_log(),
        [
            "before_flush pool",
            "before_flush session",
            "before_insert first note",
            "before_insert second",
            "after_insert first note key set: true",
            "after_insert second key set: true",
            "after_flush pool",
            "after_flush session",
            "after_commit pool",
            "after_commit session",
        ]
    );
    assert_eq!(s[a].slug, "first-note", "before_insert changed its own row");
    // The audit before_flush added went in with the same flush.
    assert_eq!(count(&mut s, "audits"), 1);

    s[a].title = "first changed".into();
    s.delete(b).unwrap();
    s.commit().unwrap();
    assert_eq!(
        take_log(),
        [
            "before_flush pool",
            "before_flush session",
            "before_update first changed",
            "after_update first changed",
            "before_delete second",
            "after_delete second",
            "after_flush pool",
            "after_flush session",
            "after_commit pool",
            "after_commit session",
        ]
    );
    assert_eq!(count(&mut s, "audits"), 2);
    drop(s);
    take_log();

    // A new session reads the row: on_load, with what before_update wrote.
    let mut s = session(pool);
    let notes = s.query::<Note>(|q| q.order_by(Note::ID.asc())).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(s[notes[0]].slug, "first-changed");
    s.rollback().unwrap();
    // Reads begin no transaction, so that rollback undid nothing: no
    // after_rollback (it follows a real ROLLBACK, as in SQLAlchemy).
    assert_eq!(take_log(), ["on_load first changed"]);
    s.begin().unwrap();
    s.rollback().unwrap();
    assert_eq!(take_log(), ["after_rollback pool", "after_rollback session"]);
}

fn a_hook_error_rolls_the_flush_back_and_the_session_stays_usable(_db: &TestDb, pool: &Pool) {
    let mut s = session(pool);
    let kept = s.add(Note { title: "kept".into(), ..Note::default() });
    s.commit().unwrap();
    take_log();

    let refused = s.add(Note { title: "refuse after insert".into(), ..Note::default() });
    let error = s.commit().unwrap_err();
    let Error::Hook { model, hook, .. } = &error else { panic!("expected a hook's error, got {error:?}") };
    assert_eq!((*model, *hook), (Some("Note"), HookPoint::AfterInsert));
    assert_eq!(error.to_string(), "Note: after_insert refused: refused: refuse after insert");
    assert_eq!(
        take_log(),
        [
            "before_flush pool",
            "before_flush session",
            "before_insert refuse after insert",
            "after_insert refuse after insert key set: true",
            "after_rollback pool",
            "after_rollback session",
        ]
    );
    // Nothing of the flush stayed: neither the row nor the audit.
    assert_eq!(count(&mut s, "notes"), 1);
    assert_eq!(count(&mut s, "audits"), 1);
    assert!(matches!(s.try_get(refused), Err(Error::StaleHandle { reason: Stale::RolledBack, .. })));
    s.rollback().unwrap();

    // The session goes on.
    take_log();
    assert_eq!(s[kept].title, "kept");
    s.add(Note { title: "later".into(), ..Note::default() });
    s.commit().unwrap();
    assert_eq!(count(&mut s, "notes"), 2);
    assert_eq!(count(&mut s, "audits"), 2);
}

/// Records statements as the hook sees them, shared with the test.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl StatementHook for Statements {
    fn before_execute(&self, statement: &StatementStart<'_>) {
        let values = if statement.has_parameters { statement.parameters.unwrap_or("redacted") } else { "none" };
        self.0.lock().unwrap().push(format!("before {} [{values}]", statement.sql));
    }
    fn after_execute(&self, event: &StatementEvent<'_>) {
        let values = if event.has_parameters { event.parameters.unwrap_or("redacted") } else { "none" };
        self.0.lock().unwrap().push(format!("after {} [{values}] {}", event.sql, event.outcome.is_ok()));
    }
}

fn the_statement_hook_sees_every_statement_with_values_redacted(db: &TestDb, _pool: &Pool) {
    let statements = Statements::default();
    let echo = Echo::hook(statements.clone());
    let options = PoolOptions { echo: Some(echo), health_check: false, ..PoolOptions::default() };
    let pool = Pool::open(&db.url, options).unwrap();
    let mut s = pool.session();
    s.add(Note { title: "secret title".into(), ..Note::default() });
    s.add(Note { title: "another".into(), ..Note::default() });
    let before = s.statement_count();
    statements.0.lock().unwrap().clear();
    s.commit().unwrap();
    let sent = s.statement_count() - before;
    let seen = std::mem::take(&mut *statements.0.lock().unwrap());
    assert_eq!(seen.len(), 2 * sent, "a before and an after per statement: {seen:#?}");
    for pair in seen.chunks(2) {
        let sql = pair[0].strip_prefix("before ").unwrap();
        assert_eq!(pair[1], format!("after {sql} true"), "{seen:#?}");
    }
    assert!(seen.iter().all(|l| !l.contains("secret")), "values are redacted: {seen:#?}");
    let inserts: Vec<&String> = seen.iter().filter(|l| l.starts_with("before INSERT")).collect();
    assert_eq!(inserts.len(), 1, "the two notes in one batch: {seen:#?}");
    assert!(inserts.iter().all(|l| l.ends_with("[redacted]")), "{seen:#?}");
    assert!(seen.last().unwrap().starts_with("after COMMIT"), "{seen:#?}");
}

/// Refuses every flush.
struct Guard;

impl SessionEvents for Guard {
    fn before_flush(&self, _session: &mut Session) -> HookResult {
        record("before_flush guard".into());
        Err(HookError::new("flushes are closed"))
    }
}

fn a_before_flush_error_aborts_the_flush_before_any_write(_db: &TestDb, pool: &Pool) {
    let mut s = pool.session();
    s.listen(Guard);
    let note = s.add(Note { title: "held".into(), ..Note::default() });
    let error = s.commit().unwrap_err();
    let Error::Hook { model, hook, .. } = &error else { panic!("expected a hook's error, got {error:?}") };
    assert_eq!((*model, *hook), (None, HookPoint::BeforeFlush));
    assert_eq!(error.to_string(), "before_flush refused: flushes are closed");
    // The pool's listener ran first, then the guard; no model hook, nothing written.
    assert_eq!(take_log(), ["before_flush pool", "before_flush guard"]);
    // The objects are still pending; a rollback drops them and the session goes on.
    assert_eq!(s[note].title, "held");
    s.rollback().unwrap();
    assert!(matches!(s.try_get(note), Err(Error::StaleHandle { reason: Stale::RolledBack, .. })));
    assert_eq!(count(&mut s, "notes"), 0);
    assert_eq!(count(&mut s, "audits"), 0);
}
