//! Argument parsing, dispatch, and turning errors into one line and an exit code.

mod inspect;
mod output;

use clap::{Parser, Subcommand};
use migrate::Error;
use migrate::config::Config;
use migrate::db::DatabaseUrl;
use output::Output;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Database URL; overrides DATABASE_URL, .env and migrate.toml
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// Machine-readable JSON on stdout
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
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json, cli.quiet);
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            out.error(&error.to_string(), error.hint());
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: &Cli, out: &Output) -> Result<(), Error> {
    match &cli.command {
        Command::Init { directory, template } => {
            let created = migrate::template::init(directory, template)?;
            out.created(directory, template, &created);
            Ok(())
        }
        Command::ListTemplates => {
            out.templates(migrate::template::TEMPLATES);
            Ok(())
        }
        Command::Inspect => {
            let (url, database) = database_url(cli)?;
            let inspection = migrate::command::inspect(&url, &database.reflection_filter())?;
            inspect::print(out, &inspection);
            Ok(())
        }
    }
}

/// The URL to act on, by the documented precedence, and the database's settings.
fn database_url(cli: &Cli) -> Result<(DatabaseUrl, migrate::config::DatabaseConfig), Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| migrate::config::ConfigError::Read { path: ".".into(), message: e.to_string() })?;
    let config = Config::load(cli.config.as_deref(), &cwd)?;
    let database = config.database(cli.name.as_deref())?;
    let url = config.resolve_url(&database, cli.url.as_deref(), std::env::var("DATABASE_URL").ok())?;
    Ok((DatabaseUrl::parse(&url)?, database))
}
