//! Many databases at once: one command over a list of databases, in
//! parallel with a bounded number of workers, each database with its own
//! outcome. A failure in one does not stop the others (unless asked).
//!
//! Each database runs the same library function a single-database command
//! runs (`upgrade`, `current`, ...), so it keeps that command's lock,
//! checksums and history.

use crate::Error;
use crate::config::DatabaseConfig;
use crate::db::DatabaseUrl;
use crate::runtime::Event;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Workers when none are asked for: enough to overlap the servers' round
/// trips, few enough not to flood a server with connections.
pub const DEFAULT_JOBS: usize = 8;

/// One database of the list.
#[derive(Debug)]
pub struct Member {
    /// Its name under `[databases]`, or where it is listed (`tenants.txt:3`).
    pub name: String,
    /// Its URL, or why there is none (no URL configured, an unreadable one).
    pub url: Result<DatabaseUrl, ErrorReport>,
    /// Its settings: script location, version table, lock timeout, ...
    pub database: DatabaseConfig,
}

/// An error as reported for one database: a stable code, the exit code the
/// single-database command would end with, and the one-line message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// The error's kind, as in `--json` error documents.
    pub code: &'static str,
    /// The exit code of the same command on this database alone.
    pub exit_code: u8,
    /// The message (URLs in it redacted).
    pub message: String,
}

impl From<&Error> for ErrorReport {
    fn from(error: &Error) -> Self {
        ErrorReport { code: error.code(), exit_code: error.exit_code(), message: error.to_string() }
    }
}

/// What the command did on one database, when it ran to the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    /// Revisions applied (or undone, or stamped), in order.
    pub applied: Vec<String>,
    /// Where the database is afterwards.
    pub heads: Vec<String>,
    /// A check found something (drift, not at the heads): exit 1 alone.
    pub found: bool,
    /// A word on the result for the summary (`in sync`, `3 ops differ`).
    pub note: Option<String>,
}

/// How one database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The command succeeded.
    Ok,
    /// The command ran and a check found something (exit 1 alone).
    Found,
    /// The command failed (exit 2 or 3 alone).
    Failed,
    /// Not started: `--fail-fast` stopped the run after a failure elsewhere.
    Skipped,
}

/// One database's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseOutcome {
    /// Its name under `[databases]`, or where it is listed (`tenants.txt:3`).
    pub name: String,
    /// Its URL, password redacted; `null` when it has none.
    pub database: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Revisions applied (undone, stamped), in order.
    pub applied: Vec<String>,
    /// Where the database is afterwards (empty when it failed).
    pub heads: Vec<String>,
    /// Wall-clock milliseconds for this database.
    pub elapsed_ms: f64,
    /// A word on the result (`in sync`, `3 ops differ`).
    pub note: Option<String>,
    /// Why it failed.
    pub error: Option<ErrorReport>,
}

/// What a run over many databases did, in the order they were listed.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// One entry per database, in the order of the list.
    pub databases: Vec<DatabaseOutcome>,
    /// How many ended `ok`.
    pub ok: usize,
    /// How many ended `found`.
    pub found: usize,
    /// How many failed.
    pub failed: usize,
    /// How many `--fail-fast` left unstarted.
    pub skipped: usize,
    /// Wall-clock milliseconds for the whole run.
    pub elapsed_ms: f64,
}

impl FleetReport {
    /// The exit code of the whole run: 0 when every database succeeded,
    /// else the highest a database would have ended with alone (1 when
    /// checks only found something, 2 for configuration, 3 for database errors).
    pub fn exit_code(&self) -> u8 {
        self.databases
            .iter()
            .map(|d| match d.outcome {
                // A skipped database is skipped because another failed: that one sets the code.
                Outcome::Ok | Outcome::Skipped => 0,
                Outcome::Found => 1,
                Outcome::Failed => d.error.as_ref().map_or(3, |e| e.exit_code.max(1)),
            })
            .max()
            .unwrap_or(0)
    }
}

/// How to run over many databases.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Databases worked on at once (at least 1).
    pub jobs: usize,
    /// Start no further database once one has failed.
    pub fail_fast: bool,
}

/// What happens during a run over many databases, for a progress display.
/// `index` is the database's position in the list.
#[derive(Debug)]
pub enum FleetEvent<'a> {
    /// Work on a database starts.
    Started {
        /// The database's position in the list.
        index: usize,
        /// Its name.
        name: &'a str,
    },
    /// A revision of that database starts or finishes.
    Step {
        /// The database's position in the list.
        index: usize,
        /// What the run did.
        event: Event<'a>,
    },
    /// A database is done (or skipped).
    Finished {
        /// The database's position in the list.
        index: usize,
        /// How it ended.
        outcome: &'a DatabaseOutcome,
    },
}

/// Runs `action` on every member, `options.jobs` at a time, and reports each
/// database's outcome in the order of `members`. `on_event` is called from
/// the worker threads.
pub fn run_fleet<A, P>(members: &[Member], options: FleetOptions, action: A, on_event: P) -> FleetReport
where
    A: Fn(&DatabaseUrl, &DatabaseConfig, &mut dyn FnMut(Event<'_>)) -> Result<Done, Error> + Sync,
    P: Fn(FleetEvent<'_>) + Sync,
{
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<DatabaseOutcome>>> = Mutex::new(vec![None; members.len()]);
    let worker = || {
        loop {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(member) = members.get(index) else { break };
            let outcome = if stop.load(Ordering::SeqCst) {
                skipped(member)
            } else {
                on_event(FleetEvent::Started { index, name: &member.name });
                let outcome = run_one(member, &action, &mut |event| on_event(FleetEvent::Step { index, event }));
                if options.fail_fast && outcome.outcome == Outcome::Failed {
                    stop.store(true, Ordering::SeqCst);
                }
                outcome
            };
            on_event(FleetEvent::Finished { index, outcome: &outcome });
            results.lock().unwrap_or_else(|poisoned| poisoned.into_inner())[index] = Some(outcome);
        }
    };
    let workers = options.jobs.clamp(1, members.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(worker);
        }
    });
    let databases: Vec<DatabaseOutcome> = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .map(|o| o.expect("every member is run or skipped before the workers end"))
        .collect();
    let count = |which: Outcome| databases.iter().filter(|d| d.outcome == which).count();
    FleetReport {
        ok: count(Outcome::Ok),
        found: count(Outcome::Found),
        failed: count(Outcome::Failed),
        skipped: count(Outcome::Skipped),
        databases,
        elapsed_ms: millis(started.elapsed()),
    }
}

fn run_one<A>(member: &Member, action: &A, on_event: &mut dyn FnMut(Event<'_>)) -> DatabaseOutcome
where
    A: Fn(&DatabaseUrl, &DatabaseConfig, &mut dyn FnMut(Event<'_>)) -> Result<Done, Error>,
{
    let started = Instant::now();
    let result = match &member.url {
        Ok(url) => action(url, &member.database, on_event).map_err(|e| {
            let mut report = ErrorReport::from(&e);
            report.message = url.scrub(&report.message);
            report
        }),
        Err(report) => Err(report.clone()),
    };
    let database = member.url.as_ref().ok().map(ToString::to_string);
    let elapsed_ms = millis(started.elapsed());
    match result {
        Ok(done) => DatabaseOutcome {
            name: member.name.clone(),
            database,
            outcome: if done.found { Outcome::Found } else { Outcome::Ok },
            applied: done.applied,
            heads: done.heads,
            elapsed_ms,
            note: done.note,
            error: None,
        },
        Err(error) => DatabaseOutcome {
            name: member.name.clone(),
            database,
            outcome: Outcome::Failed,
            applied: Vec::new(),
            heads: Vec::new(),
            elapsed_ms,
            note: None,
            error: Some(error),
        },
    }
}

fn skipped(member: &Member) -> DatabaseOutcome {
    DatabaseOutcome {
        name: member.name.clone(),
        database: member.url.as_ref().ok().map(ToString::to_string),
        outcome: Outcome::Skipped,
        applied: Vec::new(),
        heads: Vec::new(),
        elapsed_ms: 0.0,
        note: Some("not started: --fail-fast after a failure".into()),
        error: None,
    }
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn members(n: usize) -> Vec<Member> {
        let config = Config::parse("", Path::new("/p/migrate.toml")).unwrap();
        (0..n)
            .map(|i| Member {
                name: format!("db{i}"),
                url: Ok(DatabaseUrl::parse(&format!("sqlite:/nonexistent/db{i}.db")).unwrap()),
                database: config.database(None).unwrap(),
            })
            .collect()
    }

    fn action(url: &DatabaseUrl, _: &DatabaseConfig, _: &mut dyn FnMut(Event<'_>)) -> Result<Done, Error> {
        match url.sqlite_path() {
            Some(p) if p.ends_with("db3.db") => Err(Error::Usage("db3 is broken".into())),
            _ => Ok(Done { applied: vec!["r1".into()], heads: vec!["r1".into()], ..Done::default() }),
        }
    }

    #[test]
    fn one_failure_does_not_stop_the_others_and_order_is_kept() {
        let report = run_fleet(&members(10), FleetOptions { jobs: 3, fail_fast: false }, action, |_| {});
        let names: Vec<&str> = report.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, (0..10).map(|i| format!("db{i}")).collect::<Vec<_>>());
        assert_eq!((report.ok, report.failed, report.skipped), (9, 1, 0));
        assert_eq!(report.databases[3].error.as_ref().unwrap().message, "db3 is broken");
        assert_eq!(report.exit_code(), 2);
    }

    #[test]
    fn fail_fast_starts_nothing_after_a_failure() {
        let report = run_fleet(&members(10), FleetOptions { jobs: 1, fail_fast: true }, action, |_| {});
        assert_eq!((report.ok, report.failed, report.skipped), (3, 1, 6));
        assert!(report.databases[4..].iter().all(|d| d.outcome == Outcome::Skipped));
    }

    #[test]
    fn all_ok_exits_0_and_no_databases_too() {
        let ok = |_: &DatabaseUrl, _: &DatabaseConfig, _: &mut dyn FnMut(Event<'_>)| Ok(Done::default());
        assert_eq!(run_fleet(&members(4), FleetOptions { jobs: 8, fail_fast: false }, ok, |_| {}).exit_code(), 0);
        assert_eq!(run_fleet(&[], FleetOptions { jobs: 8, fail_fast: false }, ok, |_| {}).exit_code(), 0);
    }
}
