//! Echo: every statement a session sends, with its duration and outcome, to
//! the `log` crate or to a function of the application's. Parameter values
//! are redacted unless the application asks to see them.

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
        }
    }
}

/// The parameters a statement was sent with.
#[derive(Clone, Copy)]
pub struct Parameters<'a> {
    /// How many there are.
    pub count: usize,
    /// Their values, only when the echo shows them.
    pub values: Option<&'a dyn fmt::Debug>,
}

impl Parameters<'_> {
    /// No parameters.
    pub const NONE: Parameters<'static> = Parameters { count: 0, values: None };
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// It succeeded, having returned or changed `rows` rows where known.
    Ok {
        /// Rows returned or affected.
        rows: Option<usize>,
    },
    /// It failed with `message` (values redacted unless the echo shows them).
    Failed {
        /// The server's message.
        message: &'a str,
    },
}

impl Outcome<'_> {
    /// Whether the statement succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }
}

/// One statement as echoed. Its `Display` is the line the `log` sink writes:
/// `SQL -- 2 parameters (redacted) -- 0.41 ms, 1 row`.
pub struct StatementEvent<'a> {
    /// The SQL text as sent, with placeholders.
    pub sql: &'a str,
    /// Its parameters.
    pub parameters: Parameters<'a>,
    /// From sending it to having its result.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome<'a>,
}

impl fmt::Display for StatementEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql)?;
        match (self.parameters.count, self.parameters.values) {
            (0, _) => {}
            (_, Some(values)) => write!(f, " -- parameters: {values:?}")?,
            (1, None) => f.write_str(" -- 1 parameter (redacted)")?,
            (n, None) => write!(f, " -- {n} parameters (redacted)")?,
        }
        write!(f, " -- {:.2} ms", self.duration.as_secs_f64() * 1000.0)?;
        match self.outcome {
            Outcome::Ok { rows: Some(1) } => f.write_str(", 1 row"),
            Outcome::Ok { rows: Some(n) } => write!(f, ", {n} rows"),
            Outcome::Ok { rows: None } => Ok(()),
            Outcome::Failed { message } => write!(f, ", failed: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_only_when_asked() {
        let values = ["ann@x.io".to_string()];
        let mut event = StatementEvent {
            sql: "SELECT 1",
            parameters: Parameters { count: 1, values: None },
            duration: Duration::from_micros(410),
            outcome: Outcome::Ok { rows: Some(1) },
        };
        assert_eq!(event.to_string(), "SELECT 1 -- 1 parameter (redacted) -- 0.41 ms, 1 row");
        event.parameters.values = Some(&values);
        assert_eq!(event.to_string(), "SELECT 1 -- parameters: [\"ann@x.io\"] -- 0.41 ms, 1 row");
        event.outcome = Outcome::Failed { message: "boom" };
        assert!(event.to_string().ends_with("ms, failed: boom"), "{event}");
    }
}
