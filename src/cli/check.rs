//! `check`, `lint` and `revision --autogenerate`: what differs between the
//! database and the models, shown as a diff of the tables concerned.

use super::inspect::{column_widths, table_block_aligned};
use super::output::Output;
use super::revisions::{chosen_dialect, written};
use super::{Cli, database_config, database_url};
use migrate::Error;
use migrate::autogen::{Finding, Level, RenameCandidate};
use migrate::command::{self, Drift, NewRevision};
use migrate::ops::Op;
use migrate::schema::Schema;
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

/// `migrate check`: exit 0 in sync, 1 with a diff when not. `--shadow` alone
/// makes a temporary shadow database.
pub fn check(cli: &Cli, shadow: Option<Option<&str>>, out: &Output) -> Result<u8, Error> {
    let drift = match shadow {
        Some(Some(shadow)) => {
            let (_, database) = database_config(cli)?;
            command::check_shadow(Some(&migrate::db::DatabaseUrl::parse(shadow)?), None, &database)?
        }
        Some(None) => {
            let (url, database) = database_url(cli)?;
            command::check_shadow(None, Some(&url), &database)?
        }
        None => {
            let (url, database) = database_url(cli)?;
            command::check(&url, &database)?
        }
    };
    if out.json() {
        out.print_json(&drift);
    } else if drift.in_sync {
        out.text(&format!("{}: the database matches the models\n", drift.database));
        warn(out, &drift);
    } else {
        out.text(&describe(out, &drift));
    }
    Ok(u8::from(!drift.in_sync))
}

/// `migrate revision --autogenerate`.
pub fn autogenerate(cli: &Cli, new: NewRevision, allow_empty: bool, out: &Output) -> Result<u8, Error> {
    let (url, database) = database_url(cli)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !cli.json;
    let mut confirm = |candidate: &RenameCandidate| interactive && ask(&format!("Did you rename {candidate}?"));
    let generated = command::autogenerate(&url, &database, new, allow_empty, &mut confirm)?;
    if out.json() {
        let (file, drift) = generated.as_ref().map_or((None, None), |(f, d)| (Some(f), Some(d)));
        let ops: Vec<String> = drift.map(|d| d.diff.upgrade.iter().map(Op::label).collect()).unwrap_or_default();
        out.print_json(&serde_json::json!({
            "written": file,
            "ops": ops,
            "findings": drift.map(|d| &d.findings[..]).unwrap_or_default(),
            "possible_renames": drift.map(|d| &d.diff.possible_renames[..]).unwrap_or_default(),
            "warnings": drift.map(|d| &d.diff.warnings[..]).unwrap_or_default(),
        }));
        return Ok(0);
    }
    match generated {
        None => {
            out.text("no changes detected: nothing written\n");
            Ok(0)
        }
        Some((file, drift)) => {
            written(out, &file);
            let mut text = String::new();
            for op in &drift.diff.upgrade {
                text.push_str(&format!("  {}\n", op.label()));
            }
            for finding in &drift.findings {
                text.push_str(&format!("  {}\n", finding_line(out, finding)));
            }
            out.text(&text);
            warn(out, &drift);
            Ok(0)
        }
    }
}

/// `migrate lint`.
pub fn lint(
    cli: &Cli,
    range: Option<&str>,
    error_on: Option<&str>,
    dialect: Option<&str>,
    out: &Output,
) -> Result<u8, Error> {
    let (_, database) = database_config(cli)?;
    let dialect = chosen_dialect(cli, &dialect.map(String::from))?;
    let findings = command::lint_revisions(&database, dialect.as_ref(), range)?;
    if out.json() {
        out.print_json(&findings);
    } else if findings.is_empty() {
        out.text("no risky ops\n");
    } else {
        out.text(&findings.iter().map(|f| finding_line(out, f) + "\n").collect::<String>());
    }
    let threshold: Option<Level> = error_on.map(|l| l.parse().expect("clap checked the level"));
    Ok(u8::from(threshold.is_some_and(|t| findings.iter().any(|f| f.level >= t))))
}

fn finding_line(out: &Output, f: &Finding) -> String {
    let level = match f.level {
        Level::Error => out.red("error"),
        Level::Warning => out.yellow("warning"),
    };
    let revision = f.revision.as_deref().map(|r| format!("{r}: ")).unwrap_or_default();
    format!("{revision}{} {level}: {} ({})", f.code, f.message, f.op)
}

/// Asks a yes/no question on the terminal; no is the default.
fn ask(question: &str) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Warnings to stderr: possible renames emitted as drop and add, and what
/// the ops cannot do.
fn warn(out: &Output, drift: &Drift) {
    for candidate in &drift.diff.possible_renames {
        let hint = match &candidate.table {
            Some(_) => format!("renamed_from = \"{}\" on the column", candidate.from),
            None => format!("renamed_from = \"{}\" on the table", candidate.from),
        };
        let (from, to) = match &candidate.table {
            Some(table) => (format!("{table}.{}", candidate.from), format!("{table}.{}", candidate.to)),
            None => (candidate.from.clone(), candidate.to.clone()),
        };
        out.warning(&format!(
            "dropped {from} and added {to} of the same shape: if that is a rename, add {hint} in the \
             models (or answer the question on a terminal); as written, the data is lost"
        ));
    }
    for warning in drift.diff.warnings.iter().chain(&drift.diff.lossy) {
        out.warning(warning);
    }
}

/// The ops, the lint findings, and a diff of each table concerned.
fn describe(out: &Output, drift: &Drift) -> String {
    let mut text = format!("{}: the database differs from the models\n", drift.database);
    if !drift.tampered.is_empty() {
        text.push_str(&format!(
            "\napplied revisions changed since they were applied: {} (see `migrate stamp --accept-edits`)\n",
            drift.tampered.join(", ")
        ));
    }
    if !drift.diff.upgrade.is_empty() {
        text.push_str("\nto make the database match:\n");
        for op in &drift.diff.upgrade {
            text.push_str(&format!("  {}\n", op.label()));
        }
    }
    for warning in drift.diff.warnings.iter().chain(&drift.diff.lossy) {
        text.push_str(&format!("  {} {warning}\n", out.yellow("warning:")));
    }
    for candidate in &drift.diff.possible_renames {
        text.push_str(&format!(
            "  {} possible rename of {candidate}: mark it with renamed_from in the models\n",
            out.yellow("note:")
        ));
    }
    for finding in &drift.findings {
        text.push_str(&format!("  {}\n", finding_line(out, finding)));
    }
    let tables: BTreeSet<&str> = drift
        .diff
        .upgrade
        .iter()
        .flat_map(|op| match op {
            Op::RenameTable { from, to } => vec![from.as_str(), to.as_str()],
            op => op.table_name().into_iter().collect(),
        })
        .collect();
    // Both versions of a table aligned alike, so that only what changed differs.
    let widths = |name: &str| {
        let both = [&drift.database_schema, &drift.models_schema].map(|s| s.table(name).map(column_widths));
        let [a, b] = both.map(Option::unwrap_or_default);
        [a[0].max(b[0]), a[1].max(b[1])]
    };
    let render = |schema: &Schema| {
        let tables = schema.tables.iter().filter(|t| tables.contains(t.name.as_str()));
        tables.map(|t| table_block_aligned(&Output::plain(), t, widths(&t.name)) + "\n").collect::<String>()
    };
    let (before, after) = (render(&drift.database_schema), render(&drift.models_schema));
    if before != after {
        text.push_str(&format!("\n{} database\n{} models\n", out.red("---"), out.green("+++")));
        let diff = similar::TextDiff::from_lines(&before, &after);
        for change in diff.iter_all_changes() {
            let line = change.to_string_lossy();
            text.push_str(&match change.tag() {
                similar::ChangeTag::Delete => out.red(&format!("-{line}")),
                similar::ChangeTag::Insert => out.green(&format!("+{line}")),
                similar::ChangeTag::Equal => format!(" {line}"),
            });
        }
    }
    text
}
