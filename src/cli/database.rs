//! `migrate database create|drop|reset`: the configured database itself.

use super::output::Output;
use super::progress::Progress;
use super::{Cli, database_url};
use migrate::Error;
use migrate::command::{self, RunOptions};

/// `migrate database` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DatabaseCommand {
    /// Create the empty database the URL names (SQLite: the file)
    Create,
    /// Drop the database the URL names, with everything in it (SQLite: delete the file)
    Drop {
        /// Really drop it
        #[arg(long)]
        yes: bool,
    },
    /// Drop the database, create it again and upgrade it to head
    Reset {
        /// Really drop it
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `database` subcommand on the URL given or configured, and no other.
pub fn run(cli: &Cli, command: &DatabaseCommand, out: &Output) -> Result<u8, Error> {
    let (url, database) = database_url(cli)?;
    let refuse = |verb: &str| {
        Error::Usage(format!("{verb} deletes {url} with all its data: pass --yes to do it (nothing was changed)"))
    };
    match command {
        DatabaseCommand::Create => {
            command::create_database(&url)?;
            if out.json() {
                out.print_json(&serde_json::json!({ "database": url.to_string(), "created": true }));
            } else {
                out.text(&format!("created {url}\n"));
            }
        }
        DatabaseCommand::Drop { yes } => {
            if !yes {
                return Err(refuse("database drop"));
            }
            command::drop_database(&url)?;
            if out.json() {
                out.print_json(&serde_json::json!({ "database": url.to_string(), "dropped": true }));
            } else {
                out.text(&format!("dropped {url}\n"));
            }
        }
        DatabaseCommand::Reset { yes } => {
            if !yes {
                return Err(refuse("database reset"));
            }
            // The revisions are read before anything is dropped: a broken file stops it here.
            command::load_script(&database)?;
            command::drop_database(&url)?;
            command::create_database(&url)?;
            let mut progress = Progress::new(cli.quiet || cli.json);
            let report = command::upgrade(&url, &database, "head", &RunOptions::default(), &mut |e| progress.event(e));
            progress.finish();
            let report = report?;
            if out.json() {
                out.print_json(&serde_json::json!({
                    "database": url.to_string(),
                    "dropped": true,
                    "created": true,
                    "upgrade": report,
                }));
            } else {
                out.text(&format!(
                    "dropped and created {url}; upgraded {} revision{}: the database is at {}\n",
                    report.steps.len(),
                    if report.steps.len() == 1 { "" } else { "s" },
                    if report.heads.is_empty() { "base".to_string() } else { report.heads.join(", ") }
                ));
            }
        }
    }
    Ok(0)
}
