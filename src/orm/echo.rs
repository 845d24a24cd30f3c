//! Echo: every statement a session sends, with its duration and outcome, to
//! the `log` crate, to a function of the application's, or to a
//! [`StatementHook`] called before and after each statement (logging,
//! metrics). Parameter values are redacted unless the application asks to
//! see them.

use crate::db::{StatementObserver, StatementRecord};
use crate::dialect::Dialect;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The `log` target echoed statements are written to.
pub const LOG_TARGET: &str = "migrate::sql";

/// Where echoed statements go.
#[derive(Clone)]
enum Sink {
    Log,
    Callback(Arc<dyn Fn(&StatementEvent<'_>) + Send + Sync>),
    Hook(Arc<dyn StatementHook>),
}

/// Called around every statement of the pool's sessions (see [`Echo::hook`]):
/// the SQL, the parameters (redacted unless the echo shows them) and, after
/// it, the duration and outcome. Both methods are no-ops by default.
pub trait StatementHook: Send + Sync {
    /// As the statement is sent.
    fn before_execute(&self, statement: &StatementStart<'_>) {
        let _ = statement;
    }
    /// Once it has its result.
    fn after_execute(&self, event: &StatementEvent<'_>) {
        let _ = event;
    }
}

/// A statement about to be sent, as a [`StatementHook`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct StatementStart<'a> {
    /// The SQL text, with placeholders.
    pub sql: &'a str,
    /// Whether it is sent with parameters.
    pub has_parameters: bool,
    /// Their values, only when the echo shows them.
    pub parameters: Option<&'a str>,
}

/// An echo configuration: where statements go and whether their parameter
/// values are shown. Cheap to clone; a pool hands it to each session.
#[derive(Clone)]
pub struct Echo {
    sink: Sink,
    show_parameters: bool,
}

impl fmt::Debug for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = match self.sink {
            Sink::Log => "log",
            Sink::Callback(_) => "callback",
            Sink::Hook(_) => "hook",
        };
        f.debug_struct("Echo").field("sink", &sink).field("show_parameters", &self.show_parameters).finish()
    }
}

impl Echo {
    /// Echo to the `log` crate: target [`LOG_TARGET`], level `info` for
    /// statements that succeed and `warn` for those that fail.
    pub fn log() -> Self {
        Echo { sink: Sink::Log, show_parameters: false }
    }

    /// Echo to `callback`, called on the thread that ran the statement.
    pub fn callback(callback: impl Fn(&StatementEvent<'_>) + Send + Sync + 'static) -> Self {
        Echo { sink: Sink::Callback(Arc::new(callback)), show_parameters: false }
    }

    /// Calls `hook` before and after every statement, on the thread that
    /// runs it.
    pub fn hook(hook: impl StatementHook + 'static) -> Self {
        Echo { sink: Sink::Hook(Arc::new(hook)), show_parameters: false }
    }

    /// Shows parameter values (and the server's full error text) in what is
    /// echoed. Off by default: values may be personal data or secrets.
    pub fn show_parameters(mut self, show: bool) -> Self {
        self.show_parameters = show;
        self
    }

    /// Whether parameter values are shown.
    pub fn shows_parameters(&self) -> bool {
        self.show_parameters
    }

    /// Sends `event` to the sink.
    pub fn emit(&self, event: &StatementEvent<'_>) {
        match &self.sink {
            Sink::Log => {
                let level = if event.outcome.is_ok() { log::Level::Info } else { log::Level::Warn };
                log::log!(target: LOG_TARGET, level, "{event}");
            }
            Sink::Callback(callback) => callback(event),
            Sink::Hook(hook) => hook.after_execute(event),
        }
    }
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// It succeeded.
    Ok,
    /// It failed with `message` (values redacted unless the echo shows them).
    Failed {
        /// The server's message.
        message: &'a str,
    },
}

impl Outcome<'_> {
    /// Whether the statement succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

/// One statement as echoed. Its `Display` is the line the `log` sink writes:
/// `SQL -- parameters redacted -- 0.41 ms`.
pub struct StatementEvent<'a> {
    /// The SQL text as sent, with placeholders.
    pub sql: &'a str,
    /// Whether it was sent with parameters.
    pub has_parameters: bool,
    /// Their values as the driver shows them (`[7, "ann"]`), only when the
    /// echo shows them.
    pub parameters: Option<&'a str>,
    /// From sending it to having its result.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome<'a>,
}

impl fmt::Display for StatementEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql)?;
        match (self.has_parameters, self.parameters) {
            (_, Some(values)) => write!(f, " -- parameters: {values}")?,
            (true, None) => f.write_str(" -- parameters redacted")?,
            (false, None) => {}
        }
        write!(f, " -- {:.2} ms", self.duration.as_secs_f64() * 1000.0)?;
        match self.outcome {
            Outcome::Ok => Ok(()),
            Outcome::Failed { message } => write!(f, ", failed: {message}"),
        }
    }
}

impl Echo {
    /// The observer a connection calls: each statement echoed, values and
    /// the server's quoting messages redacted by `dialect` unless shown.
    pub(crate) fn observer(&self, dialect: &'static dyn Dialect) -> StatementObserver {
        let echo = self.clone();
        let finished = StatementObserver::new(move |record: &StatementRecord<'_>| {
            let redacted = match (record.error, echo.show_parameters) {
                (Some(message), false) => Some(dialect.classify_failure(message, None).message),
                _ => None,
            };
            let outcome = match (&redacted, record.error) {
                (Some(message), _) => Outcome::Failed { message },
                (None, Some(message)) => Outcome::Failed { message },
                (None, None) => Outcome::Ok,
            };
            echo.emit(&StatementEvent {
                sql: record.sql,
                has_parameters: record.binds.is_some(),
                parameters: record.binds.filter(|_| echo.show_parameters),
                duration: record.duration,
                outcome,
            });
        });
        let Sink::Hook(hook) = &self.sink else { return finished };
        let (hook, show) = (Arc::clone(hook), self.show_parameters);
        finished.on_start(move |record: &StatementRecord<'_>| {
            hook.before_execute(&StatementStart {
                sql: record.sql,
                has_parameters: record.binds.is_some(),
                parameters: record.binds.filter(|_| show),
            });
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_only_when_asked() {
        let mut event = StatementEvent {
            sql: "SELECT 1",
            has_parameters: true,
            parameters: None,
            duration: Duration::from_micros(410),
            outcome: Outcome::Ok,
        };
        assert_eq!(event.to_string(), "SELECT 1 -- parameters redacted -- 0.41 ms");
        event.parameters = Some("[\"ann@x.io\"]");
        assert_eq!(event.to_string(), "SELECT 1 -- parameters: [\"ann@x.io\"] -- 0.41 ms");
        event.outcome = Outcome::Failed { message: "boom" };
        assert!(event.to_string().ends_with("ms, failed: boom"), "{event}");
    }
}
