//! The revision commands: writing revisions, applying them, and reading the
//! script and the database's state.

use super::output::Output;
use super::progress::Progress;
use super::{Cli, Command, database_config, database_url};
use migrate::Error;
use migrate::command::{self, NewRevision, RevisionInfo, RunOptions, Written};
use migrate::dialect::{self, Dialect};
use migrate::runtime::RunReport;
use migrate::script::Direction;

/// Runs one of the revision commands; the exit code on success.
pub fn run(cli: &Cli, command: &Command, out: &Output) -> Result<u8, Error> {
    match command {
        Command::Revision {
            message,
            head,
            splice,
            branch_labels,
            depends_on,
            rev_id,
            version_path,
            autogenerate,
            allow_empty,
        } => {
            let (_, database) = database_config(cli)?;
            let new = NewRevision {
                message: message.clone(),
                head: head.clone(),
                splice: *splice,
                branch_labels: branch_labels.clone(),
                depends_on: depends_on.clone(),
                rev_id: rev_id.clone(),
                version_path: version_path.clone(),
                ..NewRevision::default()
            };
            if *autogenerate {
                return super::check::autogenerate(cli, new, *allow_empty, out);
            }
            written(out, &command::revision(&database, new)?);
            Ok(0)
        }
        Command::Merge { revisions, message, rev_id } => {
            let (_, database) = database_config(cli)?;
            written(out, &command::merge(&database, revisions, message, rev_id.as_deref())?);
            Ok(0)
        }
        Command::Upgrade { target, sql: true, dialect, .. } => offline(cli, out, Direction::Up, target, dialect),
        Command::Downgrade { target, sql: true, dialect, .. } => offline(cli, out, Direction::Down, target, dialect),
        Command::Upgrade { target, resume, uncertain, one_transaction, .. } => {
            let (url, database) = database_url(cli)?;
            let mut progress = Progress::new(cli.quiet || cli.json);
            let options =
                RunOptions { resume: *resume, uncertain: uncertain.map(Into::into), one_transaction: *one_transaction };
            let report = command::upgrade(&url, &database, target, &options, &mut |e| progress.event(e));
            progress.finish();
            ran(out, Direction::Up, &report?);
            Ok(0)
        }
        Command::Downgrade { target, resume, uncertain, one_transaction, .. } => {
            let (url, database) = database_url(cli)?;
            let mut progress = Progress::new(cli.quiet || cli.json);
            let options =
                RunOptions { resume: *resume, uncertain: uncertain.map(Into::into), one_transaction: *one_transaction };
            let report = command::downgrade(&url, &database, target, &options, &mut |e| progress.event(e));
            progress.finish();
            ran(out, Direction::Down, &report?);
            Ok(0)
        }
        Command::Current { check_heads, .. } => {
            let (url, database) = database_url(cli)?;
            let status = command::current(&url, &database)?;
            if out.json() {
                out.print_json(&status);
            } else {
                let mut text = format!("{}\n", status.database);
                if status.heads.is_empty() {
                    text.push_str("  base: no revision applied\n");
                }
                for head in &status.heads {
                    let mark = if head.is_head { " (head)" } else { "" };
                    let message = head.message.as_deref().unwrap_or("(not in the script)");
                    text.push_str(&format!("  {}{mark} {message}\n", out.bold(&head.revision)));
                }
                if let Some(p) = &status.partial {
                    text.push_str(&partial_text(p, status.partial_op.as_ref()));
                }
                for revision in &status.tampered {
                    text.push_str(&format!("  {revision}: file changed since it was applied\n"));
                }
                if let Some(live) = &status.live {
                    let doing = match (&live.direction, &live.revision) {
                        (Some(d), Some(r)) if d == "down" => format!("downgrading {r}"),
                        (_, Some(r)) => format!("applying {r}"),
                        _ => "planning".to_string(),
                    };
                    let lease = live.lease_until.as_ref().map(|l| format!(", lease until {l} UTC")).unwrap_or_default();
                    text.push_str(&format!(
                        "  a migrate run is live: {doing}, by pid {} on {} since {} UTC{lease}\n",
                        live.pid, live.host, live.since
                    ));
                }
                out.text(&text);
            }
            let problem = status.partial.is_some() || !status.tampered.is_empty();
            Ok(u8::from(problem || (*check_heads && !status.at_heads)))
        }
        Command::History { rev_range, indicate_current } => {
            let (_, database) = database_config(cli)?;
            let revisions = command::history(&database, rev_range.as_deref())?;
            let current: Option<Vec<String>> = if *indicate_current {
                let (url, database) = database_url(cli)?;
                Some(command::current(&url, &database)?.heads.into_iter().map(|h| h.revision).collect())
            } else {
                None
            };
            list(out, &revisions, cli.verbose, current.as_deref());
            Ok(0)
        }
        Command::Heads => {
            let (_, database) = database_config(cli)?;
            list(out, &command::heads(&database)?, cli.verbose, None);
            Ok(0)
        }
        Command::Branches => {
            let (_, database) = database_config(cli)?;
            list(out, &command::branches(&database)?, cli.verbose, None);
            Ok(0)
        }
        Command::Show { revision } => {
            let (_, database) = database_config(cli)?;
            let (info, source) = command::show(&database, revision)?;
            if out.json() {
                out.print_json(&info);
            } else {
                out.text(&format!("# {}\n{source}", info.path.display()));
            }
            Ok(0)
        }
        Command::Stamp { revisions, purge, accept_edits, .. } => {
            let (url, database) = database_url(cli)?;
            let heads = command::stamp(&url, &database, revisions, *purge, *accept_edits)?;
            if out.json() {
                out.print_json(&serde_json::json!({ "heads": heads }));
            } else if *accept_edits {
                out.text(&format!("accepted the edited files of {}\n", revisions.join(", ")));
            } else {
                out.text(&format!("stamped; the database is at {}\n", display_heads(&heads)));
            }
            Ok(0)
        }
        Command::Edit { revision } => {
            let (_, database) = database_config(cli)?;
            let path = command::edit_path(&database, revision)?;
            let editor = std::env::var("VISUAL")
                .or_else(|_| std::env::var("EDITOR"))
                .map_err(|_| Error::Usage(format!("set EDITOR to open {}", path.display())))?;
            let status = std::process::Command::new(&editor)
                .arg(&path)
                .status()
                .map_err(|e| Error::Usage(format!("cannot run editor `{editor}`: {e}")))?;
            if out.json() {
                out.print_json(&serde_json::json!({ "path": path, "editor_succeeded": status.success() }));
            }
            Ok(u8::from(!status.success()))
        }
        Command::Init { .. }
        | Command::ListTemplates
        | Command::Inspect
        | Command::Check { .. }
        | Command::Models { .. }
        | Command::Completions { .. }
        | Command::Database { .. }
        | Command::Lint { .. } => {
            unreachable!("handled by the caller")
        }
    }
}

/// The dialect named by `--dialect`, or else the configured database's.
pub fn chosen_dialect(cli: &Cli, name: &Option<String>) -> Result<Box<dyn Dialect>, Error> {
    match name {
        Some(name) => dialect::by_name(name)
            .ok_or_else(|| Error::Usage(format!("unknown dialect `{name}` (postgresql, mysql, sqlite)"))),
        None => Ok(dialect::for_backend(database_url(cli)?.0.backend())),
    }
}

fn offline(cli: &Cli, out: &Output, direction: Direction, range: &str, name: &Option<String>) -> Result<u8, Error> {
    let dialect = chosen_dialect(cli, name)?;
    let (_, database) = database_config(cli)?;
    let sql = command::offline(&database, dialect.as_ref(), direction, range)?;
    if out.json() {
        // The script inside the one JSON document, so that stdout stays parseable.
        out.print_json(&serde_json::json!({
            "dialect": dialect.name(),
            "direction": direction.as_str(),
            "range": range,
            "sql": sql,
        }));
    } else {
        out.text(&sql);
    }
    Ok(0)
}

/// `current`'s line for a revision left partly applied: what is done, and
/// what failed or which statement a crash left uncertain.
fn partial_text(p: &migrate::runtime::HistoryEntry, op: Option<&migrate::command::PartialOp>) -> String {
    let command = if p.direction == "down" { "downgrade" } else { "upgrade" };
    let total = op.map_or(String::new(), |o| format!(" of {}", o.total));
    let named = op.map_or(format!("op {}", p.ops_done + 1), |o| format!("op {} (`{}`)", o.number, o.label));
    let done = match p.statements_done {
        0 => format!("{}{total} ops done", p.ops_done),
        n => format!("{}{total} ops and {n} statements of {named} done", p.ops_done),
    };
    let then = match (&p.error, p.uncertain) {
        (Some(error), _) => format!("then {named} failed: {error}"),
        (None, true) => format!(
            "interrupted during statement {} of {named}: whether it took effect is uncertain \
             (`migrate {command} --resume` decides it from the schema)",
            p.statements_done + 1
        ),
        (None, false) => format!("interrupted before {named} went further (`migrate {command} --resume` goes on)"),
    };
    format!("  {} is partially applied by {command}: {done}, {then}\n", p.revision)
}

fn display_heads(heads: &[String]) -> String {
    if heads.is_empty() { "base".into() } else { heads.join(", ") }
}

/// Prints what `revision` wrote.
pub fn written(out: &Output, written: &Written) {
    if out.json() {
        return out.print_json(written);
    }
    out.text(&format!(
        "created {} ({} on top of {})\n",
        written.path.display(),
        written.revision,
        display_heads(&written.down_revision)
    ));
}

fn ran(out: &Output, direction: Direction, report: &RunReport) {
    if out.json() {
        return out.print_json(report);
    }
    if report.steps.is_empty() {
        return out.text("nothing to do: the database is already there\n");
    }
    let total: f64 = report.steps.iter().map(|s| s.elapsed_ms).sum();
    let verb = if direction == Direction::Up { "upgraded" } else { "downgraded" };
    let count = report.steps.len();
    out.text(&format!(
        "{verb} {count} revision{} in {total:.0} ms; the database is at {}\n",
        if count == 1 { "" } else { "s" },
        display_heads(&report.heads)
    ));
}

fn list(out: &Output, revisions: &[RevisionInfo], verbose: bool, current: Option<&[String]>) {
    if out.json() {
        /// A revision with, for `history -i`, whether the database is at it.
        #[derive(serde::Serialize)]
        struct Listed<'a> {
            #[serde(flatten)]
            info: &'a RevisionInfo,
            #[serde(skip_serializing_if = "Option::is_none")]
            is_current: Option<bool>,
        }
        let listed: Vec<Listed> = revisions
            .iter()
            .map(|info| Listed { info, is_current: current.map(|c| c.contains(&info.revision)) })
            .collect();
        return out.print_json(&listed);
    }
    let current = current.unwrap_or_default();
    let mut text = String::new();
    for r in revisions {
        let parents = if r.down_revision.is_empty() { "<base>".to_string() } else { r.down_revision.join(", ") };
        let mut marks = Vec::new();
        if r.is_head {
            marks.push("head");
        }
        if r.is_branch_point {
            marks.push("branchpoint");
        }
        if r.is_merge_point {
            marks.push("mergepoint");
        }
        if current.contains(&r.revision) {
            marks.push("current");
        }
        let marks = if marks.is_empty() { String::new() } else { format!(" ({})", marks.join(", ")) };
        text.push_str(&format!("{parents} -> {}{marks}, {}\n", out.bold(&r.revision), r.message));
        if verbose {
            if !r.branch_labels.is_empty() {
                text.push_str(&format!("    branch labels: {}\n", r.branch_labels.join(", ")));
            }
            if !r.depends_on.is_empty() {
                text.push_str(&format!("    depends on: {}\n", r.depends_on.join(", ")));
            }
            if let Some(created) = &r.created_at {
                text.push_str(&format!("    created: {created}\n"));
            }
            text.push_str(&format!(
                "    ops: {} up, {} down\n    file: {}\n",
                r.upgrade_ops,
                r.downgrade_ops,
                r.path.display()
            ));
        }
    }
    out.text(&text);
}
