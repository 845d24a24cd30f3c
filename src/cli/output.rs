//! How results reach the user: aligned, coloured text on a terminal, plain
//! text when piped, JSON with `--json`, nothing but errors with `--quiet`.

use migrate::db::Redactor;
use migrate::template::Template;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The output settings of one run.
/// Everything printed goes through its redactor.
pub struct Output {
    json: bool,
    quiet: bool,
    color: bool,
    redactor: Redactor,
}

/// A failed command as reported: `{"error": {...}}` under `--json`.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// A stable name of the kind of error.
    pub code: &'static str,
    /// The process's exit code.
    pub exit_code: u8,
    /// The one-line message.
    pub message: String,
    /// The file the error is in, where it is about one.
    pub file: Option<String>,
    /// The line in `file`, where known.
    pub line: Option<usize>,
    /// Advice, where there is some.
    pub hint: Option<&'static str>,
}

impl Failure {
    /// The report of a library error.
    pub fn of(error: &migrate::Error) -> Self {
        let (file, line) = error.location().map_or((None, None), |(f, l)| (Some(f), l));
        Failure {
            code: error.code(),
            exit_code: error.exit_code(),
            message: error.to_string(),
            file,
            line,
            hint: error.hint(),
        }
    }
}

impl Output {
    /// Settings from the flags and whether stdout is a terminal (`NO_COLOR`
    /// honoured); `redactor` scrubs the passwords of the run from all output.
    pub fn new(json: bool, quiet: bool, redactor: Redactor) -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output { json, quiet, color, redactor }
    }

    /// Plain text, whatever the terminal: for text that is compared.
    pub fn plain() -> Self {
        Output { json: false, quiet: false, color: false, redactor: Redactor::default() }
    }

    /// `text` in red, on a terminal.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// `text` in green, on a terminal.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in yellow, on a terminal.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Whether results should be printed as JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// `text` in bold, on a terminal.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// `text` dimmed, on a terminal.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Prints human text to stdout unless `--quiet`.
    pub fn text(&self, text: &str) {
        if !self.quiet {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`migrate inspect | head`) is not an error worth reporting.
            let _ = stdout.write_all(self.redactor.scrub(text).as_bytes());
        }
    }

    /// Prints `value` as pretty JSON to stdout (even with `--quiet`: it was
    /// asked for), each string scrubbed of passwords before it is escaped.
    pub fn print_json<T: Serialize>(&self, value: &T) {
        let mut value = serde_json::to_value(value).expect("result types serialise to JSON");
        self.scrub_json(&mut value);
        let text = serde_json::to_string_pretty(&value).expect("a JSON value serialises");
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    fn scrub_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = self.redactor.scrub(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            _ => {}
        }
    }

    /// Reports a failed command: with `--json`, as the one JSON document on
    /// stdout; otherwise the error (and a hint) on stderr, one line each.
    pub fn error(&self, failure: &Failure) {
        if self.json {
            return self.print_json(&serde_json::json!({ "error": failure }));
        }
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let label = if color { "\x1b[1;31merror\x1b[0m" } else { "error" };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{label}: {}", self.redactor.scrub(&failure.message));
        if let Some(hint) = &failure.hint {
            let _ = writeln!(stderr, "hint: {}", self.redactor.scrub(hint));
        }
    }

    /// Prints a note on stderr (where stdout is kept for results).
    pub fn note(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "note: {}", self.redactor.scrub(message));
    }

    /// Prints a warning on stderr (never on stdout, which `--json` keeps for its document).
    pub fn warning(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "warning: {}", self.redactor.scrub(message));
    }

    /// Reports what `init` created.
    pub fn created(&self, dir: &Path, template: &str, paths: &[PathBuf]) {
        if self.json {
            #[derive(Serialize)]
            struct Created<'a> {
                template: &'a str,
                created: &'a [PathBuf],
            }
            return self.print_json(&Created { template, created: paths });
        }
        let mut text = String::new();
        for path in paths {
            text.push_str(&format!("  created {}\n", path.display()));
        }
        text.push_str(&format!(
            "Initialised {} from template `{template}`. Edit migrate.toml, declare models, then run\n  migrate revision --autogenerate -m \"first\"\n",
            dir.display()
        ));
        self.text(&text);
    }

    /// Lists the templates.
    pub fn templates(&self, templates: &[Template]) {
        if self.json {
            return self.print_json(&templates);
        }
        let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let mut text = String::from("Available templates:\n\n");
        for t in templates {
            let name = format!("{:width$}", t.name);
            text.push_str(&format!("  {}  {}\n", self.bold(&name), t.description.trim()));
        }
        text.push_str("\nUse one with: migrate init --template NAME [DIRECTORY]\n");
        self.text(&text);
    }
}
