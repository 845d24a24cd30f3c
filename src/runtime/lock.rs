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
use crate::ops::Value;
use crate::script::Direction;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

text_row!(ValueRow { value });
text_row!(LockRow { host, pid, acquired_at, expires_at, revision, direction, live });

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
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into());
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Holder { id: format!("{host}:{pid}:{nanos:x}"), host, pid }
    }

    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("holder", Value::Text(self.id.clone())),
            ("host", Value::Text(self.host.clone())),
            ("pid", Value::Integer(i64::from(self.pid))),
        ]
    }
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
                    let rows: Vec<ValueRow> = conn.load(&statements.try_lock)?;
                    if rows.first().and_then(|r| r.value.as_deref()) == Some("1") {
                        break;
                    }
                    if started.elapsed() >= timeout {
                        return Err(timed_out());
                    }
                    std::thread::sleep(POLL);
                }
                let reporter = Reporter::start(conn.url(), book, holder, None);
                match reporter {
                    Ok(reporter) => Ok(RunLock { held: Held::Session(statements.unlock), reporter: Some(reporter) }),
                    Err(e) => {
                        let _ = conn.load::<ValueRow>(&statements.unlock);
                        Err(e)
                    }
                }
            }
            RunLockKind::LeaseRow => {
                for statement in dialect.create_table_if_missing(&book.lock_table()) {
                    conn.execute(&statement)?;
                }
                let seed = dialect.insert_ignore_sql(&book.lock_table, &[("id", Value::Integer(1))]);
                retry_conflicts(started, timeout, || conn.execute_count(&seed))?;
                let take = dialect.take_lock_row_sql(&book.lock_table, &holder.columns(), Some(lease_seconds));
                loop {
                    if retry_conflicts(started, timeout, || conn.execute_count(&take))? == 1 {
                        break;
                    }
                    if started.elapsed() >= timeout {
                        return Err(timed_out());
                    }
                    std::thread::sleep(POLL);
                }
                let release = dialect.release_lock_row_sql(&book.lock_table, &holder.id);
                match Reporter::start(conn.url(), book, holder, Some(lease_seconds)) {
                    Ok(reporter) => Ok(RunLock { held: Held::Row, reporter: Some(reporter) }),
                    Err(e) => {
                        let _ = conn.execute_count(&release);
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
            conn.load::<ValueRow>(unlock)?;
        }
        reported
    }
}

/// Runs `statement` again while it loses a race (Galera certification,
/// deadlock), until `timeout` from `started`.
fn retry_conflicts(
    started: Instant,
    timeout: Duration,
    mut statement: impl FnMut() -> Result<usize, DbError>,
) -> Result<usize, RuntimeError> {
    loop {
        match statement() {
            Err(DbError::Conflict { .. }) if started.elapsed() < timeout => std::thread::sleep(POLL),
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
    /// only reports on a session lock.
    fn start(
        url: &DatabaseUrl,
        book: &Bookkeeping,
        holder: Holder,
        lease: Option<u64>,
    ) -> Result<Reporter, RuntimeError> {
        let conn = Connection::open(url, OpenMode::ReadWrite)?;
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
                        let set = [
                            ("revision", Value::Text(revision)),
                            ("direction", Value::Text(direction.as_str().into())),
                        ];
                        state.update(&set);
                        reported = Instant::now();
                    }
                    Err(RecvTimeoutError::Timeout) => state.update(&[]),
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
        let seed = self.dialect.insert_ignore_sql(&self.table, &[("id", Value::Integer(1))]);
        let claim = self.dialect.take_lock_row_sql(&self.table, &self.holder.columns(), None);
        self.claimed = self.conn.execute_count(&seed).is_ok() && matches!(self.conn.execute_count(&claim), Ok(1));
    }

    /// Sets `set` on the row and renews the lease. With a lease, a row that
    /// no longer names this holder means the lease ran out and another run
    /// took it; a failed statement is tried again at the next tick.
    fn update(&mut self, set: &[(&str, Value)]) {
        self.claim();
        if self.lost || !self.claimed || (set.is_empty() && self.lease.is_none()) {
            return;
        }
        let sql = self.dialect.update_lock_row_sql(&self.table, &self.holder.id, set, self.lease);
        if let Ok(0) = self.conn.execute_count(&sql) {
            self.lost = self.lease.is_some();
        }
    }

    fn release(mut self) -> Result<(), RuntimeError> {
        let sql = self.dialect.release_lock_row_sql(&self.table, &self.holder.id);
        let released = if self.claimed { self.conn.execute_count(&sql)? } else { 0 };
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
    let rows: Vec<LockRow> = conn.load(&dialect.read_lock_row_sql(&book.lock_table, &book.version_table, cluster))?;
    Ok(rows.into_iter().next().filter(|r| r.live.as_deref() == Some("1")).map(|r| LiveRun {
        host: r.host.unwrap_or_default(),
        pid: r.pid.and_then(|p| p.trim().parse().ok()).unwrap_or_default(),
        since: r.acquired_at.unwrap_or_default(),
        revision: r.revision,
        direction: r.direction,
        lease_until: if kind == RunLockKind::LeaseRow { r.expires_at } else { None },
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
