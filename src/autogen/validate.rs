//! Checks a plan's ops against the schema they apply to, before anything
//! runs: what they name must exist (the reflected schema plus the ops before
//! them), and the backend must be able to run them.

use crate::dialect::Dialect;
use crate::ops::Op;
use crate::schema::Schema;

/// An op that cannot run where it is going to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{op}: {message}; nothing was run", .revision.as_ref().map(|r| format!("revision {r}: ")).unwrap_or_default())]
pub struct InvalidOp {
    /// The revision holding the op; `None` for ops compared from the models.
    pub revision: Option<String>,
    /// The op, as `Op::label` names it.
    pub op: String,
    /// What is wrong.
    pub message: String,
}

/// Walks ops in the order they run, keeping the schema they leave.
pub struct Validator<'a> {
    dialect: &'a dyn Dialect,
    state: Schema,
    unknown: &'a dyn Fn(&str) -> bool,
    /// Set after an `execute` op: what raw SQL did to the schema is not
    /// known, so names are no longer checked (no false errors).
    opaque: bool,
}

impl<'a> Validator<'a> {
    /// Starts from `state`; `unknown` tells the tables outside the reflected
    /// names (filtered out), whose absence says nothing.
    pub fn new(dialect: &'a dyn Dialect, state: Schema, unknown: &'a dyn Fn(&str) -> bool) -> Self {
        Validator { dialect, state, unknown, opaque: false }
    }

    /// Stops checking names from here on (a revision resumed half-way: its
    /// first ops may have run already).
    pub fn forget_names(&mut self) {
        self.opaque = true;
    }

    /// Checks `ops` of `revision` in order and applies them to the state.
    pub fn ops(&mut self, revision: Option<&str>, ops: &[Op]) -> Result<(), InvalidOp> {
        for op in ops {
            let fail = |message: String| InvalidOp { revision: revision.map(str::to_string), op: op.label(), message };
            if let Some(message) = self.dialect.cannot_run(op) {
                return Err(fail(format!("{} cannot run it: {message}", self.dialect.name())));
            }
            let outside = op.table_name().is_some_and(|t| (self.unknown)(t) && self.state.table(t).is_none());
            if self.opaque || outside {
                let _ = self.state.apply(op);
            } else {
                self.state.check(op, self.unknown).map_err(|e| fail(e.message.clone()))?;
                self.state.apply(op).map_err(|e| fail(e.message))?;
            }
            if matches!(op, Op::Execute(_)) {
                self.opaque = true;
            }
        }
        Ok(())
    }

    /// The schema after the ops checked so far.
    pub fn state(&self) -> &Schema {
        &self.state
    }
}
