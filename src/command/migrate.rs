//! `upgrade`, `downgrade` (online and offline), `current` and `stamp`.

use super::autogen::{validate_run, validate_steps};
use crate::Error;
use crate::config::DatabaseConfig;
use crate::db::{Connection, DatabaseUrl, DbError, OpenMode};
use crate::dialect::{self, Dialect, SchemaUpgrades, ServerFacts};
use crate::runtime::{
    Bookkeeping, Edited, Event, HistoryEntry, LiveRun, Resume, Run, RunLock, RunReport, RuntimeError,
    check_cluster_safe, live_run, offline_sql, render_plan, took_effect,
};
use crate::schema::Schema;
use crate::script::{Direction, Script, parse_range};
use serde::Serialize;
use std::time::Duration;

/// The revision scripts of a database's `script_location`.
pub fn load_script(database: &DatabaseConfig) -> Result<Script, Error> {
    Ok(Script::load(&database.version_paths)?)
}

/// A connection that waits `busy_timeout` for another process's write
/// (SQLite) instead of failing.
pub(super) fn connect(url: &DatabaseUrl, mode: OpenMode, busy_timeout: f64) -> Result<Connection, DbError> {
    let mut conn = Connection::open(url, mode)?;
    if let Some(statement) = dialect::for_backend(url.backend()).busy_timeout(busy_timeout) {
        conn.execute(&statement)?;
    }
    Ok(conn)
}

/// A read-only connection, or `None` for an SQLite file that does not
/// exist yet (an empty database, at base).
pub(super) fn open_existing(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Option<Connection>, Error> {
    match connect(url, OpenMode::ReadOnly, database.busy_timeout) {
        Ok(conn) => Ok(Some(conn)),
        Err(DbError::MissingSqliteFile { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where a command runs.
pub enum Endpoint<'c> {
    /// Connects to this URL (when only reading, an SQLite file not created
    /// yet is an empty database and is not created).
    Url(&'c DatabaseUrl),
    /// A connection the caller holds (an application's own, or one from its
    /// pool): what the run changes of its session settings is put back
    /// afterwards.
    Connection(&'c mut Connection),
}

impl Endpoint<'_> {
    /// The URL of the database.
    pub fn url(&self) -> &DatabaseUrl {
        match self {
            Endpoint::Url(url) => url,
            Endpoint::Connection(conn) => conn.url(),
        }
    }
}

/// A connection with the run lock held and the tool's tables in place (a
/// migration run's; the ORM's unit of work is `orm::Session`).
struct Locked<'c> {
    conn: &'c mut Connection,
    dialect: Box<dyn Dialect>,
    book: Bookkeeping,
    lock: RunLock,
    /// What the session learned about the server (a Galera cluster).
    facts: ServerFacts,
    /// What puts a lent connection's session back as it was.
    restore: Vec<String>,
}

impl<'c> Locked<'c> {
    /// Prepares the session, refuses a server the run cannot change safely
    /// (a read-only standby, a Galera node doing rolling schema upgrades),
    /// and takes the run lock. `lent`: the connection is the caller's, whose
    /// session settings are put back when the run ends.
    fn open(conn: &'c mut Connection, database: &DatabaseConfig, lent: bool) -> Result<Locked<'c>, Error> {
        let dialect = dialect::for_backend(conn.backend());
        let restore = if lent { dialect.session_restore(conn)? } else { Vec::new() };
        let locked = Self::prepare(conn, dialect.as_ref(), database);
        match locked {
            Ok((book, lock, facts)) => Ok(Locked { conn, dialect, book, lock, facts, restore }),
            Err(e) => {
                for statement in &restore {
                    let _ = conn.execute(statement);
                }
                Err(e)
            }
        }
    }

    fn prepare(
        conn: &mut Connection,
        dialect: &dyn Dialect,
        database: &DatabaseConfig,
    ) -> Result<(Bookkeeping, RunLock, ServerFacts), Error> {
        for statement in dialect.session_setup() {
            conn.execute(&statement)?;
        }
        let facts = dialect.prepare_session(conn)?;
        let url = conn.url();
        if facts.read_only_standby {
            return Err(RuntimeError::ReadOnlyStandby { database: url.to_string() }.into());
        }
        if facts.cluster.as_ref().is_some_and(|c| c.schema_upgrades == SchemaUpgrades::Rolling) {
            return Err(RuntimeError::RollingSchemaUpgrade { database: url.to_string() }.into());
        }
        let book = Bookkeeping::new(&database.version_table);
        let timeout = Duration::from_secs_f64(database.lock_timeout.max(0.0));
        let lock = RunLock::acquire(conn, dialect, &book, timeout, facts.cluster.is_some(), database.lock_lease)?;
        Ok((book, lock, facts))
    }

    /// Creates the version and history tables where missing: just before
    /// the first change, so that a run that changes nothing leaves nothing.
    fn create_bookkeeping(&mut self) -> Result<(), Error> {
        for statement in self.book.create_missing(self.conn, self.dialect.as_ref())? {
            self.conn.execute(&statement)?;
        }
        for statement in self.book.add_missing_columns(self.conn, self.dialect.as_ref())? {
            self.conn.execute(&statement)?;
        }
        Ok(())
    }

    fn close(self) -> Result<(), Error> {
        let Locked { conn, lock, restore, .. } = self;
        let released = lock.release(conn);
        for statement in &restore {
            conn.execute(statement)?;
        }
        Ok(released?)
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

/// Locks `endpoint` (connecting first to a URL) and runs `body`.
fn locked<T>(
    endpoint: Endpoint<'_>,
    database: &DatabaseConfig,
    body: impl FnOnce(&mut Locked) -> Result<T, Error>,
) -> Result<T, Error> {
    match endpoint {
        Endpoint::Url(url) => {
            let mut conn = connect(url, OpenMode::ReadWrite, database.busy_timeout)?;
            Locked::open(&mut conn, database, false)?.with(body)
        }
        Endpoint::Connection(conn) => Locked::open(conn, database, true)?.with(body),
    }
}

/// What to take a statement to have done whose effect a crash left
/// uncertain and the schema cannot tell (`--uncertain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncertain {
    /// It took effect: resume after it.
    Done,
    /// It did not: run it again.
    Redo,
}

/// How to run `upgrade`/`downgrade`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Finish a partly applied revision first (MySQL).
    pub resume: bool,
    /// With `resume`: what the statement a crash left uncertain did, where
    /// the schema cannot tell.
    pub uncertain: Option<Uncertain>,
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
    apply(Endpoint::Url(url), &script, database, Direction::Up, target, options, on_event)
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
    apply(Endpoint::Url(url), &script, database, Direction::Down, target, options, on_event)
}

/// Upgrades (`Direction::Up`) or downgrades `endpoint` to `target` with the
/// revisions of `script`: what `migrate upgrade`/`downgrade` do, on any
/// endpoint and script (files, or compiled in).
pub fn apply(
    endpoint: Endpoint<'_>,
    script: &Script,
    database: &DatabaseConfig,
    direction: Direction,
    target: &str,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunReport, Error> {
    script.map.check_target(target)?;
    let plan = |heads: &[String]| match direction {
        Direction::Up => script.map.upgrade_plan(heads, target),
        Direction::Down => script.map.downgrade_plan(heads, target),
    };
    if let Endpoint::Url(url) = &endpoint {
        validate_run(url, database, script, |heads| Ok(plan(heads)?))?;
    }
    locked(endpoint, database, |s| {
        let heads = s.book.heads(s.conn, s.dialect.as_ref())?;
        let history = s.book.history(s.conn, s.dialect.as_ref())?;
        refuse_edits(script, &history)?;
        let steps = plan(&heads)?;
        let resume = resume_point(script, &history, &steps, options.resume)?;
        run_steps(s, script, &steps, resume, database, options, on_event)
    })
}

/// Where a run starts, and whether the statement there was interrupted
/// with its effect unknown.
#[derive(Debug, Clone, Copy, Default)]
struct Start {
    resume: Resume,
    uncertain: bool,
}

/// Where a run starts. A revision a failure or a crash left partly applied
/// (MySQL) is refused, unless `resume` is asked and the run starts with that
/// revision, in the direction that failed: then its remaining ops run first.
fn resume_point(
    script: &Script,
    history: &[HistoryEntry],
    steps: &[crate::script::Step],
    resume: bool,
) -> Result<Start, Error> {
    let continues = |p: &HistoryEntry| {
        steps.first().is_some_and(|s| s.revision == p.revision && s.direction.as_str() == p.direction)
    };
    match (partial(history), resume) {
        (Some(p), true) if continues(p) => {
            Ok(Start { resume: Resume { ops: p.ops_done, statements: p.statements_done }, uncertain: p.uncertain })
        }
        (Some(p), _) => {
            let op = partial_op(script, p);
            let named = op.as_ref().map_or(String::new(), |o| format!("op {} (`{}`)", o.number, o.label));
            let what = match (&p.outcome[..], &p.error) {
                ("failed", Some(error)) => format!("{named} failed ({error})"),
                _ => format!("the run was interrupted in {named}"),
            };
            Err(RuntimeError::Partial {
                revision: p.revision.clone(),
                command: command_of(p),
                done: p.ops_done,
                total: op.map_or(0, |o| o.total),
                what,
            }
            .into())
        }
        (None, true) => Err(RuntimeError::NothingToResume.into()),
        (None, false) => Ok(Start::default()),
    }
}

/// The command that ran a history row's step: `upgrade` or `downgrade`.
fn command_of(entry: &HistoryEntry) -> &'static str {
    if entry.direction == Direction::Down.as_str() { "downgrade" } else { "upgrade" }
}

/// The op a partly applied step stopped at, from the script.
fn partial_op(script: &Script, entry: &HistoryEntry) -> Option<PartialOp> {
    let revision = script.map.get(&entry.revision)?;
    let ops =
        if entry.direction == Direction::Down.as_str() { &revision.file.downgrade } else { &revision.file.upgrade };
    let op = ops.get(entry.ops_done)?;
    Some(PartialOp { number: entry.ops_done + 1, label: op.label(), total: ops.len() })
}

/// Decides where a resumed step starts when a crash left its statement
/// uncertain: from the schema reflected now, or as `--uncertain` says.
fn settle_uncertain(
    dialect: &dyn Dialect,
    step: &crate::runtime::StepSql,
    start: Start,
    reflected: &Schema,
    choice: Option<Uncertain>,
) -> Result<Resume, Error> {
    let Resume { ops, statements } = start.resume;
    let Some(op) = step.ops.get(ops).filter(|_| start.uncertain) else { return Ok(start.resume) };
    let Some(sql) = op.statements.get(statements) else { return Ok(start.resume) };
    let done = match choice {
        Some(choice) => choice == Uncertain::Done,
        None => took_effect(dialect, &op.op, op.statements.len(), sql, reflected).ok_or_else(|| {
            RuntimeError::Uncertain {
                revision: step.revision.clone(),
                command: if step.direction == Direction::Down { "downgrade" } else { "upgrade" },
                op_number: ops + 1,
                op: op.label.clone(),
                statement_number: statements + 1,
                statements: op.statements.len(),
                sql: sql.clone(),
            }
        })?,
    };
    Ok(match (done, statements + 1 == op.statements.len()) {
        (false, _) => start.resume,
        (true, true) => Resume { ops: ops + 1, statements: 0 },
        (true, false) => Resume { ops, statements: statements + 1 },
    })
}

fn run_steps(
    s: &mut Locked,
    script: &Script,
    steps: &[crate::script::Step],
    start: Start,
    database: &DatabaseConfig,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunReport, Error> {
    if steps.is_empty() {
        // Nothing to do: the report still says where the database is.
        return Ok(RunReport { heads: s.book.heads(s.conn, s.dialect.as_ref())?, ..RunReport::default() });
    }
    if s.facts.cluster.is_some() {
        check_cluster_safe(&script.map, steps)?;
    }
    let reflected = s.dialect.reflect(s.conn, &database.reflection_filter())?;
    let half_done = start.resume != Resume::default() || start.uncertain;
    validate_steps(s.dialect.as_ref(), database, &script.map, steps, reflected.clone(), half_done)?;
    let mut state = reflected.clone();
    let plan = render_plan(s.dialect.as_ref(), &script.map, &s.book, steps, &mut state)?;
    let resume = match plan.first() {
        Some(step) => settle_uncertain(s.dialect.as_ref(), step, start, &reflected, options.uncertain)?,
        None => start.resume,
    };
    s.create_bookkeeping()?;
    let one_transaction = options.one_transaction || !database.transaction_per_revision;
    let Locked { conn, dialect, book, lock, .. } = s;
    let mut run = Run { conn, dialect: dialect.as_ref(), book, one_transaction };
    Ok(run.execute(&plan, resume, &mut |event| {
        if let Event::Started { step, .. } = &event {
            lock.advance(&step.revision, step.direction);
        }
        on_event(event)
    })?)
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
        book.tables().iter().flat_map(|t| dialect.create_table_if_missing(t)).collect()
    } else {
        Vec::new()
    };
    Ok(offline_sql(dialect, &create, &plan)?)
}

/// What `migrate current` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The database, password redacted.
    pub database: String,
    /// Current heads with their messages.
    pub heads: Vec<CurrentHead>,
    /// A revision left partly applied by a failure or a crash (MySQL), if
    /// any: its history row says which ops and statements are done and
    /// whether the next statement was started (`uncertain`).
    pub partial: Option<HistoryEntry>,
    /// The op that partly applied revision stopped at.
    pub partial_op: Option<PartialOp>,
    /// Applied revisions whose files changed since.
    pub tampered: Vec<String>,
    /// Whether the database is at the script's heads.
    pub at_heads: bool,
    /// A run holding the lock now, in another process: what it applies,
    /// by whom, since when.
    pub live: Option<LiveRun>,
}

/// The op a partly applied revision stopped at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartialOp {
    /// 1-based position in the revision.
    pub number: usize,
    /// Its label (`Op::label`).
    pub label: String,
    /// Ops in the revision, in the direction that ran.
    pub total: usize,
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
    status(Endpoint::Url(url), &load_script(database)?, database)
}

/// Where `endpoint` is with the revisions of `script`: what `migrate
/// current` reports, on any endpoint and script.
pub fn status(endpoint: Endpoint<'_>, script: &Script, database: &DatabaseConfig) -> Result<Status, Error> {
    let url = endpoint.url().clone();
    let dialect = dialect::for_backend(url.backend());
    let book = Bookkeeping::new(&database.version_table);
    let mut opened = None;
    let conn = match endpoint {
        Endpoint::Url(url) => {
            opened = open_existing(url, database)?;
            opened.as_mut()
        }
        Endpoint::Connection(conn) => Some(conn),
    };
    let (heads, history, live) = match conn {
        Some(conn) => {
            // On a Galera node: reads wait for what the cluster committed.
            let cluster = dialect.prepare_session(conn)?.cluster.is_some();
            let live = live_run(Some(&mut *conn), dialect.as_ref(), &book, &url, cluster)?;
            (book.heads(conn, dialect.as_ref())?, book.history(conn, dialect.as_ref())?, live)
        }
        None => (Vec::new(), Vec::new(), live_run(None, dialect.as_ref(), &book, &url, false)?),
    };
    drop(opened);
    // What the live run is applying is not a revision left partly applied.
    let partial = partial(&history)
        .filter(|p| live.as_ref().is_none_or(|l| l.revision.as_ref() != Some(&p.revision) && p.outcome != "running"))
        .cloned();
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
        partial_op: partial.as_ref().and_then(|p| partial_op(script, p)),
        partial,
        tampered: edited(script, &history).into_iter().map(|e| e.revision).collect(),
        at_heads: sorted_heads == sorted_script,
        live,
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
    locked(Endpoint::Url(url), database, |s| {
        if !accept_edits {
            refuse_edits(&script, &s.book.history(s.conn, s.dialect.as_ref())?)?;
        }
        s.create_bookkeeping()?;
        let dialect = s.dialect.as_ref();
        let mut entries = Vec::new();
        let mut version = Vec::new();
        let heads = if purge { Vec::new() } else { s.book.read_heads(s.conn)? };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let entry = |revision: &str, direction: &str| HistoryEntry {
            id: 0,
            revision: revision.to_string(),
            direction: direction.to_string(),
            checksum: script.map.get(revision).map(|r| r.checksum.clone()).unwrap_or_default(),
            started_at: now.clone(),
            finished_at: Some(now.clone()),
            outcome: "ok".into(),
            ops_done: 0,
            statements_done: 0,
            failed_op: None,
            error: None,
            uncertain: false,
            source: script.map.get(revision).map(|r| r.source.clone()),
        };
        let mut new_heads = heads.clone();
        // Stamping settles a revision a failure left partly applied: the
        // user has put the database in the state the stamp records.
        if let Some(p) = partial(&s.book.history(s.conn, dialect)?) {
            entries.push(entry(&p.revision, "settle"));
        }
        if accept_edits {
            for target in targets {
                let revision = script.map.resolve(target)?.file.revision.clone();
                entries.push(entry(&revision, "accept"));
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
                    entries.push(entry(&step.revision, direction));
                    new_heads = step.heads_after.clone();
                }
            }
            let mut old = s.book.read_heads(s.conn)?;
            if purge {
                version.extend(old.iter().map(|h| s.book.delete_head(h)));
                old.clear();
            }
            version.extend(s.book.version_statements(&old, &new_heads));
        }
        s.conn.execute(dialect.begin())?;
        for entry in &entries {
            if let Err(e) = s.book.insert_history(s.conn, entry) {
                let _ = s.conn.execute(dialect.rollback());
                return Err(e.into());
            }
        }
        if let Err(e) = s.book.apply_version(s.conn, &targets.join(" "), &version) {
            let _ = s.conn.execute(dialect.rollback());
            return Err(e.into());
        }
        s.conn.execute(dialect.commit())?;
        Ok(new_heads)
    })
}

/// The latest history row of a revision left partly applied, if any: a
/// step interrupted by a crash (still `running`: the lock is held while
/// reading, or else the run is gone), or a failed step some of whose
/// statements stayed applied; not followed by a successful step, stamp or
/// settling of the same revision.
pub(super) fn partial(history: &[HistoryEntry]) -> Option<&HistoryEntry> {
    let mut latest: std::collections::BTreeMap<&str, &HistoryEntry> = std::collections::BTreeMap::new();
    for entry in history {
        latest.insert(&entry.revision, entry);
    }
    let stayed =
        |e: &&HistoryEntry| e.outcome == "running" || (e.outcome != "ok" && (e.ops_done > 0 || e.statements_done > 0));
    latest.into_values().filter(stayed).max_by_key(|e| e.id)
}

/// Refuses to run while an applied revision's file differs from the one
/// applied (or accepted).
fn refuse_edits(script: &Script, history: &[HistoryEntry]) -> Result<(), Error> {
    let edited = edited(script, history);
    if edited.is_empty() { Ok(()) } else { Err(RuntimeError::Tampered(edited).into()) }
}

/// Applied revisions whose file's checksum differs from the one recorded
/// when they were applied (or accepted), with what changed.
fn edited(script: &Script, history: &[HistoryEntry]) -> Vec<Edited> {
    let mut recorded: std::collections::BTreeMap<&str, Option<&HistoryEntry>> = std::collections::BTreeMap::new();
    for entry in history.iter().filter(|e| e.outcome == "ok" && e.direction != "settle") {
        let applied = matches!(entry.direction.as_str(), "up" | "stamp" | "accept");
        recorded.insert(&entry.revision, applied.then_some(entry));
    }
    recorded
        .into_iter()
        .filter_map(|(revision, entry)| {
            let file = script.map.get(revision)?;
            let entry = entry.filter(|e| !e.checksum.is_empty() && e.checksum != file.checksum)?;
            let path = file.path.display().to_string();
            let diff = entry.source.as_deref().map_or(String::new(), |applied| {
                similar::TextDiff::from_lines(applied, &file.source)
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("{path} (applied)"), &format!("{path} (now)"))
                    .to_string()
            });
            Some(Edited { revision: revision.to_string(), path, diff })
        })
        .collect()
}
