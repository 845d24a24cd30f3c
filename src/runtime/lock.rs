//! The lock held for a whole run, so that deploys that start at once apply
//! each revision once, and the record of who holds it, so that `current`
//! reports a live run as live.
//!
//! - MariaDB Galera cluster: a row of the lock table, taken by an autocommit
//!   `UPDATE` whose row count says who won, with a lease in the server's
//!   clock that a background thread renews on its own connection (a long
//!   statement blocks the run's). Named locks (`GET_LOCK`) are node-local
//!   there; the row is replicated and certified. A crashed holder's lease
//!   runs out and the next run takes the row over.
//! - PostgreSQL, and a single MariaDB/MySQL server: a session lock (advisory,
//!   named), which the server frees the moment its holder dies; the lock
//!   table's row only tells who holds it, written by the same kind of thread
//!   (the run's transaction would hide it).
//! - SQLite: an exclusive lock on a file beside the database, whose content
//!   tells who holds it.
//!
//! Taken by polling until the timeout.

use super::{Bookkeeping, RuntimeError};
use crate::db::{Connection, DatabaseUrl, DbError, OpenMode};
use crate::dialect::{self, Dialect, RunLockKind};
use crate::orm::exec;
use crate::orm::expr::{Expr, Expression, case, dialect_sql, value};
use crate::orm::query::{Insert, NamedTable, Row, Select, Update, col, insert_into, select, text, update};
use crate::script::Direction;
use chrono::NaiveDateTime;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Marker of the lock table's columns.
pub enum LockTable {}

/// The lock table's columns, typed.
mod columns {
    use super::LockTable;
    use crate::orm::expr::Column;
    use chrono::NaiveDateTime;

    pub const ID: Column<LockTable, i64> = Column::unqualified("id");
    pub const HOLDER: Column<LockTable, Option<String>> = Column::unqualified("holder");
    pub const HOST: Column<LockTable, Option<String>> = Column::unqualified("host");
    pub const PID: Column<LockTable, Option<i64>> = Column::unqualified("pid");
    pub const ACQUIRED_AT: Column<LockTable, Option<NaiveDateTime>> = Column::unqualified("acquired_at");
    pub const EXPIRES_AT: Column<LockTable, Option<NaiveDateTime>> = Column::unqualified("expires_at");
    pub const REVISION: Column<LockTable, Option<String>> = Column::unqualified("revision");
    pub const DIRECTION: Column<LockTable, Option<String>> = Column::unqualified("direction");
}
use columns::*;

/// The lock row's statements, for one lock table on one dialect.
struct LockRowSql<'a> {
    table: NamedTable<LockTable>,
    dialect: &'a dyn Dialect,
}

impl<'a> LockRowSql<'a> {
    fn new(table: &str, dialect: &'a dyn Dialect) -> Self {
        LockRowSql { table: NamedTable::new(table), dialect }
    }

    /// The server's clock (UTC) `seconds` from now.
    fn clock(&self, seconds: u64) -> Expr<NaiveDateTime> {
        dialect_sql(self.dialect.clock_sql(seconds))
    }

    /// Inserts the row (id 1) unless it exists.
    fn seed(&self) -> Insert<'static> {
        insert_into(&self.table).row(Row::new().set(ID, 1)).on_conflict_do_nothing(&[col(ID)])
    }

    /// Takes the row for `holder`. With a lease of `lease` seconds, only
    /// where the row is free or its lease ran out: an autocommit `UPDATE`
    /// whose row count (1 or 0) says who won. Without, unconditionally
    /// (the row reports on a session lock held).
    fn take(&self, holder: &Holder, lease: Option<u64>) -> Update {
        let expires = match lease {
            Some(seconds) => self.clock(seconds),
            None => Expr::from_node(crate::dialect::query::Expr::Null),
        };
        let take = update(&self.table)
            .set(HOLDER, holder.id.as_str())
            .set(HOST, holder.host.as_str())
            .set(PID, i64::from(holder.pid))
            .set(ACQUIRED_AT, self.clock(0))
            .set(EXPIRES_AT, expires)
            .set(REVISION, None::<&str>)
            .set(DIRECTION, None::<&str>)
            .filter(ID.eq(1));
        match lease {
            Some(_) => take.filter(HOLDER.is_null().or(EXPIRES_AT.lt(self.clock(0)))),
            None => take,
        }
    }

    /// Sets the revision being applied (`step`) and, with a lease of
    /// `lease` seconds, renews it, where `holder` holds the row; `None`
    /// when there is nothing to set.
    fn report(&self, holder: &str, step: Option<(&str, Direction)>, lease: Option<u64>) -> Option<Update> {
        let mut report = update(&self.table);
        if let Some((revision, direction)) = step {
            report = report.set(REVISION, revision).set(DIRECTION, direction.as_str());
        }
        if let Some(lease) = lease {
            report = report.set(EXPIRES_AT, self.clock(lease));
        }
        (step.is_some() || lease.is_some()).then(|| report.filter(ID.eq(1)).filter(HOLDER.eq(holder)))
    }

    /// Frees the row, where `holder` holds it.
    fn release(&self, holder: &str) -> Update {
        update(&self.table)
            .set(HOLDER, None::<&str>)
            .set(HOST, None::<&str>)
            .set(PID, None::<i64>)
            .set(ACQUIRED_AT, None::<NaiveDateTime>)
            .set(EXPIRES_AT, None::<NaiveDateTime>)
            .set(REVISION, None::<&str>)
            .set(DIRECTION, None::<&str>)
            .filter(ID.eq(1))
            .filter(HOLDER.eq(holder))
    }

    /// The row, with whether a run holds the lock named `key` (1 or 0).
    fn read(&self, key: &str, cluster: bool) -> Select {
        let live: Expr<bool> = dialect_sql(self.dialect.lock_live_sql(key, cluster));
        let live = case([(HOLDER.is_not_null().and(live), value(1i64))], Some(value(0i64)));
        select((HOST, PID, ACQUIRED_AT, EXPIRES_AT, REVISION, DIRECTION, live)).from(&self.table).filter(ID.eq(1))
    }
}

/// The lock row as read.
type LockRow =
    (Option<String>, Option<i64>, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>, Option<String>, i64);

/// How the lock row's times are shown (as the SQLite lock file has them).
fn show_time(time: NaiveDateTime) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

const POLL: Duration = Duration::from_millis(50);

/// How often at most the holder row records the revision being applied.
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// Seconds a lock row's lease lasts unless renewed, by default (`lock_lease`);
/// it is renewed every third of it.
pub const LEASE_SECONDS: u64 = 30;

/// A run that holds the lock, as `migrate current` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveRun {
    /// The host the run's process is on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock: the database's clock, UTC (SQLite: the host's).
    pub since: String,
    /// The revision it is applying, once it started one.
    pub revision: Option<String>,
    /// `up` or `down`, with the revision.
    pub direction: Option<String>,
    /// Until when the lease runs unless renewed (MySQL/MariaDB), UTC.
    pub lease_until: Option<String>,
}

/// This process, as a lock holder.
#[derive(Debug, Clone)]
struct Holder {
    /// Unique to this acquisition.
    id: String,
    host: String,
    pid: u32,
}

impl Holder {
    fn new() -> Holder {
        let host = this_host();
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Holder { id: format!("{host}:{pid}:{nanos:x}"), host, pid }
    }

    /// Whether a holder recorded as `host` and `pid` is a process known to
    /// be gone: one on this host (Linux: `/proc`) whose pid no longer runs.
    fn is_gone(host: &str, pid: i64) -> bool {
        let proc = std::path::Path::new("/proc");
        host == this_host() && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
    }
}

/// This host's name, as lock holders record it.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A lock taken for a run; [`RunLock::release`] gives it back (a dropped
/// process releases it too: the server or the OS does, or the lease runs
/// out).
pub struct RunLock {
    held: Held,
    reporter: Option<Reporter>,
}

enum Held {
    /// A session lock; the statement that releases it.
    Session(String),
    /// The lock row: the reporter thread renews and releases it.
    Row,
    /// The lock file, whose content names the holder, and since when.
    File(File, Holder, String),
    /// An in-memory SQLite database: nobody else can see it.
    Nothing,
}

impl RunLock {
    /// Takes the run lock of the tables `book`, waiting at most `timeout`;
    /// `cluster`: the server is a Galera node, where the lock is a row whose
    /// lease lasts `lease_seconds` unless renewed.
    pub fn acquire(
        conn: &mut Connection,
        dialect: &dyn Dialect,
        book: &Bookkeeping,
        timeout: Duration,
        cluster: bool,
        lease_seconds: u64,
    ) -> Result<RunLock, RuntimeError> {
        let started = Instant::now();
        let timed_out = || RuntimeError::LockTimeout { seconds: timeout.as_secs_f64() };
        let holder = Holder::new();
        match dialect.run_lock(&book.version_table, cluster) {
            RunLockKind::Session(statements) => {
                loop {
                    let got = exec::fetch_optional::<Option<String>>(conn, &text(&statements.try_lock))?;
                    if got.flatten().as_deref() == Some("1") {
                        break;
                    }
                    if started.elapsed() >= timeout {
                        return Err(timed_out());
                    }
                    std::thread::sleep(POLL);
                }
                let reporter = Reporter::start(conn.url(), book, holder, None, statements.holder_lock.as_deref());
                match reporter {
                    Ok(reporter) => Ok(RunLock { held: Held::Session(statements.unlock), reporter: Some(reporter) }),
                    Err(e) => {
                        let _ = exec::fetch::<Option<String>>(conn, &text(&statements.unlock));
                        Err(e)
                    }
                }
            }
            RunLockKind::LeaseRow => {
                for statement in dialect.create_table_if_missing(&book.lock_table()) {
                    conn.execute(&statement)?;
                }
                let row = LockRowSql::new(&book.lock_table, dialect);
                let seed = row.seed();
                retry_conflicts(started, timeout, || exec::execute(conn, &seed))?;
                let take = row.take(&holder, Some(lease_seconds));
                loop {
                    if retry_conflicts(started, timeout, || exec::execute(conn, &take))? == 1 {
                        break;
                    }
                    if started.elapsed() >= timeout {
                        return Err(timed_out());
                    }
                    std::thread::sleep(POLL);
                }
                let release = row.release(&holder.id);
                match Reporter::start(conn.url(), book, holder, Some(lease_seconds), None) {
                    Ok(reporter) => Ok(RunLock { held: Held::Row, reporter: Some(reporter) }),
                    Err(e) => {
                        let _ = exec::execute(conn, &release);
                        Err(e)
                    }
                }
            }
            RunLockKind::File => {
                let Some(lock_path) = lock_file(conn.url()) else {
                    return Ok(RunLock { held: Held::Nothing, reporter: None });
                };
                let file_error =
                    |e: std::io::Error| RuntimeError::LockFile { path: lock_path.clone(), message: e.to_string() };
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(&lock_path)
                    .map_err(file_error)?;
                loop {
                    match file.try_lock() {
                        Ok(()) => break,
                        Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                            std::thread::sleep(POLL)
                        }
                        Err(std::fs::TryLockError::WouldBlock) => return Err(timed_out()),
                        Err(std::fs::TryLockError::Error(e)) => return Err(file_error(e)),
                    }
                }
                let lock = RunLock {
                    held: Held::File(file, holder, chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
                    reporter: None,
                };
                lock.advance_file(None).map_err(file_error)?;
                Ok(lock)
            }
        }
    }

    /// Records that the run now applies `revision` (going `direction`), for
    /// `migrate current` in other processes to read.
    pub fn advance(&self, revision: &str, direction: Direction) {
        if let Some(reporter) = &self.reporter {
            // A reporter that stopped has its error ready for `release`.
            let _ = reporter.tx.send(Message::Advance { revision: revision.to_string(), direction });
        }
        // A lock file that cannot be written still locks; only the report is lost.
        let _ = self.advance_file(Some((revision, direction)));
    }

    fn advance_file(&self, step: Option<(&str, Direction)>) -> std::io::Result<()> {
        let Held::File(file, holder, since) = &self.held else { return Ok(()) };
        let live = LiveRun {
            host: holder.host.clone(),
            pid: holder.pid,
            since: since.clone(),
            revision: step.map(|(r, _)| r.to_string()),
            direction: step.map(|(_, d)| d.as_str().to_string()),
            lease_until: None,
        };
        let mut file = file;
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(serde_json::to_string(&live).unwrap_or_default().as_bytes())
    }

    /// Gives the lock back; an error if its lease ran out while held.
    pub fn release(self, conn: &mut Connection) -> Result<(), RuntimeError> {
        let reported = match self.reporter {
            Some(reporter) => reporter.stop(),
            None => Ok(()),
        };
        if let Held::Session(unlock) = &self.held {
            exec::fetch::<Option<String>>(conn, &text(unlock))?;
        }
        reported
    }
}

/// Runs `statement` again while it loses a race (Galera certification,
/// deadlock), until `timeout` from `started`.
fn retry_conflicts(
    started: Instant,
    timeout: Duration,
    mut statement: impl FnMut() -> Result<usize, crate::orm::Error>,
) -> Result<usize, RuntimeError> {
    use crate::orm::Error as OrmError;
    loop {
        match statement() {
            Err(OrmError::SerializationFailure { .. } | OrmError::Connect(DbError::Conflict { .. }))
                if started.elapsed() < timeout =>
            {
                std::thread::sleep(POLL)
            }
            other => return Ok(other?),
        }
    }
}

/// The lock file of an SQLite database; `None` in memory.
fn lock_file(url: &DatabaseUrl) -> Option<String> {
    url.sqlite_path().filter(|p| *p != ":memory:").map(|path| format!("{path}.migrate-lock"))
}

enum Message {
    Advance { revision: String, direction: Direction },
    Release,
}

/// The thread that writes the lock row on its own connection: renews the
/// lease, records the revision being applied, releases the row.
struct Reporter {
    tx: mpsc::Sender<Message>,
    thread: JoinHandle<Result<(), RuntimeError>>,
    table: String,
}

impl Reporter {
    /// Starts the thread; `lease`: the row is the lock (renew it, and an
    /// update that finds it taken means the lease was lost), else the row
    /// only reports on a session lock. `holder_lock`: taken first on the
    /// thread's connection, which lives as long as the process
    /// ([`crate::dialect::LockStatements::holder_lock`]).
    fn start(
        url: &DatabaseUrl,
        book: &Bookkeeping,
        holder: Holder,
        lease: Option<u64>,
        holder_lock: Option<&str>,
    ) -> Result<Reporter, RuntimeError> {
        let mut conn = Connection::open(url, OpenMode::ReadWrite)?;
        if let Some(statement) = holder_lock {
            let got = exec::fetch_optional::<Option<String>>(&mut conn, &text(statement))?;
            if got.flatten().as_deref() != Some("1") {
                return Err(RuntimeError::HolderLock { table: book.lock_table.clone() });
            }
        }
        let (tx, rx) = mpsc::channel();
        let mut state = ReporterState {
            conn,
            dialect: dialect::for_backend(url.backend()),
            table: book.lock_table.clone(),
            holder,
            lease,
            claimed: lease.is_some(),
            lost: false,
        };
        let thread = std::thread::spawn(move || {
            state.claim();
            let tick = Duration::from_secs(lease.unwrap_or(LEASE_SECONDS) / 3);
            let mut reported = Instant::now();
            loop {
                match rx.recv_timeout(tick) {
                    Ok(Message::Advance { mut revision, mut direction }) => {
                        // Quick revisions queue up: only the latest is news,
                        // written at most every REPORT_EVERY (each write is a
                        // commit of its own, which a run of many small
                        // revisions would pay for once per revision).
                        let due = reported + REPORT_EVERY;
                        loop {
                            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                                Ok(Message::Advance { revision: r, direction: d }) => (revision, direction) = (r, d),
                                Ok(Message::Release) | Err(RecvTimeoutError::Disconnected) => {
                                    return state.release();
                                }
                                Err(RecvTimeoutError::Timeout) => break,
                            }
                        }
                        state.update(Some((&revision, direction)));
                        reported = Instant::now();
                    }
                    Err(RecvTimeoutError::Timeout) => state.update(None),
                    Ok(Message::Release) | Err(RecvTimeoutError::Disconnected) => return state.release(),
                }
            }
        });
        Ok(Reporter { tx, thread, table: book.lock_table.clone() })
    }

    fn stop(self) -> Result<(), RuntimeError> {
        let _ = self.tx.send(Message::Release);
        // A renewer that panicked cannot vouch for the lease.
        let table = self.table.clone();
        self.thread.join().unwrap_or(Err(RuntimeError::LockLost { table }))
    }
}

struct ReporterState {
    conn: Connection,
    dialect: Box<dyn Dialect>,
    table: String,
    holder: Holder,
    lease: Option<u64>,
    /// Whether the row names this holder (a session lock's row is claimed
    /// once the lock table exists).
    claimed: bool,
    lost: bool,
}

impl ReporterState {
    /// Writes this holder into the row of a session lock (whose holder, if
    /// another, crashed: the session lock is ours). Before the run creates
    /// the lock table this fails, and is tried again at the next update.
    fn claim(&mut self) {
        if self.claimed {
            return;
        }
        let row = LockRowSql::new(&self.table, self.dialect.as_ref());
        let (seed, claim) = (row.seed(), row.take(&self.holder, None));
        self.claimed =
            exec::execute(&mut self.conn, &seed).is_ok() && matches!(exec::execute(&mut self.conn, &claim), Ok(1));
    }

    /// Records the revision being applied (`step`) and renews the lease.
    /// With a lease, a row that no longer names this holder means the lease
    /// ran out and another run took it; a failed statement is tried again
    /// at the next tick.
    fn update(&mut self, step: Option<(&str, Direction)>) {
        self.claim();
        if self.lost || !self.claimed {
            return;
        }
        let row = LockRowSql::new(&self.table, self.dialect.as_ref());
        let Some(report) = row.report(&self.holder.id, step, self.lease) else { return };
        if let Ok(0) = exec::execute(&mut self.conn, &report) {
            self.lost = self.lease.is_some();
        }
    }

    fn release(mut self) -> Result<(), RuntimeError> {
        let release = LockRowSql::new(&self.table, self.dialect.as_ref()).release(&self.holder.id);
        let released = if self.claimed { exec::execute(&mut self.conn, &release)? } else { 0 };
        if self.lease.is_some() && (self.lost || released != 1) {
            return Err(RuntimeError::LockLost { table: self.table });
        }
        Ok(())
    }
}

/// The run holding the lock of the tables `book`, if one does. `conn`:
/// a connection to a server database (none for SQLite); `cluster`: the
/// server is a Galera node.
pub fn live_run(
    conn: Option<&mut Connection>,
    dialect: &dyn Dialect,
    book: &Bookkeeping,
    url: &DatabaseUrl,
    cluster: bool,
) -> Result<Option<LiveRun>, RuntimeError> {
    let kind = dialect.run_lock(&book.version_table, cluster);
    if kind == RunLockKind::File {
        return Ok(lock_file(url).and_then(|path| read_lock_file(&path)));
    }
    let Some(conn) = conn else { return Ok(None) };
    if !book.has_lock_table(conn, dialect)? {
        return Ok(None);
    }
    let read = LockRowSql::new(&book.lock_table, dialect).read(&book.version_table, cluster);
    let row: Option<LockRow> = exec::fetch_optional(conn, &read)?;
    // A session lock outlives its holder while the server finishes the
    // statement the holder's connection was running (MariaDB/MySQL): a
    // holder known to be gone is not live, whatever the lock says.
    let gone = |r: &LockRow| {
        matches!(kind, RunLockKind::Session(_))
            && Holder::is_gone(r.0.as_deref().unwrap_or_default(), r.1.unwrap_or(-1))
    };
    Ok(row.filter(|r| r.6 == 1 && !gone(r)).map(|(host, pid, since, expires, revision, direction, _)| LiveRun {
        host: host.unwrap_or_default(),
        pid: pid.and_then(|p| u32::try_from(p).ok()).unwrap_or_default(),
        since: since.map(show_time).unwrap_or_default(),
        revision,
        direction,
        lease_until: if kind == RunLockKind::LeaseRow { expires.map(show_time) } else { None },
    }))
}

/// What the lock file says, while some process holds its lock.
fn read_lock_file(path: &str) -> Option<LiveRun> {
    let mut file = File::open(path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None, // nobody holds it: dropping the file unlocks it
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            // A holder that has not written yet is live all the same.
            Some(serde_json::from_str(&text).unwrap_or(LiveRun {
                host: String::new(),
                pid: 0,
                since: String::new(),
                revision: None,
                direction: None,
                lease_until: None,
            }))
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}
