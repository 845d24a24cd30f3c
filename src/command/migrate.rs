//! `upgrade`, `downgrade` (online and offline), `current` and `stamp`.

use super::autogen::{validate_run, validate_steps};
use crate::Error;
use crate::config::DatabaseConfig;
use crate::db::{Connection, DatabaseUrl, DbError, OpenMode};
use crate::dialect::{self, Dialect};
use crate::runtime::checksum::checksum;
use crate::runtime::{
    Bookkeeping, Event, HistoryEntry, Resume, Run, RunLock, RunReport, RuntimeError, offline_sql, render_plan,
};
use crate::schema::Schema;
use crate::script::{Direction, Script, parse_range};
use serde::Serialize;
use std::time::Duration;

/// The revision scripts of a database's `script_location`.
pub fn load_script(database: &DatabaseConfig) -> Result<Script, Error> {
    Ok(Script::load(&database.version_paths)?)
}

/// A read-only connection, or `None` for an SQLite file that does not
/// exist yet (an empty database, at base).
pub(super) fn open_existing(url: &DatabaseUrl) -> Result<Option<Connection>, Error> {
    match Connection::open(url, OpenMode::ReadOnly) {
        Ok(conn) => Ok(Some(conn)),
        Err(DbError::MissingSqliteFile { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A connection with the run lock held and the tool's tables in place (a
/// migration run's; the ORM's unit of work is `orm::Session`).
struct Locked {
    conn: Connection,
    dialect: Box<dyn Dialect>,
    book: Bookkeeping,
    lock: RunLock,
}

impl Locked {
    fn open(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Locked, Error> {
        let mut conn = Connection::open(url, OpenMode::ReadWrite)?;
        let dialect = dialect::for_backend(url.backend());
        for statement in dialect.session_setup() {
            conn.execute(&statement)?;
        }
        let book = Bookkeeping::new(&database.version_table);
        let timeout = Duration::from_secs_f64(database.lock_timeout.max(0.0));
        let lock = RunLock::acquire(&mut conn, dialect.as_ref(), &database.version_table, timeout)?;
        Ok(Locked { conn, dialect, book, lock })
    }

    /// Creates the version and history tables where missing: just before
    /// the first change, so that a run that changes nothing leaves nothing.
    fn create_bookkeeping(&mut self) -> Result<(), Error> {
        for statement in self.book.create_missing(&mut self.conn, self.dialect.as_ref())? {
            self.conn.execute(&statement)?;
        }
        Ok(())
    }

    fn close(self) -> Result<(), Error> {
        let Locked { mut conn, lock, .. } = self;
        Ok(lock.release(&mut conn)?)
    }

    /// Runs `body` and gives the lock back whatever happens.
    fn with<T>(mut self, body: impl FnOnce(&mut Locked) -> Result<T, Error>) -> Result<T, Error> {
        let result = body(&mut self);
        let closed = self.close();
        let value = result?;
        closed?;
        Ok(value)
    }
}

/// How to run `upgrade`/`downgrade`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Finish a partly applied revision first (MySQL).
    pub resume: bool,
    /// One transaction for the whole run (PostgreSQL, SQLite); otherwise
    /// the configuration decides (`transaction_per_revision`).
    pub one_transaction: bool,
}

/// `migrate upgrade TARGET`.
pub fn upgrade(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    target: &str,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunReport, Error> {
    let script = load_script(database)?;
    script.map.check_target(target)?;
    validate_run(url, database, &script, |heads| Ok(script.map.upgrade_plan(heads, target)?))?;
    Locked::open(url, database)?.with(|s| {
        let heads = s.book.heads(&mut s.conn, s.dialect.as_ref())?;
        let history = s.book.history(&mut s.conn, s.dialect.as_ref())?;
        let tampered = tampered(&script, &history);
        if !tampered.is_empty() {
            return Err(RuntimeError::Tampered(tampered).into());
        }
        let steps = script.map.upgrade_plan(&heads, target)?;
        let resume = resume_point(&script, &history, &steps, options.resume)?;
        run_steps(s, &script, &steps, resume, database, options, on_event)
    })
}

/// `migrate downgrade TARGET`.
pub fn downgrade(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    target: &str,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunReport, Error> {
    let script = load_script(database)?;
    script.map.check_target(target)?;
    validate_run(url, database, &script, |heads| Ok(script.map.downgrade_plan(heads, target)?))?;
    Locked::open(url, database)?.with(|s| {
        let heads = s.book.heads(&mut s.conn, s.dialect.as_ref())?;
        let history = s.book.history(&mut s.conn, s.dialect.as_ref())?;
        let steps = script.map.downgrade_plan(&heads, target)?;
        let resume = resume_point(&script, &history, &steps, options.resume)?;
        run_steps(s, &script, &steps, resume, database, options, on_event)
    })
}

/// Where a run starts. A revision a failure left partly applied (MySQL) is
/// refused, unless `resume` is asked and the run starts with that revision,
/// in the direction that failed: then its remaining ops run first.
fn resume_point(
    script: &Script,
    history: &[HistoryEntry],
    steps: &[crate::script::Step],
    resume: bool,
) -> Result<Resume, Error> {
    let continues = |p: &HistoryEntry| {
        steps.first().is_some_and(|s| s.revision == p.revision && s.direction.as_str() == p.direction)
    };
    match (partial(history), resume) {
        (Some(p), true) if continues(p) => Ok(Resume { ops: p.ops_done, statements: p.statements_done }),
        (Some(p), _) => {
            let down = p.direction == Direction::Down.as_str();
            let ops = script.map.get(&p.revision).map(|r| if down { &r.file.downgrade } else { &r.file.upgrade });
            Err(RuntimeError::Partial {
                revision: p.revision.clone(),
                command: if down { "downgrade" } else { "upgrade" },
                done: p.ops_done,
                total: ops.map_or(0, Vec::len),
                op: p.failed_op.clone().unwrap_or_default(),
                error: p.error.clone().unwrap_or_default(),
            }
            .into())
        }
        (None, true) => Err(RuntimeError::NothingToResume.into()),
        (None, false) => Ok(Resume::default()),
    }
}

fn run_steps(
    s: &mut Locked,
    script: &Script,
    steps: &[crate::script::Step],
    resume: Resume,
    database: &DatabaseConfig,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunReport, Error> {
    if steps.is_empty() {
        return Ok(RunReport::default());
    }
    let mut state = s.dialect.reflect(&mut s.conn, &database.reflection_filter())?;
    validate_steps(s.dialect.as_ref(), database, &script.map, steps, state.clone(), resume != Resume::default())?;
    let plan = render_plan(s.dialect.as_ref(), &script.map, &s.book, steps, &mut state)?;
    s.create_bookkeeping()?;
    let one_transaction = options.one_transaction || !database.transaction_per_revision;
    let mut run = Run { conn: &mut s.conn, dialect: s.dialect.as_ref(), book: &s.book, one_transaction };
    Ok(run.execute(&plan, resume, on_event)?)
}

/// `migrate upgrade A:B --sql` / `migrate downgrade B:A --sql`: the plan's
/// SQL for `dialect`, with no database. Without `A`, the plan starts at base
/// and creates the version tables.
pub fn offline(
    database: &DatabaseConfig,
    dialect: &dyn Dialect,
    direction: Direction,
    range: &str,
) -> Result<String, Error> {
    let script = load_script(database)?;
    let (from, to) = parse_range(range);
    if from.is_none() && direction == Direction::Down {
        // Nothing says where the database is: no database is asked.
        return Err(Error::Usage(format!(
            "downgrade --sql needs a range FROM:TO (e.g. head:{to}): with no database, nothing says where to start"
        )));
    }
    let start: Vec<String> = match from {
        None | Some("base") => Vec::new(),
        Some(rev) => vec![script.map.resolve(rev)?.file.revision.clone()],
    };
    let book = Bookkeeping::new(&database.version_table);
    // The schema at the start: what the revisions up to there make.
    let mut state = Schema::default();
    if let Some(start) = start.first() {
        let before = script.map.upgrade_plan(&[], start)?;
        render_plan(dialect, &script.map, &book, &before, &mut state)?;
    }
    let steps = match direction {
        Direction::Up => script.map.upgrade_plan(&start, to)?,
        Direction::Down => script.map.downgrade_plan(&start, to)?,
    };
    validate_steps(dialect, database, &script.map, &steps, state.clone(), false)?;
    let plan = render_plan(dialect, &script.map, &book, &steps, &mut state)?;
    let create = if start.is_empty() && direction == Direction::Up {
        book.tables().iter().flat_map(|t| dialect.create_table(t)).collect()
    } else {
        Vec::new()
    };
    Ok(offline_sql(dialect, &create, &plan))
}

/// What `migrate current` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The database, password redacted.
    pub database: String,
    /// Current heads with their messages.
    pub heads: Vec<CurrentHead>,
    /// A revision left partly applied by a failure (MySQL), if any.
    pub partial: Option<HistoryEntry>,
    /// Applied revisions whose files changed since.
    pub tampered: Vec<String>,
    /// Whether the database is at the script's heads.
    pub at_heads: bool,
}

/// One row of the version table.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentHead {
    /// The revision.
    pub revision: String,
    /// Its message, if the script has it.
    pub message: Option<String>,
    /// Whether it is a head of the script.
    pub is_head: bool,
}

/// `migrate current`.
pub fn current(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Status, Error> {
    let script = load_script(database)?;
    let dialect = dialect::for_backend(url.backend());
    let book = Bookkeeping::new(&database.version_table);
    let (heads, history) = match open_existing(url)? {
        Some(mut conn) => (book.heads(&mut conn, dialect.as_ref())?, book.history(&mut conn, dialect.as_ref())?),
        None => (Vec::new(), Vec::new()),
    };
    let script_heads = script.map.heads();
    let mut sorted_heads = heads.clone();
    sorted_heads.sort();
    let mut sorted_script: Vec<String> = script_heads.iter().map(|h| h.to_string()).collect();
    sorted_script.sort();
    Ok(Status {
        database: url.to_string(),
        heads: heads
            .iter()
            .map(|h| CurrentHead {
                revision: h.clone(),
                message: script.map.get(h).map(|r| r.file.message.clone()),
                is_head: script_heads.contains(&h.as_str()),
            })
            .collect(),
        partial: partial(&history).cloned(),
        tampered: tampered(&script, &history),
        at_heads: sorted_heads == sorted_script,
    })
}

/// `migrate stamp REV...`: sets the version table to the given revisions
/// without running anything. `purge` empties it first (for a table in an
/// unknown state); `accept_edits` records the current checksum of already
/// applied revisions whose files were edited.
pub fn stamp(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    targets: &[String],
    purge: bool,
    accept_edits: bool,
) -> Result<Vec<String>, Error> {
    let script = load_script(database)?;
    for target in targets {
        script.map.check_target(target)?;
    }
    Locked::open(url, database)?.with(|s| {
        s.create_bookkeeping()?;
        let dialect = s.dialect.as_ref();
        let mut statements = Vec::new();
        let heads = if purge { Vec::new() } else { s.book.read_heads(&mut s.conn, dialect)? };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let entry = |revision: &str, direction: &str| HistoryEntry {
            id: 0,
            revision: revision.to_string(),
            direction: direction.to_string(),
            checksum: script.map.get(revision).map(|r| checksum(&r.source)).unwrap_or_default(),
            started_at: now.clone(),
            finished_at: Some(now.clone()),
            outcome: "ok".into(),
            ops_done: 0,
            statements_done: 0,
            failed_op: None,
            error: None,
        };
        let mut new_heads = heads.clone();
        // Stamping settles a revision a failure left partly applied: the
        // user has put the database in the state the stamp records.
        if let Some(p) = partial(&s.book.history(&mut s.conn, dialect)?) {
            statements.push(s.book.insert_history(dialect, &entry(&p.revision, "settle")));
        }
        if accept_edits {
            for target in targets {
                let revision = script.map.resolve(target)?.file.revision.clone();
                statements.push(s.book.insert_history(dialect, &entry(&revision, "accept")));
            }
        } else {
            for target in targets {
                let up = script.map.upgrade_plan(&new_heads, target);
                let steps = match up {
                    Ok(steps) if !steps.is_empty() => steps,
                    _ => script.map.downgrade_plan(&new_heads, target)?,
                };
                for step in &steps {
                    let direction = if step.direction == Direction::Up { "stamp" } else { "unstamp" };
                    statements.push(s.book.insert_history(dialect, &entry(&step.revision, direction)));
                    new_heads = step.heads_after.clone();
                }
            }
            let mut old = s.book.read_heads(&mut s.conn, dialect)?;
            if purge {
                statements.splice(
                    0..0,
                    old.iter().map(|h| {
                        dialect.delete_sql(&s.book.version_table, "version_num", &crate::ops::Value::Text(h.clone()))
                    }),
                );
                old.clear();
            }
            statements.extend(s.book.version_statements(dialect, &old, &new_heads));
        }
        s.conn.execute(dialect.begin())?;
        for statement in &statements {
            if let Err(e) = s.conn.execute(statement) {
                let _ = s.conn.execute("ROLLBACK");
                return Err(e.into());
            }
        }
        s.conn.execute("COMMIT")?;
        Ok(new_heads)
    })
}

/// The latest history row of a revision left partly applied, if any: a
/// failed or interrupted step some of whose statements stayed applied, not
/// followed by a successful step, stamp or settling of the same revision.
fn partial(history: &[HistoryEntry]) -> Option<&HistoryEntry> {
    let mut latest: std::collections::BTreeMap<&str, &HistoryEntry> = std::collections::BTreeMap::new();
    for entry in history {
        latest.insert(&entry.revision, entry);
    }
    let stayed = |e: &&HistoryEntry| e.outcome != "ok" && (e.ops_done > 0 || e.statements_done > 0);
    latest.into_values().filter(stayed).max_by_key(|e| e.id)
}

/// Applied revisions whose file's checksum differs from the one recorded
/// when they were applied (or accepted).
fn tampered(script: &Script, history: &[HistoryEntry]) -> Vec<String> {
    let mut recorded: std::collections::BTreeMap<&str, Option<&str>> = std::collections::BTreeMap::new();
    for entry in history.iter().filter(|e| e.outcome == "ok" && e.direction != "settle") {
        let applied = matches!(entry.direction.as_str(), "up" | "stamp" | "accept");
        recorded.insert(&entry.revision, applied.then_some(entry.checksum.as_str()));
    }
    recorded
        .into_iter()
        .filter_map(|(revision, sum)| {
            let file = script.map.get(revision)?;
            (sum.is_some_and(|s| !s.is_empty() && s != checksum(&file.source))).then(|| revision.to_string())
        })
        .collect()
}
