//! The `migrate` command line as a library function: argument parsing,
//! dispatch, and turning errors into one line and an exit code. The
//! `migrate` binary is [`main`]; an application can build its own migrator
//! binary on [`run`] (see `docs/embedding.md`).

mod check;
mod inspect;
mod models;
mod output;
mod progress;
mod revisions;

use clap::{Parser, Subcommand};
use migrate::Error;
use migrate::config::Config;
use migrate::db::{DatabaseUrl, Redactor};
use output::{Failure, Output};
use std::path::PathBuf;
use std::process::ExitCode;

/// `--uncertain`: what an interrupted statement did.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum UncertainArg {
    /// It took effect: resume after it
    Done,
    /// It did not: run it again
    Redo,
}

impl From<UncertainArg> for migrate::command::Uncertain {
    fn from(arg: UncertainArg) -> Self {
        match arg {
            UncertainArg::Done => migrate::command::Uncertain::Done,
            UncertainArg::Redo => migrate::command::Uncertain::Redo,
        }
    }
}

/// Schema migrations for PostgreSQL, MariaDB/MySQL and SQLite.
#[derive(Debug, Parser)]
#[command(name = "migrate", version, about, max_term_width = 100)]
struct Cli {
    /// Configuration file [default: ./migrate.toml]
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which database of a multi-database migrate.toml to act on
    #[arg(short, long, global = true)]
    name: Option<String>,
    /// Database URL; overrides DATABASE_URL (DATABASE_URL_<NAME> with --name), .env and migrate.toml
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// One JSON document on stdout, for success and errors
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing but errors
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create migrate.toml, migrations/ and models/ from a template
    Init {
        /// Folder to create the project in
        #[arg(default_value = ".")]
        directory: PathBuf,
        /// Template to use (see `migrate list-templates`)
        #[arg(short, long, default_value = "generic")]
        template: String,
    },
    /// List the templates `migrate init` can use
    ListTemplates,
    /// Print the live database's schema as reflected
    Inspect,
    /// Write a new revision file on top of the current head
    Revision {
        /// What the revision does
        #[arg(short, long)]
        message: String,
        /// Revision to build on [default: head]; `base` starts a new root
        #[arg(long, value_name = "REV")]
        head: Option<String>,
        /// Allow --head to name a revision that is not a head (starts a branch)
        #[arg(long)]
        splice: bool,
        /// Label for the branch this revision starts (repeatable)
        #[arg(long = "branch-label", value_name = "LABEL")]
        branch_labels: Vec<String>,
        /// Revision or branch label that must be applied first (repeatable)
        #[arg(long = "depends-on", value_name = "REV")]
        depends_on: Vec<String>,
        /// Use this id instead of a random one (letters, digits, _; at most 32)
        #[arg(long, value_name = "ID")]
        rev_id: Option<String>,
        /// Version folder to write to (one of version_paths in migrate.toml)
        #[arg(long, value_name = "DIR")]
        version_path: Option<PathBuf>,
        /// Fill the revision with the ops that make the database match the models
        #[arg(long)]
        autogenerate: bool,
        /// With --autogenerate, write the revision even when nothing changed
        #[arg(long, requires = "autogenerate")]
        allow_empty: bool,
    },
    /// Exit 1 when the database and the models differ, showing how (the CI step)
    Check {
        /// Apply every revision to this empty database (without URL: a temporary one) and compare it instead
        #[arg(long, value_name = "URL", num_args = 0..=1)]
        shadow: Option<Option<String>>,
    },
    /// Flag destructive or risky ops in revision files
    Lint {
        /// Revisions to lint: A:B, A:, :B [default: all]
        #[arg(short = 'r', long, value_name = "RANGE")]
        rev_range: Option<String>,
        /// Exit 1 when a finding of this level or higher is found
        #[arg(long, value_name = "LEVEL", value_parser = ["warning", "error"])]
        error_on: Option<String>,
        /// Dialect to lint for when no database URL is configured
        #[arg(long, value_name = "NAME")]
        dialect: Option<String>,
    },
    /// Apply revisions up to TARGET (head, heads, an id, label@head, +N, ...)
    Upgrade {
        /// Target; with --sql, a range FROM:TO
        #[arg(default_value = "head", allow_negative_numbers = true)]
        target: String,
        /// Print the SQL instead of running it (no database needed)
        #[arg(long)]
        sql: bool,
        /// Dialect for --sql when no database URL is configured
        #[arg(long, value_name = "NAME")]
        dialect: Option<String>,
        /// Finish a revision a failure or crash left partly applied (MariaDB/MySQL), then go on
        #[arg(long)]
        resume: bool,
        /// With --resume: whether the statement a crash interrupted took effect, where the schema cannot tell
        #[arg(long, value_enum, requires = "resume")]
        uncertain: Option<UncertainArg>,
        /// Run all revisions in one transaction (PostgreSQL, SQLite)
        #[arg(long)]
        one_transaction: bool,
    },
    /// Undo revisions down to TARGET (base, an id, -N, label@-N, ...)
    Downgrade {
        /// Target; with --sql, a range FROM:TO
        #[arg(allow_negative_numbers = true)]
        target: String,
        /// Print the SQL instead of running it (no database needed)
        #[arg(long)]
        sql: bool,
        /// Dialect for --sql when no database URL is configured
        #[arg(long, value_name = "NAME")]
        dialect: Option<String>,
        /// Finish a revision a failed or interrupted downgrade left partly undone (MariaDB/MySQL), then go on
        #[arg(long)]
        resume: bool,
        /// With --resume: whether the statement a crash interrupted took effect, where the schema cannot tell
        #[arg(long, value_enum, requires = "resume")]
        uncertain: Option<UncertainArg>,
        /// Run all revisions in one transaction (PostgreSQL, SQLite)
        #[arg(long)]
        one_transaction: bool,
    },
    /// Show the revisions the database is at
    Current {
        /// Exit 1 unless the database is at the script's heads
        #[arg(long)]
        check_heads: bool,
    },
    /// List revisions, newest first
    History {
        /// Range: A:B, A:, :B
        #[arg(short = 'r', long, value_name = "RANGE")]
        rev_range: Option<String>,
        /// Show every detail
        #[arg(short, long)]
        verbose: bool,
        /// Mark the revisions the database is at (needs the database)
        #[arg(short = 'i', long)]
        indicate_current: bool,
    },
    /// List the heads of the revision graph
    Heads {
        /// Show every detail
        #[arg(short, long)]
        verbose: bool,
    },
    /// List the branch points of the revision graph
    Branches {
        /// Show every detail
        #[arg(short, long)]
        verbose: bool,
    },
    /// Show one revision's file
    Show {
        /// Revision id, prefix, label, or head
        revision: String,
    },
    /// Set the version table to REVS without running anything
    Stamp {
        /// Revisions (or head, heads, base)
        #[arg(required = true, allow_negative_numbers = true)]
        revisions: Vec<String>,
        /// Empty the version table first
        #[arg(long)]
        purge: bool,
        /// Record the current checksum of these applied revisions, accepting edits to their files
        #[arg(long)]
        accept_edits: bool,
    },
    /// Write a revision that merges REVS (e.g. `heads`)
    Merge {
        /// Revisions to merge
        #[arg(required = true)]
        revisions: Vec<String>,
        /// What the merge is for
        #[arg(short, long)]
        message: String,
        /// Use this id instead of a random one
        #[arg(long, value_name = "ID")]
        rev_id: Option<String>,
    },
    /// Open a revision file in $EDITOR
    Edit {
        /// Revision id, prefix, label, or head
        revision: String,
    },
    /// Work with the models (`migrate models generate`, `migrate models pull`)
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
}

/// Runs the command line of this process (`std::env::args_os`) and
/// returns the exit code: what the `migrate` binary does.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs the command line `args` (the first is the program's name, as in
/// `std::env::args_os`), printing what `migrate` prints, and returns the
/// exit code (0 success, 1 a check found something, 2 usage or
/// configuration, 3 database; `--help` and `--version` print and give 0).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
    };
    let out = Output::new(cli.json, cli.quiet, redactor(&cli));
    match dispatch(&cli, &out) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let failure = Failure::of(&error);
            out.error(&failure);
            ExitCode::from(failure.exit_code)
        }
    }
}

/// A command line clap refuses: clap's own text, or under `--json` the
/// error document (`--help` and `--version` print as usual).
fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    let json = args.iter().any(|a| a == "--json");
    if !json || !e.use_stderr() {
        // What `clap::Error::exit` prints, without ending the process.
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    let message = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let failure = Failure { code: "usage", exit_code: 2, message, file: None, line: None, hint: None };
    // Arguments may hold a URL: scrub what clap echoes of them.
    let urls: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    Output::new(true, false, Redactor::of_urls(urls.iter().map(String::as_str))).error(&failure);
    ExitCode::from(2)
}

/// Runs the command; the exit code on success (1: a check found something).
fn dispatch(cli: &Cli, out: &Output) -> Result<u8, Error> {
    match &cli.command {
        Command::Init { directory, template } => {
            let created = migrate::template::init(directory, template)?;
            out.created(directory, template, &created);
            Ok(0)
        }
        Command::ListTemplates => {
            out.templates(migrate::template::TEMPLATES);
            Ok(0)
        }
        Command::Inspect => {
            let (url, database) = database_url(cli)?;
            let inspection = migrate::command::inspect(&url, &database.reflection_filter(), database.busy_timeout)?;
            inspect::print(out, &inspection);
            Ok(0)
        }
        Command::Check { shadow } => check::check(cli, shadow.as_ref().map(|s| s.as_deref()), out),
        Command::Lint { rev_range, error_on, dialect } => {
            check::lint(cli, rev_range.as_deref(), error_on.as_deref(), dialect.as_deref(), out)
        }
        Command::Models { command } => models::run(cli, command, out),
        command => revisions::run(cli, command, out),
    }
}

/// Every password the run could see (flags, environment, `.env`,
/// `migrate.toml`), so that nothing printed contains one.
fn redactor(cli: &Cli) -> Redactor {
    let mut urls: Vec<String> = cli.url.iter().cloned().collect();
    if let Command::Check { shadow: Some(Some(shadow)) } = &cli.command {
        urls.push(shadow.clone());
    }
    let variable = migrate::config::URL_VARIABLE;
    urls.extend(
        std::env::vars().filter(|(k, _)| k == variable || k.starts_with(&format!("{variable}_"))).map(|(_, v)| v),
    );
    if let Ok(config) = load_config(cli) {
        urls.extend(config.urls());
    }
    Redactor::of_urls(urls.iter().map(String::as_str))
}

/// The URL to act on, by the documented precedence, and the database's settings.
fn database_url(cli: &Cli) -> Result<(DatabaseUrl, migrate::config::DatabaseConfig), Error> {
    let (config, database) = database_config(cli)?;
    let url = config.resolve_url(&database, cli.url.as_deref(), |name| std::env::var(name).ok())?;
    Ok((DatabaseUrl::parse(&url)?, database))
}

/// The configuration and the chosen database's settings.
fn database_config(cli: &Cli) -> Result<(Config, migrate::config::DatabaseConfig), Error> {
    let config = load_config(cli)?;
    let database = config.database(cli.name.as_deref())?;
    Ok((config, database))
}

/// `migrate.toml` (or `--config`), relative to the working directory.
fn load_config(cli: &Cli) -> Result<Config, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| migrate::config::ConfigError::Read { path: ".".into(), message: e.to_string() })?;
    Ok(Config::load(cli.config.as_deref(), &cwd)?)
}
