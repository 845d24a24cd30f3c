//! Rendering a plan to SQL, and running it.

use super::effect::is_data;
use super::version::{VersionChange, history};
use super::{Bookkeeping, HistoryEntry, RuntimeError};
use crate::db::Connection;
use crate::dialect::Dialect;
use crate::dialect::query::QueryError;
use crate::ops::Op;
use crate::orm::exec;
use crate::orm::query::{Statement, Update, text};
use crate::schema::Schema;
use crate::script::{Direction, RevisionMap, Step};
use std::time::{Duration, Instant};

/// One op of a step, rendered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpSql {
    /// The op as the revision file has it.
    pub op: Op,
    /// Its label (`Op::label`).
    pub label: String,
    /// Its statements.
    pub statements: Vec<String>,
    /// Whether it only changes rows: transactional even where DDL commits at
    /// once, so its rows commit together with the record that they are in.
    pub data: bool,
}

/// One step of a plan, rendered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepSql {
    /// The revision.
    pub revision: String,
    /// Its message.
    pub message: String,
    /// Up or down.
    pub direction: Direction,
    /// Checksum of its file.
    pub checksum: String,
    /// Its file's text, recorded in the history to show later edits.
    #[serde(skip)]
    pub source: String,
    /// Its ops, rendered.
    pub ops: Vec<OpSql>,
    /// How many leading ops commit on their own before the rest runs (new
    /// PostgreSQL enum values, usable only once committed); 0 for none.
    pub committed_first: usize,
    /// The version-table change.
    #[serde(skip)]
    pub version: Vec<VersionChange>,
    /// The heads after this step.
    pub heads_after: Vec<String>,
}

impl StepSql {
    /// Every statement of the step, ops then version table (its values
    /// written as literals of `dialect`), in order.
    pub fn statements(&self, dialect: &dyn Dialect) -> Result<Vec<String>, QueryError> {
        let mut statements: Vec<String> = self.ops.iter().flat_map(|op| op.statements.iter().cloned()).collect();
        for change in &self.version {
            statements.push(change.to_literal_sql(dialect)?);
        }
        Ok(statements)
    }
}

/// Renders `steps` for `dialect`, starting from a database whose schema is
/// `state` (updated as the ops would change it).
pub fn render_plan(
    dialect: &dyn Dialect,
    map: &RevisionMap,
    book: &Bookkeeping,
    steps: &[Step],
    state: &mut Schema,
) -> Result<Vec<StepSql>, RuntimeError> {
    steps
        .iter()
        .map(|step| {
            let revision = map.get(&step.revision).expect("a plan names revisions of its map");
            let ops = match step.direction {
                Direction::Up => &revision.file.upgrade,
                Direction::Down => &revision.file.downgrade,
            };
            let leading = ops.iter().take_while(|op| dialect.commit_before_use(op)).count();
            let mut rendered = Vec::with_capacity(ops.len());
            for op in ops {
                let statements = dialect.render_op(op, state).map_err(|error| RuntimeError::RenderRevision {
                    revision: step.revision.clone(),
                    path: revision.path.display().to_string(),
                    error,
                })?;
                let data = is_data(dialect, op, &statements);
                rendered.push(OpSql { op: op.clone(), label: op.label(), statements, data });
                // What raw SQL or an unknown table does is not known: the
                // state then stays as it was, and an op that needs it says so.
                let _ = state.apply(op);
            }
            Ok(StepSql {
                revision: step.revision.clone(),
                message: revision.file.message.clone(),
                direction: step.direction,
                checksum: revision.checksum.clone(),
                source: revision.source.clone(),
                ops: rendered,
                committed_first: if leading < ops.len() { leading } else { 0 },
                version: book.version_statements(&step.heads_before, &step.heads_after),
                heads_after: step.heads_after.clone(),
            })
        })
        .collect()
}

/// The whole plan as an SQL script (offline mode): version tables first when
/// `create` holds their definitions, then each revision in its transaction.
pub fn offline_sql(dialect: &dyn Dialect, create: &[String], plan: &[StepSql]) -> Result<String, RuntimeError> {
    let mut out = format!("-- migrate: offline SQL for {}\n", dialect.name());
    for statement in create {
        out.push_str(&format!("\n{statement};\n"));
    }
    for step in plan {
        let arrow = match step.direction {
            Direction::Up => "upgrade to",
            Direction::Down => "downgrade from",
        };
        out.push_str(&format!("\n-- {arrow} {}: {}\n{};\n", step.revision, step.message, dialect.begin()));
        for (index, op) in step.ops.iter().enumerate() {
            for statement in &op.statements {
                out.push_str(&format!("{statement};\n"));
            }
            if index + 1 == step.committed_first {
                out.push_str(&format!("{};\n{};\n", dialect.commit(), dialect.begin()));
            }
        }
        for change in &step.version {
            out.push_str(&format!("{};\n", change.to_literal_sql(dialect).map_err(crate::orm::Error::from)?));
        }
        out.push_str(&format!("{};\n", dialect.commit()));
    }
    Ok(out)
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A step starts.
    Started {
        /// 0-based.
        index: usize,
        /// Steps in the plan.
        total: usize,
        /// The step.
        step: &'a StepSql,
    },
    /// A step finished.
    Finished {
        /// 0-based.
        index: usize,
        /// The step.
        step: &'a StepSql,
        /// How long it took.
        elapsed: Duration,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    /// Per step: revision, direction and time taken.
    pub steps: Vec<StepReport>,
    /// The heads the database is at afterwards.
    pub heads: Vec<String>,
}

/// One step that ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    /// The revision.
    pub revision: String,
    /// Its message.
    pub message: String,
    /// Up or down.
    pub direction: Direction,
    /// Milliseconds.
    pub elapsed_ms: f64,
    /// The statements run (without the history table's).
    pub statements: Vec<String>,
}

/// Where a step starts: after `ops` whole ops and the first `statements`
/// statements of the next (resuming what a failure left partly applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Ops completed.
    pub ops: usize,
    /// Statements of the next op completed.
    pub statements: usize,
}

/// A run against one connection, the lock already held.
pub struct Run<'a> {
    /// The connection.
    pub conn: &'a mut Connection,
    /// Its dialect.
    pub dialect: &'a dyn Dialect,
    /// The tool's tables.
    pub book: &'a Bookkeeping,
    /// One transaction for the whole run instead of one per revision
    /// (where DDL is transactional).
    pub one_transaction: bool,
}

impl Run<'_> {
    /// Runs `plan`; the first step starts at `resume` (a partly applied
    /// revision finished).
    pub fn execute(
        &mut self,
        plan: &[StepSql],
        resume: Resume,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<RunReport, RuntimeError> {
        let mut report = RunReport::default();
        let whole = self.whole_run();
        if whole {
            self.conn.execute(self.dialect.begin())?;
        }
        let mut row = None;
        for (index, step) in plan.iter().enumerate() {
            on_event(Event::Started { index, total: plan.len(), step });
            let started = Instant::now();
            let resume = if index == 0 { resume } else { Resume::default() };
            if self.dialect.transactional_ddl() {
                self.step_in_transaction(step)?;
            } else {
                row = self.step_with_progress(step, resume, row, plan.get(index + 1))?;
            }
            let elapsed = started.elapsed();
            on_event(Event::Finished { index, step, elapsed });
            report.steps.push(StepReport {
                revision: step.revision.clone(),
                message: step.message.clone(),
                direction: step.direction,
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                statements: step.statements(self.dialect).map_err(crate::orm::Error::from)?,
            });
            report.heads = step.heads_after.clone();
        }
        if whole {
            self.conn.execute(self.dialect.commit())?;
        }
        Ok(report)
    }

    /// The history row of an attempt at `step` that starts at `resume`.
    fn entry(step: &StepSql, resume: Resume) -> HistoryEntry {
        HistoryEntry {
            id: 0,
            revision: step.revision.clone(),
            direction: step.direction.as_str().into(),
            checksum: step.checksum.clone(),
            started_at: now(),
            finished_at: None,
            outcome: "running".into(),
            ops_done: resume.ops,
            statements_done: resume.statements,
            failed_op: None,
            error: None,
            uncertain: false,
            source: Some(step.source.clone()),
        }
    }

    /// Where DDL is transactional: the whole step (or run) commits or
    /// nothing does, and its history row is written in the same transaction.
    fn step_in_transaction(&mut self, step: &StepSql) -> Result<(), RuntimeError> {
        let mut entry = Self::entry(step, Resume::default());
        if !self.whole_run() {
            self.conn.execute(self.dialect.begin())?;
        }
        for (index, op) in step.ops.iter().enumerate() {
            for (number, statement) in op.statements.iter().enumerate() {
                if let Err(e) = self.conn.execute(statement) {
                    let at = Resume { ops: index, statements: number };
                    return Err(self.fail(step, entry, at, &op.label, e.to_string()));
                }
            }
            if index + 1 == step.committed_first && !self.whole_run() {
                self.conn.execute(self.dialect.commit())?;
                self.conn.execute(self.dialect.begin())?;
            }
        }
        self.check_foreign_keys(step, &entry)?;
        if let Err(e) = self.book.apply_version(self.conn, &step.revision, &step.version) {
            let _ = self.conn.execute(self.dialect.rollback());
            return Err(e);
        }
        entry.finished_at = Some(now());
        entry.outcome = "ok".into();
        entry.ops_done = step.ops.len();
        self.book.insert_history(self.conn, &entry)?;
        if !self.whole_run() {
            self.conn.execute(self.dialect.commit())?;
        }
        Ok(())
    }

    /// Where DDL commits at once (MySQL/MariaDB): the step's history row is
    /// written first and kept exact at every instant. Before each DDL
    /// statement it records that the statement started (`uncertain`: a crash
    /// there leaves its effect to be read from the schema); each data op
    /// commits in one transaction with the record that it is done, so rows a
    /// rollback undid are never counted. The last op's record, the
    /// version-table change and the `running` row of the `next` step commit
    /// together, so a step costs one commit more than its own statements
    /// only where it has data ops. `row` is this step's row when the step
    /// before wrote it; returns the next step's.
    fn step_with_progress(
        &mut self,
        step: &StepSql,
        resume: Resume,
        row: Option<i64>,
        next: Option<&StepSql>,
    ) -> Result<Option<i64>, RuntimeError> {
        let mut entry = Self::started_entry(step, resume);
        // The first DDL statement's start is recorded by the row itself.
        let mut recorded = entry.uncertain.then_some((resume.ops, resume.statements));
        entry.id = match row {
            Some(id) => id,
            None => self.book.insert_history(self.conn, &entry)?,
        };
        let last = step.ops.len();
        let mut in_transaction = false;
        for (index, op) in step.ops.iter().enumerate().skip(resume.ops) {
            let skip = if index == resume.ops { resume.statements } else { 0 };
            if op.data {
                self.conn.execute(self.dialect.begin())?;
                in_transaction = true;
            }
            for (number, statement) in op.statements.iter().enumerate().skip(skip) {
                if !op.data && recorded != Some((index, number)) {
                    Bookkeeping::write(self.conn, &self.progress(entry.id, index, number, true))?;
                }
                recorded = None;
                if let Err(e) = self.conn.execute(statement) {
                    let at = Resume { ops: index, statements: if op.data { skip } else { number } };
                    return Err(self.fail(step, entry, at, &op.label, e.to_string()));
                }
            }
            if op.data && index + 1 < last {
                Bookkeeping::write(self.conn, &self.progress(entry.id, index + 1, 0, false))?;
                self.conn.execute(self.dialect.commit())?;
                in_transaction = false;
            }
        }
        if !in_transaction {
            self.conn.execute(self.dialect.begin())?;
        }
        self.check_foreign_keys(step, &entry)?;
        if let Err(e) = self.book.apply_version(self.conn, &step.revision, &step.version) {
            let _ = self.conn.execute(self.dialect.rollback());
            return Err(e);
        }
        let done = self
            .book
            .update_history(entry.id)
            .set(history::OUTCOME, "ok")
            .set(history::OPS_DONE, last as i64)
            .set(history::STATEMENTS_DONE, 0)
            .set(history::UNCERTAIN, 0)
            .set(history::FINISHED_AT, now());
        Bookkeeping::write(self.conn, &done)?;
        let next_row = match next {
            Some(next) => Some(self.book.insert_history(self.conn, &Self::started_entry(next, Resume::default()))?),
            None => None,
        };
        self.conn.execute(self.dialect.commit())?;
        Ok(next_row)
    }

    /// The `running` row of an attempt at `step` from `resume`, recording
    /// that its first statement starts when that is DDL.
    fn started_entry(step: &StepSql, resume: Resume) -> HistoryEntry {
        let mut entry = Self::entry(step, resume);
        let first = step.ops.get(resume.ops);
        entry.uncertain = first.is_some_and(|op| !op.data && resume.statements < op.statements.len());
        entry
    }

    /// Records on history row `id` that `statements` statements of op `ops`
    /// are done, and whether the next one has started.
    fn progress(&self, id: i64, ops: usize, statements: usize, started: bool) -> Update {
        self.book
            .update_history(id)
            .set(history::OPS_DONE, ops as i64)
            .set(history::STATEMENTS_DONE, statements as i64)
            .set(history::UNCERTAIN, i64::from(started))
    }

    /// Fails the step if rows point at rows that no longer exist (SQLite,
    /// where rebuilds run with enforcement off).
    fn check_foreign_keys(&mut self, step: &StepSql, entry: &HistoryEntry) -> Result<(), RuntimeError> {
        let Some(check) = self.dialect.foreign_key_check() else { return Ok(()) };
        let Some(table) = exec::fetch_optional::<String>(self.conn, &text(check))? else { return Ok(()) };
        let last = Resume { ops: step.ops.len().saturating_sub(1), statements: 0 };
        let label = step.ops.last().map(|op| op.label.as_str()).unwrap_or("commit");
        let message = format!("rows of `{table}` refer to rows that no longer exist (foreign key check)");
        Err(self.fail(step, entry.clone(), last, label, message))
    }

    fn whole_run(&self) -> bool {
        self.one_transaction && self.dialect.transactional_ddl()
    }

    /// Rolls back what can be rolled back, records the failure (`at`: what
    /// had completed), and says what state the database is in.
    fn fail(
        &mut self,
        step: &StepSql,
        mut entry: HistoryEntry,
        at: Resume,
        label: &str,
        message: String,
    ) -> RuntimeError {
        let _ = self.conn.execute(self.dialect.rollback());
        let transactional = self.dialect.transactional_ddl();
        entry.outcome = "failed".into();
        entry.finished_at = Some(now());
        entry.failed_op = Some(label.to_string());
        entry.error = Some(message.clone());
        let state = if transactional {
            entry.ops_done = 0;
            entry.statements_done = 0;
            let _ = self.book.insert_history(self.conn, &entry);
            if self.whole_run() {
                "the database is as it was before this run".to_string()
            } else if step.committed_first > 0 && at.ops >= step.committed_first {
                format!(
                    "the database is as it was before this revision but for its first {} ops, new enum values \
                     committed first ({} cannot use a value in the transaction that adds it)",
                    step.committed_first,
                    self.dialect.name()
                )
            } else {
                "the database is as it was before this revision".to_string()
            }
        } else {
            let failed = self
                .book
                .update_history(entry.id)
                .set(history::OUTCOME, "failed")
                .set(history::OPS_DONE, at.ops as i64)
                .set(history::STATEMENTS_DONE, at.statements as i64)
                .set(history::UNCERTAIN, 0)
                .set(history::FAILED_OP, label)
                .set(history::ERROR, message.as_str())
                .set(history::FINISHED_AT, now());
            let _ = Bookkeeping::write(self.conn, &failed);
            let of_failed = match at.statements {
                0 => String::new(),
                n => format!(" and {n} of the {} statements of the failed op", step.ops[at.ops].statements.len()),
            };
            format!(
                "{} of its {} ops{of_failed} stayed applied ({} commits DDL at once); fix the cause, then \
                 `migrate {} --resume` runs the rest, or `migrate stamp` records the state by hand",
                at.ops,
                step.ops.len(),
                self.dialect.name(),
                match step.direction {
                    Direction::Up => "upgrade",
                    Direction::Down => "downgrade",
                }
            )
        };
        RuntimeError::StepFailed {
            direction: match step.direction {
                Direction::Up => "upgrade to",
                Direction::Down => "downgrade from",
            },
            revision: step.revision.clone(),
            op_number: at.ops + 1,
            op: label.to_string(),
            message,
            state,
        }
    }
}

/// Now, RFC 3339 UTC with microseconds.
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
