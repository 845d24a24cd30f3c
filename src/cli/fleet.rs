//! `--all` / `--databases FILE`: `upgrade`, `downgrade`, `current`, `check`
//! and `stamp` over many databases at once, a progress line per database on
//! a terminal, then a summary table (or one JSON document).

use super::output::Output;
use super::{Cli, Command, load_config};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use migrate::Error;
use migrate::command::fleet::{
    DEFAULT_JOBS, DatabaseOutcome, Done, ErrorReport, FleetEvent, FleetOptions, FleetReport, Member, Outcome, run_fleet,
};
use migrate::command::{self, RunOptions};
use migrate::config::DatabaseConfig;
use migrate::db::DatabaseUrl;
use migrate::runtime::{Event, RunReport};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The options that turn a command into a run over many databases.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// Run on every database under [databases] in migrate.toml (or in --databases FILE)
    #[arg(long)]
    pub all: bool,
    /// Run on every database listed in FILE: one URL or ${VARIABLE} per line, # comments
    #[arg(long, value_name = "FILE")]
    pub databases: Option<PathBuf>,
    /// With --all: how many databases to work on at once [default: 8]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// With --all: start no further database once one has failed
    #[arg(long)]
    pub fail_fast: bool,
}

impl FleetArgs {
    /// Whether the command runs over many databases.
    pub fn active(&self) -> bool {
        self.all || self.databases.is_some()
    }
}

/// Runs `cli`'s command over every database; the exit code of the whole run.
pub fn run(cli: &Cli, fleet: &FleetArgs, out: &Output) -> Result<u8, Error> {
    if cli.url.is_some() {
        return Err(Error::Usage("--all and --databases act on many databases: --url names one".into()));
    }
    match &cli.command {
        Command::Upgrade { sql: true, .. } | Command::Downgrade { sql: true, .. } => {
            return Err(Error::Usage("--sql prints one script: it does not go with --all".into()));
        }
        Command::Check { shadow: Some(_), .. } => {
            return Err(Error::Usage("--shadow checks one database: it does not go with --all".into()));
        }
        _ => {}
    }
    let (members, from_file) = members(cli, fleet)?;
    let fleet_options = FleetOptions { jobs: fleet.jobs.map_or(DEFAULT_JOBS, usize::from), fail_fast: fleet.fail_fast };
    // A listed database is shown by its (redacted) URL, a named one by its name.
    let labels = members
        .iter()
        .map(|m| match (&m.url, from_file) {
            (Ok(url), true) => url.to_string(),
            _ => m.name.clone(),
        })
        .collect();
    let progress = FleetProgress::new(cli.quiet || cli.json, labels);
    let on_event = |event: FleetEvent<'_>| progress.event(event);
    let (verb, report) = match &cli.command {
        Command::Upgrade { target, resume, uncertain, one_transaction, .. } => {
            let options =
                RunOptions { resume: *resume, uncertain: uncertain.map(Into::into), one_transaction: *one_transaction };
            let action = |url: &DatabaseUrl, db: &DatabaseConfig, on: &mut dyn FnMut(Event<'_>)| {
                command::upgrade(url, db, target, &options, on).map(ran)
            };
            ("upgrade", run_fleet(&members, fleet_options, action, on_event))
        }
        Command::Downgrade { target, resume, uncertain, one_transaction, .. } => {
            let options =
                RunOptions { resume: *resume, uncertain: uncertain.map(Into::into), one_transaction: *one_transaction };
            let action = |url: &DatabaseUrl, db: &DatabaseConfig, on: &mut dyn FnMut(Event<'_>)| {
                command::downgrade(url, db, target, &options, on).map(ran)
            };
            ("downgrade", run_fleet(&members, fleet_options, action, on_event))
        }
        Command::Current { check_heads, .. } => {
            let action = |url: &DatabaseUrl, db: &DatabaseConfig, _: &mut dyn FnMut(Event<'_>)| {
                let status = command::current(url, db)?;
                let problem = status.partial.is_some() || !status.tampered.is_empty();
                let note = match (&status.partial, status.tampered.is_empty(), status.at_heads) {
                    (Some(p), _, _) => format!("{} partly applied", p.revision),
                    (None, false, _) => format!("edited since applied: {}", status.tampered.join(", ")),
                    (None, true, true) => "at the heads".to_string(),
                    (None, true, false) => "not at the heads".to_string(),
                };
                Ok(Done {
                    applied: Vec::new(),
                    heads: status.heads.into_iter().map(|h| h.revision).collect(),
                    found: problem || (*check_heads && !status.at_heads),
                    note: Some(note),
                })
            };
            ("current", run_fleet(&members, fleet_options, action, on_event))
        }
        Command::Check { .. } => {
            let action = |url: &DatabaseUrl, db: &DatabaseConfig, _: &mut dyn FnMut(Event<'_>)| {
                let drift = command::check(url, db)?;
                let ops = drift.diff.upgrade.len();
                let note = match (drift.in_sync, ops) {
                    (true, _) => "matches the models".to_string(),
                    (false, 0) => format!("edited since applied: {}", drift.tampered.join(", ")),
                    (false, 1) => "1 op from the models".to_string(),
                    (false, n) => format!("{n} ops from the models"),
                };
                Ok(Done { found: !drift.in_sync, note: Some(note), ..Done::default() })
            };
            ("check", run_fleet(&members, fleet_options, action, on_event))
        }
        Command::Stamp { revisions, purge, accept_edits, .. } => {
            let action = |url: &DatabaseUrl, db: &DatabaseConfig, _: &mut dyn FnMut(Event<'_>)| {
                let heads = command::stamp(url, db, revisions, *purge, *accept_edits)?;
                Ok(Done { heads, ..Done::default() })
            };
            ("stamp", run_fleet(&members, fleet_options, action, on_event))
        }
        _ => unreachable!("only commands with FleetArgs come here"),
    };
    progress.finish();
    summary(out, verb, &report, from_file);
    Ok(report.exit_code())
}

fn ran(report: RunReport) -> Done {
    Done {
        applied: report.steps.into_iter().map(|s| s.revision).collect(),
        heads: report.heads,
        found: false,
        note: None,
    }
}

/// The databases to act on, and whether they come from a list file.
fn members(cli: &Cli, fleet: &FleetArgs) -> Result<(Vec<Member>, bool), Error> {
    let config = load_config(cli)?;
    let env = |name: &str| std::env::var(name).ok();
    if let Some(path) = &fleet.databases {
        // The settings (script location, version table) every listed database shares.
        let database = config.database(cli.name.as_deref())?;
        let listed = migrate::config::read_database_list(path, env)?;
        let members = listed
            .into_iter()
            .map(|l| Member {
                name: format!("{}:{}", path.display(), l.line),
                url: Ok(l.url),
                database: database.clone(),
            })
            .collect();
        return Ok((members, true));
    }
    if cli.name.is_some() {
        return Err(Error::Usage("--all acts on every database of [databases]: --name picks one".into()));
    }
    let names = config.database_names();
    if names.is_empty() {
        let file = config.path.as_ref().map_or("migrate.toml".to_string(), |p| p.display().to_string());
        return Err(Error::Usage(format!(
            "--all: {file} has no [databases] section; name the databases there or list their URLs in --databases FILE"
        )));
    }
    let mut members = Vec::new();
    for name in names {
        let database = config.database(Some(name))?;
        let url = config
            .resolve_url(&database, None, env)
            .map_err(Error::from)
            .and_then(|u| DatabaseUrl::parse(&u).map_err(Error::from))
            .map_err(|e| ErrorReport::from(&e));
        members.push(Member { name: name.to_string(), url, database });
    }
    Ok((members, false))
}

/// One line per database on a terminal: a spinner while it runs, then its
/// outcome; a bar of databases done below them.
struct FleetProgress {
    multi: Option<(MultiProgress, ProgressBar)>,
    lines: Mutex<HashMap<usize, ProgressBar>>,
    /// What each database is called on screen.
    labels: Vec<String>,
}

impl FleetProgress {
    fn new(quiet: bool, labels: Vec<String>) -> Self {
        let total = labels.len();
        let active = !quiet && std::io::stderr().is_terminal();
        let multi = active.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} databases {elapsed}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            (multi, overall)
        });
        FleetProgress { multi, lines: Mutex::new(HashMap::new()), labels }
    }

    fn event(&self, event: FleetEvent<'_>) {
        let Some((multi, overall)) = &self.multi else { return };
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            FleetEvent::Started { index, .. } => {
                let line = multi.insert_before(overall, ProgressBar::new_spinner());
                line.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {wide_msg}").expect("a valid template"),
                );
                line.set_prefix(self.labels.get(index).cloned().unwrap_or_default());
                line.set_message("connecting");
                line.enable_steady_tick(Duration::from_millis(120));
                lines.insert(index, line);
            }
            FleetEvent::Step { index, event: Event::Started { index: i, total, step } } => {
                if let Some(line) = lines.get(&index) {
                    line.set_message(format!("{} {} ({}/{total})", step.revision, step.message, i + 1));
                }
            }
            FleetEvent::Step { .. } => {}
            FleetEvent::Finished { index, outcome } => {
                if let Some(line) = lines.remove(&index) {
                    line.finish_and_clear();
                }
                let label = self.labels.get(index).unwrap_or(&outcome.name);
                let _ = multi.println(format!("  {label} {}", outcome_text(outcome)));
                overall.inc(1);
            }
        }
    }

    fn finish(&self) {
        if let Some((_, overall)) = &self.multi {
            overall.finish_and_clear();
        }
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Found => "found",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
    }
}

/// The one-line result of a database: outcome, revisions applied, time, error.
fn outcome_text(d: &DatabaseOutcome) -> String {
    let detail = d.error.as_ref().map(|e| first_line(&e.message)).or_else(|| d.note.clone()).unwrap_or_default();
    format!("{} {} ({:.0} ms) {detail}", outcome_word(d.outcome), applied_text(d), d.elapsed_ms)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn applied_text(d: &DatabaseOutcome) -> String {
    match d.applied.len() {
        0 => "-".to_string(),
        1 => "1 revision".to_string(),
        n => format!("{n} revisions"),
    }
}

/// The summary: a table of every database, then a line of counts naming
/// the databases that failed; or the report as JSON.
fn summary(out: &Output, verb: &str, report: &FleetReport, from_file: bool) {
    if out.json() {
        return out.print_json(&serde_json::json!({
            "command": verb,
            "databases": report.databases,
            "ok": report.ok,
            "found": report.found,
            "failed": report.failed,
            "skipped": report.skipped,
            "elapsed_ms": report.elapsed_ms,
        }));
    }
    // A listed database is shown by its (redacted) URL, a named one by its name.
    let label = |d: &DatabaseOutcome| match (&d.database, from_file) {
        (Some(url), true) => url.clone(),
        _ => d.name.clone(),
    };
    let rows: Vec<[String; 5]> = report
        .databases
        .iter()
        .map(|d| {
            let detail = match (&d.error, &d.note, d.heads.is_empty()) {
                // One line per database: a multi-line message (an edited file's diff) is in --json.
                (Some(e), _, _) => first_line(&e.message),
                (None, Some(note), _) => note.clone(),
                (None, None, false) => format!("at {}", d.heads.join(", ")),
                (None, None, true) => "at base".to_string(),
            };
            [label(d), outcome_word(d.outcome).to_string(), applied_text(d), format!("{:.0} ms", d.elapsed_ms), detail]
        })
        .collect();
    let header = ["DATABASE", "OUTCOME", "APPLIED", "TIME", "DETAIL"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for (n, row) in std::iter::once(&header).chain(&rows).enumerate() {
        let outcome = format!("{:w$}", row[1], w = widths[1]);
        let outcome = match row[1].as_str() {
            _ if n == 0 => out.bold(&outcome),
            "ok" => out.green(&outcome),
            "failed" => out.red(&outcome),
            _ => out.yellow(&outcome),
        };
        text.push_str(&format!(
            "{:w0$}  {outcome}  {:w2$}  {:>w3$}  {}\n",
            row[0],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w2 = widths[2],
            w3 = widths[3]
        ));
    }
    let total = report.databases.len();
    text.push_str(&format!(
        "{verb}: {} of {total} database{} ok in {:.1} s",
        report.ok,
        if total == 1 { "" } else { "s" },
        report.elapsed_ms / 1000.0
    ));
    if report.found > 0 {
        text.push_str(&format!(", {} found something", report.found));
    }
    if report.failed > 0 {
        let failed: Vec<String> = report.databases.iter().filter(|d| d.outcome == Outcome::Failed).map(label).collect();
        text.push_str(&format!(", {} failed: {}", report.failed, failed.join(", ")));
    }
    if report.skipped > 0 {
        text.push_str(&format!(", {} skipped (--fail-fast)", report.skipped));
    }
    text.push('\n');
    out.text(&text);
}
